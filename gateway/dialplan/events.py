"""What the runner tells an escalation machine. Each event checks its own values.

Time-outs are not events: the runner calls ``handle_timeout(now)`` when
``next_deadline()`` is reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.alarm.types import Outcome
from gateway.dialplan.errors import DialplanUsageError
from gateway.dialplan.model import Trigger


class Channel(StrEnum):
    """How a manager is reached."""

    WEBHOOK = "webhook"
    SIP = "sip"


def _non_empty(owner: object, *names: str) -> None:
    for name in names:
        if not getattr(owner, name):
            raise DialplanUsageError(f"{type(owner).__name__}.{name} must not be empty")


@dataclass(frozen=True, slots=True)
class EscalationEvent:
    """Base of everything fed to ``EscalationMachine.handle``."""


@dataclass(frozen=True, slots=True)
class OperatorAccepted(EscalationEvent):
    """An operator (user name or station URI) took the alarm."""

    member: str

    def __post_init__(self) -> None:
        _non_empty(self, "member")


@dataclass(frozen=True, slots=True)
class OperatorDeclined(EscalationEvent):
    """A member refused the offer, or the runner found them absent or busy."""

    member: str
    reason: str = "declined"

    def __post_init__(self) -> None:
        _non_empty(self, "member", "reason")


@dataclass(frozen=True, slots=True)
class OperatorReleased(EscalationEvent):
    """The operator handling the alarm gave it back without an outcome."""

    member: str
    reason: str = "released"

    def __post_init__(self) -> None:
        _non_empty(self, "member", "reason")


@dataclass(frozen=True, slots=True)
class BackupAccepted(EscalationEvent):
    """The backup centre confirmed it took the alarm (DC-09 ACK, answered call)."""

    centre: str

    def __post_init__(self) -> None:
        _non_empty(self, "centre")


@dataclass(frozen=True, slots=True)
class BackupFailed(EscalationEvent):
    """The backup centre could not be reached or refused the alarm."""

    centre: str
    reason: str

    def __post_init__(self) -> None:
        _non_empty(self, "centre", "reason")


@dataclass(frozen=True, slots=True)
class CallDropped(EscalationEvent):
    """The phone's voice call ended while the alarm is open."""

    reason: str = "call ended"

    def __post_init__(self) -> None:
        _non_empty(self, "reason")


@dataclass(frozen=True, slots=True)
class VoiceConnected(EscalationEvent):
    """A voice call with the phone is up (first call, or a callback answered)."""


@dataclass(frozen=True, slots=True)
class CallbackFailed(EscalationEvent):
    """A callback attempt did not connect; recorded, the next one follows on time."""

    attempt: int
    reason: str

    def __post_init__(self) -> None:
        _non_empty(self, "reason")
        if self.attempt < 1:
            raise DialplanUsageError(f"CallbackFailed.attempt must be >= 1, got {self.attempt}")


@dataclass(frozen=True, slots=True)
class VoiceActivity(EscalationEvent):
    """The agent's voice was heard."""


@dataclass(frozen=True, slots=True)
class NoVoice(EscalationEvent):
    """Speech analysis reports this many seconds without the agent's voice."""

    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise DialplanUsageError(f"NoVoice.seconds must be > 0, got {self.seconds}")


@dataclass(frozen=True, slots=True)
class CueDetected(EscalationEvent):
    """Speech analysis detected a cue, e.g. ``distress``."""

    cue: str
    text: str = ""
    """What was heard, for the managers' message."""

    def __post_init__(self) -> None:
        _non_empty(self, "cue")


@dataclass(frozen=True, slots=True)
class ManagerAcknowledged(EscalationEvent):
    """A contact acknowledged a notification (DTMF on the call, or a link)."""

    trigger: Trigger
    contact: str

    def __post_init__(self) -> None:
        _non_empty(self, "contact")


@dataclass(frozen=True, slots=True)
class ManagerFailed(EscalationEvent):
    """One channel to a contact failed (webhook error, call not answered or refused)."""

    trigger: Trigger
    contact: str
    channel: Channel
    reason: str

    def __post_init__(self) -> None:
        _non_empty(self, "contact", "reason")


@dataclass(frozen=True, slots=True)
class OutcomeRecorded(EscalationEvent):
    """The result of doubt removal."""

    outcome: Outcome


@dataclass(frozen=True, slots=True)
class AlarmClosed(EscalationEvent):
    """The alarm is closed; manager notifications already under way continue."""
