"""A stand-in for the pjsua2 worker, to drive the supervisor through failures fast.

    python fake_worker.py MODE '<WorkerSettings JSON>'

MODE ``crash``: report ready, then exit 3. ``garbage``: report ready, then write a
frame header announcing 4 GiB. ``mute``: report ready, then never answer pings.
``keys``: a phone calls; once answered it presses 5 then hangs up; a ``MakeCall``
gets an answer, a press of 1 and a hang-up. ``dropping``: every pong reports 7 more
caller frames dropped.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from gateway.sip.config import WorkerSettings
from gateway.sip.messages import (
    AnswerCall,
    CallAnswered,
    CallEnded,
    DtmfReceived,
    IncomingCall,
    MakeCall,
    MessageDecoder,
    Ping,
    Pong,
    WorkerReady,
    encode,
)


def press_keys(out: BinaryIO) -> None:
    """Play the far ends of ``keys`` mode, answering the supervisor's commands."""
    phone = IncomingCall("c1", "<sip:phone@10.0.0.5>", "<sip:gw@10.0.0.1>", "10.0.0.5:5060",
                         (), ("PCMU/8000",), "sip-c1")  # fmt: skip
    out.write(encode(phone))
    out.flush()
    decoder = MessageDecoder()
    while data := os.read(0, 65536):
        for message in decoder.feed(data):
            if isinstance(message, AnswerCall):
                key = "5"
            elif isinstance(message, MakeCall):
                key = "1"
            else:
                continue
            call_id = message.call_id
            for reply in (CallAnswered(call_id, "PCMU/8000"), DtmfReceived(call_id, key),
                          CallEnded(call_id, 200, "Normal call clearing")):  # fmt: skip
                out.write(encode(reply))
            out.flush()


def drop_frames(out: BinaryIO) -> None:
    """Answer pings as a worker whose main process stopped reading caller audio."""
    decoder = MessageDecoder()
    dropped = 0
    while data := os.read(0, 65536):
        for message in decoder.feed(data):
            if isinstance(message, Ping):
                dropped += 7
                out.write(encode(Pong(message.nonce, 0, dropped)))
                out.flush()


def main() -> int:
    mode, raw = sys.argv[1], sys.argv[2]
    settings = WorkerSettings.model_validate_json(raw)
    out = sys.stdout.buffer
    out.write(encode(WorkerReady(settings.index, 40000 + settings.index, os.getpid())))
    out.flush()
    if mode == "crash":
        return 3
    if mode == "keys":
        press_keys(out)
        return 0
    if mode == "dropping":
        drop_frames(out)
        return 0
    if mode == "garbage":
        out.write(b"\xff\xff\xff\xff\x00")
        out.flush()
    sys.stdin.buffer.read()  # until the supervisor closes stdin or kills us
    return 0


if __name__ == "__main__":
    sys.exit(main())
