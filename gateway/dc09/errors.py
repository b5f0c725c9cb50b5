"""Errors of the DC-09 codec and of forwarding to a monitoring centre.

Codec errors share the root ``Dc09Error`` and are split as h11 does:
``LocalProtocolError`` means the gateway asked for something the protocol cannot
carry; ``RemoteProtocolError`` means the peer sent something invalid. Errors a
receiver must answer carry that answer in ``response``.

``DeliveryError`` is what the outbox worker catches from any sender (DC-09 or
webhook): the event was not confirmed and must be retried later.
"""

from __future__ import annotations

from gateway.dc09.grammar import Token
from gateway.outbox.errors import DeliveryError


class Dc09Error(Exception):
    """Root of every DC-09 codec error."""


class LocalProtocolError(Dc09Error, ValueError):
    """The gateway tried to build a frame the protocol cannot carry."""


class RemoteProtocolError(Dc09Error):
    """The peer sent bytes that are not a valid DC-09 frame or answer."""

    response: Token = Token.NAK
    """What a receiver answers to this error."""


class FrameError(RemoteProtocolError, ValueError):
    """A frame is malformed; ``field`` and ``offset`` (from the LF) say where."""

    def __init__(self, message: str, field: str, offset: int) -> None:
        super().__init__(message)
        self.field = field
        self.offset = offset


class CrcError(FrameError):
    """The CRC does not match the frame content (corrupted in transit)."""


class DecryptError(FrameError):
    """Encrypted content cannot be decrypted with the account's key."""


class FrameTooLongError(FrameError):
    """More bytes than the buffer's maximum arrived without a closing CR."""


class UnknownAccountError(RemoteProtocolError):
    """The frame names an account the receiver does not serve."""


class TimestampWindowError(RemoteProtocolError):
    """The frame's timestamp is outside the receiver's accepted window."""


class UnsupportedMessageError(FrameError):
    """Well-formed, but the receiver cannot process it (unknown token or code)."""

    response = Token.DUH


# --- delivery ---------------------------------------------------------------------------


class ReceiverUnreachableError(DeliveryError):
    """No receiver acknowledged the frame within the configured attempts."""


class MessageRejectedError(DeliveryError):
    """The receiver answered DUH: it cannot process this message."""

    permanent = True


class SenderClosedError(DeliveryError):
    """The sender was stopped (or never started) before the event was confirmed."""
