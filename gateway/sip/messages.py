"""The protocol between the SIP supervisor and its pjsua2 worker processes.

Messages travel over the worker's stdin (supervisor -> worker) and stdout
(worker -> supervisor) as length-prefixed frames::

    u32 length (big endian, of what follows) | u8 kind | payload

``kind`` 0 is a control message: UTF-8 JSON ``{"type": <class name>, <fields>}``.
``kind`` 1 is 20 ms of audio, kept binary so no frame is ever JSON-encoded::

    u8 call id length | call id (ASCII) | u32 sample rate | s16le mono PCM

Sans-I/O: :func:`encode` gives bytes, :class:`MessageDecoder` turns received bytes
into messages. Both sides validate every field; a bad frame raises
:class:`MessageError` naming what is wrong.
"""

from __future__ import annotations

import json
import struct
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, ClassVar, Union

from gateway.sip.bridge import LegMode
from gateway.sip.errors import MessageError

MAX_FRAME = 256 * 1024
"""Largest frame accepted; an INVITE with all its headers is a few kB."""

_HEADER = struct.Struct(">IB")
_RATE = struct.Struct(">I")
_CONTROL = 0
_AUDIO = 1
SAMPLE_RATES = (8000, 16000, 48000)

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every control message."""


# --- worker -> supervisor -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerReady(Message):
    """The worker's endpoint is up and takes calls."""

    index: int
    sip_port: int
    """The UDP port actually bound (the configured one, or the one the OS chose for 0)."""
    pid: int


@dataclass(frozen=True, slots=True)
class IncomingCall(Message):
    """A phone's INVITE, held at 180 Ringing until the supervisor decides."""

    call_id: str
    from_uri: str
    to_uri: str
    remote_address: str
    """Where the INVITE came from, ``host:port``."""
    headers: Headers
    """Every header of the INVITE in order, names as sent."""
    offered_codecs: tuple[str, ...]
    """From the SDP offer, e.g. ``("PCMU/8000", "G722/8000")`` (G.722 says 8000 in SDP)."""
    sip_call_id: str
    """The SIP Call-ID header, for correlating with edge proxy logs."""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def alarm_id(self) -> str | None:
        """``X-Alarm-Id`` as sent by a phone answering its own HTTP alarm."""
        value = (self.header("X-Alarm-Id") or "").strip()
        return value or None


@dataclass(frozen=True, slots=True)
class CallAnswered(Message):
    """Media is flowing: the call was answered (either side) and a codec chosen."""

    call_id: str
    codec: str
    """e.g. ``G722/16000`` or ``PCMU/8000``."""


@dataclass(frozen=True, slots=True)
class CodecChanged(Message):
    """The call's codec changed after answering (our wideband re-offer, or the phone's)."""

    call_id: str
    codec: str


@dataclass(frozen=True, slots=True)
class MediaLost(Message):
    """No RTP received from the peer for ``silent_for`` seconds."""

    call_id: str
    silent_for: float


@dataclass(frozen=True, slots=True)
class MediaResumed(Message):
    """RTP from the peer is arriving again after a :class:`MediaLost`."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallEnded(Message):
    """The call is gone: hung up, rejected, failed or never answered."""

    call_id: str
    code: int
    """Last SIP status (200 for a normal hang-up of an answered call)."""
    reason: str


@dataclass(frozen=True, slots=True)
class ModeApplied(Message):
    """The bridge links for ``leg_id`` in ``phone_id``'s conference are in place."""

    phone_id: str
    leg_id: str
    mode: LegMode


@dataclass(frozen=True, slots=True)
class CommandFailed(Message):
    """A command could not be carried out; ``call_id`` names the call it was about."""

    call_id: str
    reason: str


DTMF_DIGITS = "0123456789*#ABCD"
"""The 16 keys of RFC 4733 telephone-events 0-15 (and of SIP INFO dtmf-relay)."""


@dataclass(frozen=True, slots=True)
class DtmfReceived(Message):
    """The far end pressed a key (RFC 2833/4733 telephone-event or SIP INFO)."""

    call_id: str
    digit: str

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in DTMF_DIGITS:
            raise MessageError(
                f"DtmfReceived.digit must be one of {DTMF_DIGITS}, got {self.digit!r}"
            )


@dataclass(frozen=True, slots=True)
class Pong(Message):
    """Answer to :class:`Ping`, with the worker's number of live calls."""

    nonce: int
    calls: int
    frames_dropped: int = 0
    """Caller audio frames dropped since the worker started, main not reading them."""


# --- supervisor -> worker -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerCall(Message):
    """Auto-answer this incoming call with 200 OK."""

    call_id: str
    alarm_id: str


@dataclass(frozen=True, slots=True)
class RejectCall(Message):
    """Refuse this incoming call with a final SIP status, e.g. 403 (401 with a challenge)."""

    call_id: str
    code: int
    reason: str = ""
    headers: Headers = ()

    def __post_init__(self) -> None:
        if not 300 <= self.code <= 699:
            raise MessageError(
                f"RejectCall.code must be a final SIP status 300-699, got {self.code}"
            )


@dataclass(frozen=True, slots=True)
class MakeCall(Message):
    """Place an outbound call: a callback to a phone, or an operator leg joining ``join``."""

    call_id: str
    uri: str
    headers: Headers = ()
    join: str | None = None
    """Phone call id whose conference the new leg joins once answered."""
    mode: LegMode = LegMode.LISTEN
    """Mode of the leg in ``join``'s conference (ignored when ``join`` is None)."""
    phone: bool = True
    """False for a call to a person who is not an alarm's phone (a manager): it takes
    none of the worker's phone slots. Ignored for legs (``join`` set), never phones."""


@dataclass(frozen=True, slots=True)
class SetMode(Message):
    """Change what an operator leg hears and who hears it."""

    phone_id: str
    leg_id: str
    mode: LegMode


@dataclass(frozen=True, slots=True)
class Hangup(Message):
    """End a call (BYE, CANCEL or a final response, whichever fits its state)."""

    call_id: str
    code: int = 603


@dataclass(frozen=True, slots=True)
class Ping(Message):
    """Health check; the worker answers :class:`Pong` with the same nonce."""

    nonce: int


@dataclass(frozen=True, slots=True)
class Shutdown(Message):
    """Hang up every call, release pjsua2 cleanly and exit."""


# --- both ways ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """20 ms of s16le mono PCM: caller audio to main, or main's audio to the caller."""

    call_id: str
    rate: int
    pcm: bytes

    MAX_ID: ClassVar[int] = 255

    def __post_init__(self) -> None:
        if self.rate not in SAMPLE_RATES:
            raise MessageError(f"AudioFrame.rate must be one of {SAMPLE_RATES}, got {self.rate}")
        if len(self.pcm) % 2:
            raise MessageError(
                f"AudioFrame.pcm must hold whole s16 samples, got {len(self.pcm)} bytes"
            )
        if not 0 < len(self.call_id.encode()) <= self.MAX_ID:
            raise MessageError("AudioFrame.call_id must be 1-255 bytes")


AnyMessage = Message | AudioFrame

_TYPES: dict[str, type[Message]] = {
    cls.__name__: cls
    for cls in (
        WorkerReady, IncomingCall, CallAnswered, CodecChanged, MediaLost, MediaResumed, CallEnded,
        ModeApplied, CommandFailed, DtmfReceived, Pong, AnswerCall, RejectCall, MakeCall, SetMode,
        Hangup, Ping, Shutdown,
    )
}  # fmt: skip


def encode(message: AnyMessage) -> bytes:
    """One frame for ``message``."""
    if isinstance(message, AudioFrame):
        ident = message.call_id.encode("ascii")
        body = bytes((_AUDIO, len(ident))) + ident + _RATE.pack(message.rate) + message.pcm
        return struct.pack(">I", len(body)) + body
    fields_ = {f.name: _to_json(getattr(message, f.name)) for f in fields(message)}
    payload = json.dumps({"type": type(message).__name__, **fields_}, separators=(",", ":"))
    data = payload.encode()
    return _HEADER.pack(len(data) + 1, _CONTROL) + data


def _to_json(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    return value


class MessageDecoder:
    """Reassembles frames from a byte stream; partial frames wait for more data.

    A bad frame raises :class:`MessageError` from :meth:`messages` after every
    message before it has been yielded; the stream cannot be resynchronised then.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def receive(self, data: bytes) -> None:
        """Add received bytes."""
        self._buffer += data

    def messages(self) -> Iterator[AnyMessage]:
        """Every complete message received so far, in order."""
        while len(self._buffer) >= 4:
            (length,) = struct.unpack_from(">I", self._buffer)
            if not 1 <= length <= self._max_frame:
                raise MessageError(f"frame length {length} outside 1-{self._max_frame}")
            if len(self._buffer) < 4 + length:
                return
            frame = bytes(self._buffer[4 : 4 + length])
            del self._buffer[: 4 + length]
            yield decode_frame(frame)

    def feed(self, data: bytes) -> list[AnyMessage]:
        """:meth:`receive` then every complete message (all or the error)."""
        self.receive(data)
        return list(self.messages())


def decode_frame(frame: bytes) -> AnyMessage:
    """One message from a frame body (kind byte onwards, length prefix removed)."""
    kind, body = frame[0], frame[1:]
    if kind == _AUDIO:
        if not body:
            raise MessageError("audio frame is truncated")
        id_len = body[0]
        if len(body) < 1 + id_len + 4:
            raise MessageError("audio frame is truncated")
        try:
            call_id = body[1 : 1 + id_len].decode("ascii")
        except UnicodeDecodeError:
            raise MessageError("audio frame call id is not ASCII") from None
        (rate,) = _RATE.unpack_from(body, 1 + id_len)
        return AudioFrame(call_id, rate, body[1 + id_len + 4 :])
    if kind != _CONTROL:
        raise MessageError(f"unknown frame kind {kind}")
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"control frame is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MessageError("control frame must be a JSON object")
    name = raw.pop("type", None)
    cls = _TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise MessageError(f"unknown message type {name!r}")
    return _build(cls, raw)


def _build(cls: type[Message], raw: dict[str, Any]) -> Message:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise MessageError(f"{cls.__name__} has no field {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            values[name] = _coerce(hints[name], value)
        except (TypeError, ValueError) as exc:
            raise MessageError(f"{cls.__name__}.{name}: {exc}") from None
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise MessageError(f"{cls.__name__}: {exc}") from None


def _coerce(hint: Any, value: Any) -> Any:
    """Check ``value`` (decoded JSON) against a field's type; lists become tuples."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            try:
                return _coerce(option, value)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError(" or ".join(errors))
    if hint is type(None):
        if value is not None:
            raise TypeError(f"expected null, got {type(value).__name__}")
        return None
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item) for item in value)
        if len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(arg, item) for arg, item in zip(args, value, strict=True))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return value
