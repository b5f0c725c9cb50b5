# ruff: noqa: E501  (tables of exact error sentences read best one per line)
"""IPC frames: round trips, streaming reassembly and exact errors."""

from __future__ import annotations

import contextlib
import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sip.bridge import LegMode
from gateway.sip.errors import MessageError
from gateway.sip.messages import (
    AnswerCall,
    AnyMessage,
    AudioFrame,
    CallEnded,
    DtmfReceived,
    IncomingCall,
    MakeCall,
    MediaLost,
    MessageDecoder,
    Ping,
    RejectCall,
    SetMode,
    Shutdown,
    WorkerReady,
    decode_frame,
    encode,
)

INCOMING = IncomingCall(
    call_id="w0c1",
    from_uri="<sip:phone@10.0.0.5>;tag=1",
    to_uri="<sip:gateway@10.0.0.1>",
    remote_address="10.0.0.5:5060",
    headers=(("Via", "SIP/2.0/UDP 10.0.0.5"), ("x-alarm-id", " A-17 ")),
    offered_codecs=("G722/8000", "PCMU/8000"),
    sip_call_id="abc@10.0.0.5",
)

SAMPLES: list[AnyMessage] = [
    INCOMING,
    WorkerReady(0, 5070, 1234),
    AnswerCall("w0c1", "A-17"),
    RejectCall("w0c1", 403, "Forbidden"),
    MakeCall("op1", "sip:op@10.0.0.9", (("Answer-Mode", "Auto"),), join="w0c1", mode=LegMode.TALK),
    SetMode("w0c1", "op1", LegMode.WHISPER),
    MakeCall("ma2", "sip:manager@10.0.0.7", phone=False),
    DtmfReceived("ma2", "1"),
    DtmfReceived("ma2", "#"),
    CallEnded("w0c1", 200, "Normal call clearing"),
    MediaLost("w0c1", 5.0),
    Ping(7),
    Shutdown(),
    AudioFrame("w0c1", 16000, bytes(range(256)) * 2 + bytes(128)),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: AnyMessage) -> None:
    decoder = MessageDecoder()
    assert decoder.feed(encode(message)) == [message]


def test_byte_by_byte_stream() -> None:
    data = b"".join(encode(m) for m in SAMPLES)
    decoder = MessageDecoder()
    out = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))
    assert out == SAMPLES


def test_audio_is_binary_not_json() -> None:
    frame = encode(AudioFrame("c", 8000, bytes(320)))
    assert len(frame) == 4 + 1 + 1 + 1 + 4 + 320


def test_incoming_call_header_lookup() -> None:
    assert INCOMING.alarm_id == "A-17"
    assert INCOMING.header("VIA") == "SIP/2.0/UDP 10.0.0.5"
    assert INCOMING.header("Route") is None


def control(payload: object) -> bytes:
    return b"\x00" + json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x07", "unknown frame kind 7"),
        (b"\x00{", "control frame is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (control([1]), "control frame must be a JSON object"),
        (control({"type": "Nope"}), "unknown message type 'Nope'"),
        (control({"type": "Ping"}), "Ping: Ping.__init__() missing 1 required positional argument: 'nonce'"),
        (control({"type": "Ping", "nonce": "x"}), "Ping.nonce: expected int, got str"),
        (control({"type": "Ping", "nonce": True}), "Ping.nonce: expected int, got bool"),
        (control({"type": "Ping", "nonce": 1, "x": 2}), "Ping has no field 'x'"),
        (control({"type": "RejectCall", "call_id": "c", "code": 200}), "RejectCall.code must be a final SIP status 300-699, got 200"),
        (control({"type": "SetMode", "phone_id": "p", "leg_id": "l", "mode": "shout"}), "SetMode.mode: 'shout' is not a valid LegMode"),
        (control({"type": "MakeCall", "call_id": "c", "uri": "u", "headers": [["a"]]}), "MakeCall.headers: expected 2 items, got 1"),
        (control({"type": "DtmfReceived", "call_id": "c", "digit": "12"}), "DtmfReceived.digit must be one of 0123456789*#ABCD, got '12'"),
        (control({"type": "DtmfReceived", "call_id": "c", "digit": "x"}), "DtmfReceived.digit must be one of 0123456789*#ABCD, got 'x'"),
        (control({"type": "DtmfReceived", "call_id": "c", "digit": ""}), "DtmfReceived.digit must be one of 0123456789*#ABCD, got ''"),
        (control({"type": "DtmfReceived", "call_id": "c", "digit": 1}), "DtmfReceived.digit: expected str, got int"),
        (control({"type": "MakeCall", "call_id": "c", "uri": "u", "phone": "no"}), "MakeCall.phone: expected bool, got str"),
        (b"\x01\x05ab", "audio frame is truncated"),
        (b"\x01\x01c" + struct.pack(">I", 11025) + b"\x00\x00", "AudioFrame.rate must be one of (8000, 16000, 48000), got 11025"),
        (b"\x01\x01c" + struct.pack(">I", 8000) + b"\x00", "AudioFrame.pcm must hold whole s16 samples, got 1 bytes"),
    ],
)  # fmt: skip
def test_bad_frames_name_the_problem(body: bytes, error: str) -> None:
    with pytest.raises(MessageError) as info:
        decode_frame(body)
    assert str(info.value) == error


def test_messages_before_a_bad_frame_are_delivered_first() -> None:
    decoder = MessageDecoder()
    decoder.receive(encode(Ping(1)) + encode(Ping(2)) + b"\x00\x00\x00\x01\x09")
    received: list[AnyMessage] = []
    with pytest.raises(MessageError, match=r"^unknown frame kind 9$"):
        received.extend(decoder.messages())
    assert received == [Ping(1), Ping(2)]


def test_oversized_frame_is_refused_before_buffering() -> None:
    with pytest.raises(MessageError, match=r"^frame length 1000000 outside 1-262144$"):
        MessageDecoder().feed(struct.pack(">I", 1_000_000))


@given(st.binary(max_size=64))
def test_garbage_never_crashes_otherwise(data: bytes) -> None:
    with contextlib.suppress(MessageError):
        MessageDecoder().feed(data)
