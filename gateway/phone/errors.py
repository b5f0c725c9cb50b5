"""Why a phone command failed, each with the exit code the command returns."""

from __future__ import annotations


class PhoneError(Exception):
    """Root of the simulator's errors; the message is shown to the user as is."""

    exit_code = 1


class UsageError(PhoneError):
    """Bad arguments or local files (unreadable WAV, espeak-ng missing, bad SIP URI)."""

    exit_code = 2


class ApiError(PhoneError):
    """The gateway's HTTP API refused the alarm, or could not be reached at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """HTTP status of the refusal; None when no answer came."""


class CallFailed(PhoneError):
    """The SIP call could not be placed or was not answered."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
        """Final SIP status code (e.g. 403, 486, 408)."""
