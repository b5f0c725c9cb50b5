"""The alarm state machine: one alarm's life from reception to closure.

Pure and synchronous. ``TRANSITIONS`` is the single source of truth: every
special case lives in this file. The machine performs no side effects; it
returns a :class:`Transition` (timeline entry and outbox event kinds) for the
store to persist in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.alarm.events import (
    Accepted,
    AlarmEvent,
    Assessed,
    CancelledByAgent,
    Closed,
    CueHeard,
    Escalated,
    ListenEnded,
    ListenStarted,
    LocationUpdated,
    Noted,
    Offered,
    Raised,
    Released,
    Transcribed,
    VoiceConnected,
    VoiceLost,
)
from gateway.alarm.types import AlarmState, Outcome
from gateway.outbox.events import EventKind

S = AlarmState

#: state -> event type -> next state. Events absent from a state's row are illegal there.
TRANSITIONS: Mapping[AlarmState, Mapping[type[AlarmEvent], AlarmState]] = {
    S.RECEIVED: {
        Offered: S.OFFERED,
        Accepted: S.ACCEPTED,
        Escalated: S.ESCALATED,
        CancelledByAgent: S.CLOSED,
        Closed: S.CLOSED,
        LocationUpdated: S.RECEIVED,
        VoiceConnected: S.RECEIVED,
        VoiceLost: S.RECEIVED,
        Noted: S.RECEIVED,
        Transcribed: S.RECEIVED,
        CueHeard: S.RECEIVED,
        Assessed: S.RECEIVED,
        ListenStarted: S.RECEIVED,
        ListenEnded: S.RECEIVED,
    },
    S.OFFERED: {
        Offered: S.OFFERED,
        Accepted: S.ACCEPTED,
        Escalated: S.ESCALATED,
        CancelledByAgent: S.CLOSED,
        Closed: S.CLOSED,
        LocationUpdated: S.OFFERED,
        VoiceConnected: S.OFFERED,
        VoiceLost: S.OFFERED,
        Noted: S.OFFERED,
        Transcribed: S.OFFERED,
        CueHeard: S.OFFERED,
        Assessed: S.OFFERED,
        ListenStarted: S.OFFERED,
        ListenEnded: S.OFFERED,
    },
    S.ACCEPTED: {
        Released: S.OFFERED,
        Escalated: S.ESCALATED,
        CancelledByAgent: S.ACCEPTED,  # recorded only: may be made under duress
        Closed: S.CLOSED,
        LocationUpdated: S.ACCEPTED,
        VoiceConnected: S.ACCEPTED,
        VoiceLost: S.ACCEPTED,
        Noted: S.ACCEPTED,
        Transcribed: S.ACCEPTED,
        CueHeard: S.ACCEPTED,
        Assessed: S.ACCEPTED,
        ListenStarted: S.ACCEPTED,
        ListenEnded: S.ACCEPTED,
    },
    S.ESCALATED: {
        Accepted: S.ESCALATED,  # an operator takes over an alarm a dialplan escalated
        Released: S.ESCALATED,
        Escalated: S.ESCALATED,
        CancelledByAgent: S.ESCALATED,
        Closed: S.CLOSED,
        LocationUpdated: S.ESCALATED,
        VoiceConnected: S.ESCALATED,
        VoiceLost: S.ESCALATED,
        Noted: S.ESCALATED,
        Transcribed: S.ESCALATED,
        CueHeard: S.ESCALATED,
        Assessed: S.ESCALATED,
        ListenStarted: S.ESCALATED,
        ListenEnded: S.ESCALATED,
    },
    S.CLOSED: {
        Noted: S.CLOSED,  # supervisors may annotate a closed alarm during review
        ListenEnded: S.CLOSED,  # a listener hangs up after the operator closed the alarm
    },
}

#: What the outside world (DC-09, webhooks) is told for each event type.
OUTBOX_KINDS: Mapping[type[AlarmEvent], EventKind] = {
    Raised: EventKind.ALARM_RAISED,
    Accepted: EventKind.ALARM_ACCEPTED,
    Escalated: EventKind.ALARM_ESCALATED,
    CancelledByAgent: EventKind.ALARM_CANCELLED,
    Closed: EventKind.ALARM_CLOSED,
    LocationUpdated: EventKind.LOCATION_UPDATED,
    VoiceConnected: EventKind.VOICE_CONNECTED,
    VoiceLost: EventKind.VOICE_LOST,
    Assessed: EventKind.CUE_DETECTED,  # only when it turns to distress: see handle()
    ListenStarted: EventKind.LISTEN_STARTED,
    ListenEnded: EventKind.LISTEN_ENDED,
}

#: The only advice worth telling the monitoring centre about at once.
FORWARDED_ASSESSMENT = "distress"


#: How refusals name each event: "cannot accept an alarm that is closed".
VERBS: Mapping[type[AlarmEvent], str] = {
    Raised: "raise",
    Offered: "offer",
    Accepted: "accept",
    Released: "release",
    Escalated: "escalate",
    CancelledByAgent: "cancel",
    Closed: "close",
    LocationUpdated: "update the location of",
    VoiceConnected: "connect voice to",
    VoiceLost: "lose voice on",
    Noted: "add a note to",
    Transcribed: "add a transcript to",
    CueHeard: "add a cue to",
    Assessed: "assess",
    ListenStarted: "listen to",
    ListenEnded: "stop listening to",
}


class AlarmProtocolError(Exception):
    """An event was refused: it makes no sense in the alarm's current state."""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the append-only timeline: who did what, when, and the state after."""

    at: datetime
    actor: str
    kind: str
    state: AlarmState
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    """The result of one accepted event, for the store to persist atomically."""

    entry: TimelineEntry
    outbox: EventKind | None


@dataclass(slots=True)
class AlarmMachine:
    """State of one alarm. Rebuilt from the stored row before each event."""

    state: AlarmState = AlarmState.RECEIVED
    handler: str | None = None
    outcome: Outcome | None = None
    raised: bool = False

    def handle(self, event: AlarmEvent, now: datetime, actor: str) -> Transition:
        """Apply ``event``; raise AlarmProtocolError, changing nothing, if illegal."""
        if isinstance(event, Raised):
            if self.raised:
                raise AlarmProtocolError("alarm was already raised")
            self.raised = True
            return self._emit(event, now, actor, self.state, _event_data(event))
        if not self.raised:
            raise AlarmProtocolError(f"cannot {VERBS[type(event)]} an alarm not yet raised")
        target = TRANSITIONS[self.state].get(type(event))
        if target is None:
            raise AlarmProtocolError(
                f"cannot {VERBS[type(event)]} an alarm that is {self.state.value}"
            )
        if isinstance(event, Released) and self.handler != event.operator:
            raise AlarmProtocolError(
                f"{event.operator!r} cannot release an alarm handled by {self.handler!r}"
            )
        if isinstance(event, Accepted) and self.handler not in (None, event.operator):
            raise AlarmProtocolError(f"alarm is already handled by {self.handler!r}")
        data = _event_data(event)
        if isinstance(event, CancelledByAgent) and target is S.CLOSED:
            self.outcome = Outcome.CANCELLED_BY_AGENT
            data["outcome"] = self.outcome.value
        elif isinstance(event, CancelledByAgent):
            data["note"] = "cancellation recorded; the handling operator decides"
        if isinstance(event, Closed):
            self.outcome = event.outcome
        if isinstance(event, Accepted):
            self.handler = event.operator
        if isinstance(event, Released):
            self.handler = None
        return self._emit(event, now, actor, target, data)

    def _emit(
        self, event: AlarmEvent, now: datetime, actor: str, target: AlarmState, data: dict[str, Any]
    ) -> Transition:
        self.state = target
        entry = TimelineEntry(at=now, actor=actor, kind=_name(event), state=target, data=data)
        outbox = OUTBOX_KINDS.get(type(event))
        if isinstance(event, Assessed) and event.cue != FORWARDED_ASSESSMENT:
            outbox = None
        return Transition(entry=entry, outbox=outbox)


def _name(event: AlarmEvent) -> str:
    """Timeline kind of an event: ``LocationUpdated`` -> ``location_updated``."""
    name = type(event).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _event_data(event: AlarmEvent) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for attr in getattr(event, "__slots__", ()):
        value = getattr(event, attr)
        if value is None:
            continue
        if hasattr(value, "value"):
            value = value.value
        elif hasattr(value, "__slots__"):
            value = {k: getattr(value, k) for k in value.__slots__ if getattr(value, k) is not None}
        data[attr] = value
    return data
