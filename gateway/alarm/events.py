"""Inputs to the alarm state machine: what someone or something did to an alarm.

Events are frozen dataclasses that check their own values on construction, so
the machine never sees an impossible one (h11 style).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.alarm.types import AlarmType, Outcome


class AlarmEvent:
    """Marker base class of everything the machine accepts."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Position:
    """A WGS84 fix as the phone reported it."""

    lat: float
    lon: float
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"latitude must be between -90 and 90, got {self.lat}")
        if not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"longitude must be between -180 and 180, got {self.lon}")
        if self.accuracy_m is not None and not self.accuracy_m >= 0:
            raise ValueError(f"accuracy_m must be >= 0, got {self.accuracy_m}")


@dataclass(frozen=True, slots=True)
class Raised(AlarmEvent):
    """The alarm was accepted from a phone (HTTP) or opened from a call (SIP)."""

    alarm_type: AlarmType
    position: Position | None = None
    battery_pct: int | None = None
    channel: str = "http"

    def __post_init__(self) -> None:
        if self.battery_pct is not None and not 0 <= self.battery_pct <= 100:
            raise ValueError(f"battery_pct must be between 0 and 100, got {self.battery_pct}")


@dataclass(frozen=True, slots=True)
class Offered(AlarmEvent):
    """Presented to operators (a dialplan step)."""

    group: str


@dataclass(frozen=True, slots=True)
class Accepted(AlarmEvent):
    """An operator took the alarm to remove doubt."""

    operator: str


@dataclass(frozen=True, slots=True)
class Released(AlarmEvent):
    """The handling operator gave the alarm back (left, or browser closed)."""

    operator: str
    reason: str


@dataclass(frozen=True, slots=True)
class LocationUpdated(AlarmEvent):
    position: Position


@dataclass(frozen=True, slots=True)
class VoiceConnected(AlarmEvent):
    """The phone's hands-free call is up and attached to this alarm."""

    channel: str
    call_id: str


@dataclass(frozen=True, slots=True)
class VoiceLost(AlarmEvent):
    channel: str
    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CancelledByAgent(AlarmEvent):
    """The agent cancelled from the phone.

    Before an operator accepted, this closes the alarm. Once an operator handles
    it, a cancellation may be made under duress, so it is only recorded and the
    operator decides.
    """


@dataclass(frozen=True, slots=True)
class Escalated(AlarmEvent):
    """Emergency services, managers or a supervisor were engaged."""

    target: str  # "police", "samu", "fire", "112", "manager", "supervisor", ...
    reference: str | None = None

    def __post_init__(self) -> None:
        if not self.target.strip():
            raise ValueError("escalation target must not be empty")


@dataclass(frozen=True, slots=True)
class Noted(AlarmEvent):
    """Free text added to the timeline (operator note, dialplan step, cue)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class ListenStarted(AlarmEvent):
    """Someone began listening to the call (listening exists only inside an alarm)."""

    operator: str
    channel: str  # "webrtc" (console) or "sip" (a station)
    mode: str = "listen"


@dataclass(frozen=True, slots=True)
class ListenEnded(AlarmEvent):
    operator: str
    channel: str


@dataclass(frozen=True, slots=True)
class Transcribed(AlarmEvent):
    """A final transcript segment of the caller's speech (seconds into the call)."""

    text: str
    start: float
    end: float
    engine: str
    confidence: float


@dataclass(frozen=True, slots=True)
class CueHeard(AlarmEvent):
    """Evidence the speech analysis noticed: a keyword, shouting, an impact, silence."""

    cue: str
    offset: float
    category: str = ""
    text: str = ""
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Assessed(AlarmEvent):
    """The speech analysis' advice changed (distress, calm, no response, unclear).

    Advice only: it never closes or dispatches an alarm.
    """

    cue: str
    """The assessment: ``distress``, ``calm_false_alarm_claimed``, ``no_response``, ``unclear``."""
    text: str = ""
    """The evidence, as the operator reads it: words heard, sounds measured, when."""


@dataclass(frozen=True, slots=True)
class Closed(AlarmEvent):
    outcome: Outcome
    comment: str | None = None
