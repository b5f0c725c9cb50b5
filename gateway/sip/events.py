"""What the SIP supervisor tells the main process, and what it asks of it.

The main process implements :class:`SipHandler`; everything it receives names
calls by :class:`CallRef`, which carries the alarm id, so no lookup is needed
to act on an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gateway.sip.messages import IncomingCall


class CallKind(StrEnum):
    INCOMING = "incoming"
    """A phone called the gateway."""
    CALLBACK = "callback"
    """The gateway called a phone back, with auto-answer headers."""
    OPERATOR = "operator"
    """An operator station leg joined to a phone call's conference."""
    MANAGER = "manager"
    """A call to a person (a manager) who must hear a message and press a key; no
    auto-answer. Its events go to the listener given to ``SipSupervisor.call``."""


@dataclass(frozen=True, slots=True)
class CallRef:
    """A live call as the main process knows it."""

    call_id: str
    kind: CallKind
    alarm_id: str | None
    """None only for an incoming call not yet accepted."""
    worker: int
    phone_id: str | None = None
    """For operator legs: the phone call whose conference the leg is in."""


# --- decisions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """Auto-answer the call; its audio belongs to ``alarm_id``."""

    alarm_id: str


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the call with a final SIP status (403: unknown device; 401: prove who you are)."""

    code: int = 403
    reason: str = "Forbidden"
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers of the response, e.g. ``WWW-Authenticate``."""

    def __post_init__(self) -> None:
        if not 300 <= self.code <= 699:
            raise ValueError(f"Reject.code must be a final SIP status 300-699, got {self.code}")


CallDecision = Answer | Reject


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Base of everything reported through :meth:`SipHandler.on_call_event`."""


@dataclass(frozen=True, slots=True)
class CallConnected(CallEvent):
    """Answered, media flowing; caller audio now reaches :meth:`SipHandler.on_audio`."""

    call: CallRef
    codec: str


@dataclass(frozen=True, slots=True)
class CallCodecChanged(CallEvent):
    """Media now flows with another codec (G.722 after the worker's wideband re-offer)."""

    call: CallRef
    codec: str


@dataclass(frozen=True, slots=True)
class CallMediaLost(CallEvent):
    """No RTP from the far end for ``silent_for`` seconds: the phone may be out of coverage."""

    call: CallRef
    silent_for: float


@dataclass(frozen=True, slots=True)
class CallMediaResumed(CallEvent):
    call: CallRef


@dataclass(frozen=True, slots=True)
class CallDtmf(CallEvent):
    """The far end pressed ``digit`` (one of ``0-9 * # A-D``) on its keypad."""

    call: CallRef
    digit: str


@dataclass(frozen=True, slots=True)
class CallFinished(CallEvent):
    """The call is over (hung up by either side, rejected or failed)."""

    call: CallRef
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class WorkerStarted(CallEvent):
    """A worker (re)started and listens on ``sip_port``; a SIP edge may route to it."""

    worker: int
    sip_port: int
    pid: int


@dataclass(frozen=True, slots=True)
class CallerAudioDropped(CallEvent):
    """A worker dropped caller audio because the main process was not reading it."""

    worker: int
    frames: int


@dataclass(frozen=True, slots=True)
class WorkerDied(CallEvent):
    """A worker process died; its calls are gone. Call the phones back."""

    worker: int
    pid: int
    calls: tuple[CallRef, ...]

    @property
    def alarm_ids(self) -> frozenset[str]:
        """Alarms whose phone call or operator leg was lost (a manager call's alarm is
        not: its phone was elsewhere, and the manager call's owner is told)."""
        return frozenset(
            c.alarm_id
            for c in self.calls
            if c.alarm_id is not None and c.kind is not CallKind.MANAGER
        )


class SipHandler(Protocol):
    """Implemented by the main process (alarm store, speech, WebRTC)."""

    async def on_incoming(self, call: IncomingCall) -> CallDecision:
        """Find the alarm (``call.alarm_id``, the device's SIP URI) or open one; or reject."""
        ...

    def on_call_event(self, event: CallEvent) -> None:
        """Must return quickly: it runs on the supervisor's loop."""
        ...

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        """20 ms of s16le mono audio from one call. Must return quickly."""
        ...
