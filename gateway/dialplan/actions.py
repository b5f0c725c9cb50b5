"""What an escalation machine asks the runner to do. The machine does nothing itself.

Every decision also yields a ``TimelineNote``, so the alarm's timeline shows each
step taken, skipped or failed and why: escalation never fails silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.dialplan.events import Channel
from gateway.dialplan.model import Strategy, Trigger


@dataclass(frozen=True, slots=True)
class EscalationAction:
    """Base of everything returned by ``EscalationMachine``."""


@dataclass(frozen=True, slots=True)
class Offer(EscalationAction):
    """Present the alarm to these members of a group (consoles ring, stations are called)."""

    group: str
    members: tuple[str, ...]
    mode: Strategy
    """ALL_AT_ONCE: ring them together; otherwise ``members`` is the one member now in turn."""


@dataclass(frozen=True, slots=True)
class CancelOffer(EscalationAction):
    """Stop presenting the alarm to these members of a group."""

    group: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ForwardToBackup(EscalationAction):
    """Hand the alarm to a backup monitoring centre."""

    centre: str
    dc09_receiver: str | None
    sip_trunk: str | None


@dataclass(frozen=True, slots=True)
class CallbackPhone(EscalationAction):
    """Call the phone back with auto-answer headers."""

    attempt: int
    attempts: int
    """How many attempts the route allows in total."""


@dataclass(frozen=True, slots=True)
class StartNoResponseProcedure(EscalationAction):
    """The agent does not answer: run the no-response procedure (prompt, listen, alert)."""

    reason: str


@dataclass(frozen=True, slots=True)
class NotifyManager(EscalationAction):
    """Reach one contact on one channel; a SIP call speaks ``message``, waits for ``ack_digit``."""

    trigger: Trigger
    contact: str
    role: str
    channel: Channel
    address: str
    """The webhook URL or SIP URI."""
    message: str
    ack_digit: str
    """The DTMF key that acknowledges, on a SIP call."""
    ack_timeout: float = 60.0
    """Seconds the contact has to acknowledge before the next one is tried."""


@dataclass(frozen=True, slots=True)
class EscalateToSupervisor(EscalationAction):
    """Alert the supervisor on duty: the plan ran out of options."""

    reason: str


class NoteKind(StrEnum):
    """What a timeline note records."""

    TAKEN = "taken"  # a step was carried out
    SKIPPED = "skipped"  # a step was passed over, e.g. a manager outside their hours
    FAILED = "failed"  # a step did not work, e.g. nobody accepted in time
    RESOLVED = "resolved"  # a step reached its goal, e.g. an operator accepted


@dataclass(frozen=True, slots=True)
class TimelineNote(EscalationAction):
    """One line of the alarm's timeline."""

    kind: NoteKind
    text: str
    reason: str
