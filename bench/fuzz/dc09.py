"""Fuzz the DC-09 codec: frames, the stream buffer, the receiver and transmitter cores.

Random bytes rarely pass the CRC, so the first input byte picks how the rest is
used: as raw stream bytes, as a frame body given a correct CRC and length, or as
the plaintext of an encrypted frame. ``parse_frame`` may refuse only with a
``Dc09Error``; the receiver and transmitter cores must turn every refusal into
an answer (NAK, DUH) or an event, so nothing at all may escape them.

    .venv/bin/python -m bench.fuzz.dc09 --minutes 10
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from bench.fuzz.common import arguments, fuzz
from gateway.dc09 import crypto
from gateway.dc09.content import Message, parse_adm_cid_data, parse_sia_data
from gateway.dc09.errors import Dc09Error
from gateway.dc09.frame import crc16, parse_frame
from gateway.dc09.grammar import Token
from gateway.dc09.receiver import Receiver
from gateway.dc09.transmitter import Endpoint, Now, Settings, Transmitter

KEY = b"0123456789ABCDEF"
NOW = datetime(2026, 4, 12, 21, 15, 30, tzinfo=UTC)
VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "dc09"
ENCRYPTED_HEAD = b'"*SIA-DCS"0001R1L1#5678['


def framed(body: bytes) -> bytes:
    """A frame around ``body`` with the CRC and length it needs to reach the parser."""
    return b"\n%04X%04X%s\r" % (crc16(body), len(body) & 0xFFFF, body)


def encrypted(plain: bytes) -> bytes:
    """An encrypted frame whose plaintext is ``plain`` (padded to whole blocks)."""
    text = plain.decode("latin-1")
    text = text.encode("ascii", "replace").decode("ascii")
    text += "|" * (-len(text) % crypto.BLOCK)
    return framed(ENCRYPTED_HEAD + crypto.encrypt(KEY, text or "|" * 16).encode("ascii"))


def frame_of(data: bytes) -> bytes:
    mode, rest = (data[0] % 3, data[1:]) if data else (0, b"")
    if mode == 1:
        return framed(rest)
    if mode == 2:
        return encrypted(rest)
    return rest


def transmitter() -> Transmitter:
    """A transmitter with one message in flight, waiting for the receiver's answer."""
    now = Now(0.0, NOW)
    core = Transmitter(
        Settings((Endpoint(line="1", receiver="1", key=None),), account="1234", poll_interval=None),
        now,
    )
    core.submit(Message(Token.SIA_DCS, "1234", "Nri1/PA001"), now)
    core.connection_made(now)
    return core


def target(data: bytes) -> None:
    raw = frame_of(data)
    receiver = Receiver({"1234": None, "5678": KEY})
    half = len(raw) // 2
    for chunk in (raw[:half], raw[half:]):  # the buffer must not care how reads split
        receiver.receive_data(chunk)
        while receiver.next_event(NOW) is not None:
            pass
    receiver.handle_frame(raw, NOW)
    sender = transmitter()
    sender.receive_data(raw, Now(1.0, NOW))
    while sender.next_event() is not None:
        pass
    text = raw.decode("latin-1")
    for parse in (parse_sia_data, parse_adm_cid_data):
        with contextlib.suppress(Dc09Error):
            parse(text)
    parse_frame(raw, lambda account: KEY if account == "5678" else None)


def seeds() -> list[bytes]:
    samples = [b"\x00" + p.read_bytes() for p in sorted(VECTORS.glob("*.bin"))]
    return [*samples, b"\x01" + b'"SIA-DCS"0001R1L1#1234[#1234|Nri1/PA001]_21:15:30,04-12-2026']


def main() -> None:
    fuzz("dc09", target, (Dc09Error,), seeds(), arguments(__doc__ or ""))


if __name__ == "__main__":
    main()
