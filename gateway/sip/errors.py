"""Errors of the SIP voice channel. Each carries what the caller needs to act on it."""

from __future__ import annotations


class SipError(Exception):
    """Root of the voice channel's errors."""


class MessageError(SipError, ValueError):
    """A supervisor/worker frame is malformed: the peer process is faulty or out of date."""


class NoCapacityError(SipError):
    """No live worker has a free call slot (or the phone call's worker is full).

    ``sip_code`` is what a SIP edge should answer in this case.
    """

    sip_code = 503


class UnknownCallError(SipError, KeyError):
    """The call id names no live call (it ended, or its worker died)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown call"


class CallFailedError(SipError):
    """An outbound call ended without being answered; carries the final SIP status."""

    def __init__(self, call_id: str, code: int, reason: str) -> None:
        super().__init__(f"call {call_id} failed: {code} {reason}".rstrip())
        self.call_id = call_id
        self.code = code
        self.reason = reason
