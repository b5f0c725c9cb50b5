"""Sans-I/O DC-09 receiver: frames in, decisions and answers out.

The gateway transmits; this side exists for the example receiver, for tests
that pair it with the transmitter, and for anyone checking what we send. The
timestamp window is checked against the ``utc_now`` given, never the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.dc09.buffer import DEFAULT_MAX_FRAME, StreamBuffer
from gateway.dc09.errors import (
    RemoteProtocolError,
    TimestampWindowError,
    UnknownAccountError,
)
from gateway.dc09.frame import Frame, parse_frame
from gateway.dc09.grammar import TIMESTAMP_FORMAT, Token

WINDOW = (40.0, 20.0)
"""Seconds a timestamp may lag behind / run ahead of the receiver clock (DC-09 §5.5.1.9)."""


@dataclass(frozen=True, slots=True)
class Received:
    """A valid message; ``answer`` (ACK) is to be written back."""

    frame: Frame
    answer: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid message; ``answer`` (NAK or DUH) is to be written back."""

    error: RemoteProtocolError
    answer: bytes


def check_timestamp(frame: Frame, utc_now: datetime, window: tuple[float, float] = WINDOW) -> None:
    """Raise TimestampWindowError unless the frame's time is within the window."""
    if frame.timestamp is None:
        if frame.encrypted:
            raise TimestampWindowError("Encrypted message has no timestamp.")
        return
    skew = (frame.timestamp - utc_now).total_seconds()
    stamp = frame.timestamp.strftime(TIMESTAMP_FORMAT)
    if skew < -window[0]:
        raise TimestampWindowError(
            f"Timestamp {stamp} is {-skew:.0f} s behind the receiver clock "
            f"(at most {window[0]:g} s allowed)."
        )
    if skew > window[1]:
        raise TimestampWindowError(
            f"Timestamp {stamp} is {skew:.0f} s ahead of the receiver clock "
            f"(at most {window[1]:g} s allowed)."
        )


class Receiver:
    """Frames a byte stream and decides the answer to each frame."""

    def __init__(
        self,
        accounts: Mapping[str, bytes | None],
        window: tuple[float, float] = WINDOW,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.accounts = {account.upper(): key for account, key in accounts.items()}
        """Served accounts and their AES keys (None: plain text)."""
        self.window = window
        self._buffer = StreamBuffer(max_frame)
        self.rejected: dict[str, int] = {}
        """Rejections counted per error class name."""

    def receive_data(self, data: bytes) -> None:
        """Bytes read from a transmitter."""
        self._buffer.receive_data(data)

    def next_event(self, utc_now: datetime) -> Received | Rejected | None:
        """The next framed message with its answer, or None until more data arrives."""
        try:
            raw = self._buffer.next_frame()
        except RemoteProtocolError as exc:
            return self._reject(exc, utc_now)
        if raw is None:
            return None
        return self.handle_frame(raw, utc_now)

    def handle_frame(self, raw: bytes, utc_now: datetime) -> Received | Rejected:
        """Decide on one whole frame (a datagram, or a frame from the buffer)."""
        try:
            frame = parse_frame(raw, self._key)
            if frame.token.is_answer:
                raise UnknownAccountError(f"A transmitter sent the answer {frame.token.value}.")
            if frame.account is None or frame.account.upper() not in self.accounts:
                raise UnknownAccountError(f"Account {frame.account} is not served here.")
            if self.accounts[frame.account.upper()] is not None and not frame.encrypted:
                raise UnknownAccountError(f"Account {frame.account} must send encrypted.")
            check_timestamp(frame, utc_now, self.window)
        except RemoteProtocolError as exc:
            return self._reject(exc, utc_now)
        return Received(frame, self._ack(frame, utc_now))

    def _key(self, account: str | None) -> bytes | None:
        return self.accounts.get((account or "").upper())

    def _ack(self, frame: Frame, utc_now: datetime) -> bytes:
        key = self._key(frame.account) if frame.encrypted else None
        answer = Frame(
            token=Token.ACK,
            sequence=frame.sequence,
            line=frame.line,
            receiver=frame.receiver,
            account=frame.account,
            timestamp=utc_now.astimezone(UTC).replace(microsecond=0) if key else None,
            encrypted=key is not None,
        )
        return answer.serialize(key)

    def _reject(self, error: RemoteProtocolError, utc_now: datetime) -> Rejected:
        name = type(error).__name__
        self.rejected[name] = self.rejected.get(name, 0) + 1
        answer = Frame(
            token=error.response,
            sequence=0,
            line="0",
            receiver="0",
            timestamp=utc_now.astimezone(UTC).replace(microsecond=0),
        )
        return Rejected(error, answer.serialize())
