"""The per-alarm escalation machine: sans-I/O, in the style of h11 and aioquic.

``EscalationMachine(plans, context, now=..., wall=...)`` picks the route, and
its ``initial_actions`` start the first step. The runner then feeds events with
``handle(event, now)``, arms one timer at ``next_deadline()`` and calls
``handle_timeout(now)`` when it is reached. Each call returns the actions to
carry out, always with ``TimelineNote``s saying what was done, skipped or failed
and why.

Three concerns run side by side in one machine:

- the offer: steps in order (offer, overflow, backup) until an operator or a
  backup centre takes the alarm; when steps run out, every group of the route
  keeps ringing and the supervisor is alerted;
- the voice channel: callbacks after a dropped call, and the no-response
  procedure after silence while an operator handles the alarm;
- manager chains, one per trigger: contacts in order until one acknowledges,
  for a number of rounds, then the supervisor. Chains outlive the alarm's
  closure: managers still learn the outcome.

Legal events per phase and the handler of each are in ``_TRANSITIONS``; timers
and their handlers in ``_TIMER_HANDLERS``. ``now`` is monotonic seconds; the
wall clock is derived from the ``wall`` given at construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gateway.alarm.types import Outcome
from gateway.dialplan.actions import (
    CallbackPhone,
    CancelOffer,
    EscalateToSupervisor,
    EscalationAction,
    ForwardToBackup,
    NoteKind,
    NotifyManager,
    Offer,
    StartNoResponseProcedure,
    TimelineNote,
)
from gateway.dialplan.errors import DialplanUsageError, EscalationProtocolError
from gateway.dialplan.evaluate import (
    AlarmContext,
    RouteDecision,
    contact_availability,
    select_route,
)
from gateway.dialplan.events import (
    AlarmClosed,
    BackupAccepted,
    BackupFailed,
    CallbackFailed,
    CallDropped,
    Channel,
    CueDetected,
    EscalationEvent,
    ManagerAcknowledged,
    ManagerFailed,
    NoVoice,
    OperatorAccepted,
    OperatorDeclined,
    OperatorReleased,
    OutcomeRecorded,
    VoiceActivity,
    VoiceConnected,
)
from gateway.dialplan.model import (
    BackupStep,
    Callback,
    Contact,
    ContactList,
    OfferStep,
    OperatorGroup,
    PlanSet,
    Route,
    Strategy,
    Trigger,
)

Actions = list[EscalationAction]


class Phase(StrEnum):
    """Where the offer of the alarm stands."""

    OFFERING = "offering"  # steps advance on time-outs until someone accepts
    BACKUP = "backup"  # forwarded to a backup centre, waiting for its confirmation
    EXHAUSTED = "exhausted"  # steps ran out: every group rings, supervisor alerted
    ACCEPTED = "accepted"  # an operator handles the alarm
    WITH_BACKUP = "with_backup"  # the backup centre took the alarm
    CLOSED = "closed"  # only manager chains may still be running


class TimerKind(StrEnum):
    STEP = "step"  # the current step's time-out
    RING = "ring"  # the member in turn rang long enough (detail: group)
    CALLBACK = "callback"  # the next callback attempt is due
    SILENCE = "silence"  # the agent has been silent too long
    ACK = "ack"  # the contact in turn did not acknowledge (detail: trigger)


TimerKey = tuple[TimerKind, str]

#: Which outcome informs managers of what.
OUTCOME_TRIGGERS: dict[Outcome, Trigger | None] = {
    Outcome.INTERVENTION_DISPATCHED: Trigger.DISPATCH,
    Outcome.FALSE_ALARM: Trigger.DOUBT_REMOVED,
    Outcome.AGENT_SAFE: Trigger.DOUBT_REMOVED,
    Outcome.CANCELLED_BY_AGENT: Trigger.DOUBT_REMOVED,
    Outcome.NO_RESPONSE: Trigger.NO_RESPONSE,
    Outcome.TEST_COMPLETED: None,
}


@dataclass
class _GroupOffer:
    """An open offer to one group; in turn, ``order[turn % len]`` is ringing."""

    group: str
    order: tuple[str, ...]
    mode: Strategy
    ring_time: float
    ringing: tuple[str, ...] = ()
    turn: int = 0
    declined: set[str] = field(default_factory=set)

    def remaining(self) -> list[str]:
        return [m for m in self.order if m not in self.declined]


@dataclass
class _Chain:
    """Manager notifications for one trigger."""

    trigger: Trigger
    contact_list: str
    message: str
    round: int = 1
    index: int = -1
    reached_in_round: bool = False
    failed: set[Channel] = field(default_factory=set)
    done: bool = False


class EscalationMachine:
    """Decides, for one alarm, who is asked to act and when. Performs no I/O."""

    def __init__(
        self,
        plans: PlanSet,
        context: AlarmContext,
        *,
        now: float,
        wall: datetime,
        hears_voice: bool = True,
    ) -> None:
        """``hears_voice`` False: nothing reports the agent's voice (speech analysis off), so
        silence cannot be told from talk and the no-response timer is never armed."""
        self._plans = plans
        self._hears_voice = hears_voice
        self._context = context
        self._start = now
        self._last_now = now
        self._wall_at_start = wall
        self.decision: RouteDecision = select_route(plans, context, wall)
        self._route: Route = self.decision.route
        self._phase = Phase.OFFERING
        self._step = -1
        self._offers: dict[str, _GroupOffer] = {}
        self._forwarded: set[str] = set()
        self._timers: dict[TimerKey, float] = {}
        self._voice_up = False
        self._callback_attempt = 0
        self._callback_policy: Callback | None = None
        """The policy of the callback cycle under way (a re-route must not change it)."""
        self._no_response_started = False
        self._outcome: Outcome | None = None
        self._chains: dict[Trigger, _Chain] = {}
        self._last_cue = ""
        actions: Actions = [
            TimelineNote(NoteKind.TAKEN, "routed", r) for r in self.decision.reasons[:1]
        ]
        if not self.decision.forward_to_receiver:
            actions.append(
                TimelineNote(
                    NoteKind.SKIPPED,
                    "not forwarded to the monitoring centre's receiver",
                    self.decision.reasons[-1],
                )
            )
        actions += self._start_step(0, now)
        for cue in sorted(context.cues):
            actions += self._on_cue_heard(cue, cue, now, "at reception")
        self.initial_actions: tuple[EscalationAction, ...] = tuple(actions)
        """What to do first: route notes and the first step's offer."""

    # --- state, for the runner and tests ---------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def route(self) -> Route:
        """The route in force (a cue may have changed it)."""
        return self._route

    @property
    def forward_to_receiver(self) -> bool:
        """Whether the alarm may go to the monitoring centre's receiver (never in pilot)."""
        return self.decision.forward_to_receiver

    @property
    def finished(self) -> bool:
        """Closed and no manager chain still waiting: the runner can drop the machine."""
        return self._phase is Phase.CLOSED and all(c.done for c in self._chains.values())

    # --- inputs ----------------------------------------------------------------------------

    def handle(self, event: EscalationEvent, now: float) -> Actions:
        """Apply one event; raise EscalationProtocolError if it cannot happen now."""
        self._tick(now)
        entry = _TRANSITIONS.get(type(event))
        if entry is None:
            raise EscalationProtocolError(f"unknown event type {type(event).__name__}")
        phases, handler = entry
        if self._phase not in phases:
            raise EscalationProtocolError(
                f"{type(event).__name__} cannot happen while the escalation is {self._phase.value}"
            )
        return handler(self, event, now)

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` must next be called, or None if nothing is timed."""
        return min(self._timers.values(), default=None)

    def handle_timeout(self, now: float) -> Actions:
        """Run every timer due at ``now``, earliest first; a late call catches up."""
        self._tick(now)
        actions: Actions = []
        while self._timers:
            key, at = min(self._timers.items(), key=lambda item: item[1])
            if at > now:
                break
            del self._timers[key]
            actions += _TIMER_HANDLERS[key[0]](self, key[1], at)
        return actions

    def _tick(self, now: float) -> None:
        if now < self._last_now:
            raise DialplanUsageError(f"time went backwards: {now} after {self._last_now}")
        self._last_now = now

    def _wall(self, now: float) -> datetime:
        return self._wall_at_start + timedelta(seconds=now - self._start)

    def _since_start(self, now: float) -> str:
        return f"{now - self._start:.1f} s after the alarm"

    # --- offer: steps ----------------------------------------------------------------------

    def _start_step(self, index: int, now: float) -> Actions:
        self._timers.pop((TimerKind.STEP, ""), None)
        steps = self._route.steps
        self._step = index
        if index >= len(steps):
            return self._exhaust(now)
        step = steps[index]
        label = f"step {index + 1} of {len(steps)} of route {self._route.name!r}"
        if isinstance(step, BackupStep):
            if self._context.pilot:
                note = TimelineNote(
                    NoteKind.SKIPPED,
                    f"not forwarded to backup centre {step.backup!r}",
                    f"{label}: tenant {self._context.tenant!r} is in pilot mode",
                )
                return [note, *self._start_step(index + 1, now)]
            centre = self._plans.backup_centres[step.backup]
            self._phase = Phase.BACKUP
            self._forwarded.add(step.backup)
            self._timers[(TimerKind.STEP, "")] = now + step.timeout
            return [
                *self._cancel_offers(),
                ForwardToBackup(step.backup, centre.dc09_receiver, centre.sip_trunk),
                TimelineNote(
                    NoteKind.TAKEN,
                    f"forwarded to backup centre {step.backup!r} ({centre.target})",
                    f"{label}, {self._since_start(now)}; waiting {step.timeout:g} s for it",
                ),
            ]
        self._phase = Phase.OFFERING
        self._timers[(TimerKind.STEP, "")] = now + step.timeout
        actions: Actions = [] if not isinstance(step, OfferStep) else self._cancel_offers()
        if step.target in self._offers:
            actions.append(
                TimelineNote(NoteKind.SKIPPED, f"group {step.target!r} already offered", label)
            )
            return actions
        how = "offered" if isinstance(step, OfferStep) else "overflowed"
        keep = "" if isinstance(step, OfferStep) else "; earlier offers keep ringing"
        actions.append(
            TimelineNote(
                NoteKind.TAKEN,
                f"{how} to group {step.target!r}",
                f"{label}, {self._since_start(now)}: accept within {step.timeout:g} s{keep}",
            )
        )
        return actions + self._open_offer(step.target, now, None)

    def _on_step_timeout(self, _: str, at: float) -> Actions:
        step = self._route.steps[self._step]
        if isinstance(step, BackupStep):
            failed = TimelineNote(
                NoteKind.FAILED,
                f"backup centre {step.backup!r} did not confirm",
                f"no confirmation within {step.timeout:g} s",
            )
        else:
            failed = TimelineNote(
                NoteKind.FAILED,
                f"nobody in group {step.target!r} accepted",
                f"accept time-out of {step.timeout:g} s, {self._since_start(at)}",
            )
        return [failed, *self._start_step(self._step + 1, at)]

    def _exhaust(self, now: float) -> Actions:
        """Steps ran out: alert the supervisor; every group of the route rings until taken."""
        self._phase = Phase.EXHAUSTED
        reason = (
            f"nobody took the alarm after the {len(self._route.steps)} steps of route "
            f"{self._route.name!r}, {self._since_start(now)}"
        )
        actions: Actions = [
            EscalateToSupervisor(reason),
            TimelineNote(NoteKind.FAILED, "escalated to the supervisor", reason),
        ]
        groups = dict.fromkeys(s.target for s in self._route.steps if not isinstance(s, BackupStep))
        for group in groups:
            offer = self._offers.get(group)
            if offer is not None and offer.mode is Strategy.ALL_AT_ONCE and not offer.declined:
                continue
            actions += self._close_offer(group)
            actions += self._open_offer(group, now, Strategy.ALL_AT_ONCE)
        if not groups:
            note = TimelineNote(
                NoteKind.SKIPPED,
                "no operator group to offer to",
                f"route {self._route.name!r} has only backup steps",
            )
        else:
            note = TimelineNote(
                NoteKind.TAKEN,
                f"offered to every group of the route ({', '.join(groups)})",
                "until an operator accepts",
            )
        return [*actions, note]

    # --- offer: groups and members ---------------------------------------------------------

    def _open_offer(self, group_name: str, now: float, mode: Strategy | None) -> Actions:
        group: OperatorGroup = self._plans.operator_groups[group_name]
        order = tuple(group.members)
        mode = mode or group.strategy
        if mode is Strategy.ROUND_ROBIN:
            start = self._context.rotation % len(order)
            order = order[start:] + order[:start]
        offer = _GroupOffer(group_name, order, mode, group.ring_time)
        self._offers[group_name] = offer
        if mode is Strategy.ALL_AT_ONCE:
            offer.ringing = order
            return [Offer(group_name, order, mode)]
        return self._ring(offer, now)

    def _ring(self, offer: _GroupOffer, now: float) -> Actions:
        """Ring the next member in turn who has not declined."""
        actions: Actions = []
        if offer.ringing:
            actions.append(CancelOffer(offer.group, offer.ringing))
            offer.ringing = ()
        remaining = offer.remaining()
        if not remaining:
            return actions + self._group_declined(offer, now)
        while offer.order[offer.turn % len(offer.order)] in offer.declined:
            offer.turn += 1
        member = offer.order[offer.turn % len(offer.order)]
        offer.turn += 1
        offer.ringing = (member,)
        self._timers[(TimerKind.RING, offer.group)] = now + offer.ring_time
        return [
            *actions,
            Offer(offer.group, (member,), offer.mode),
            TimelineNote(
                NoteKind.TAKEN,
                f"offered to {member} of group {offer.group!r}",
                f"{offer.mode.value}: rings {offer.ring_time:g} s before the next member",
            ),
        ]

    def _on_ring_timeout(self, group: str, at: float) -> Actions:
        offer = self._offers[group]
        member = offer.ringing[0]
        missed = TimelineNote(
            NoteKind.FAILED, f"{member} did not accept", f"rang {offer.ring_time:g} s"
        )
        return [missed, *self._ring(offer, at)]

    def _group_declined(self, offer: _GroupOffer, now: float) -> Actions:
        del self._offers[offer.group]
        self._timers.pop((TimerKind.RING, offer.group), None)
        actions: Actions = [
            TimelineNote(
                NoteKind.FAILED,
                f"every member of group {offer.group!r} declined",
                "nobody left to ring in it",
            )
        ]
        if self._offers:
            return actions
        if self._phase is Phase.EXHAUSTED:
            reason = "every operator declined the alarm after the steps ran out"
            return [
                *actions,
                EscalateToSupervisor(reason),
                TimelineNote(NoteKind.FAILED, "escalated to the supervisor", reason),
            ]
        return actions + self._start_step(self._step + 1, now)

    def _close_offer(self, group: str) -> Actions:
        offer = self._offers.pop(group, None)
        self._timers.pop((TimerKind.RING, group), None)
        if offer is None or not offer.ringing:
            return []
        return [CancelOffer(group, offer.ringing)]

    def _cancel_offers(self, keep: str | None = None) -> Actions:
        actions: Actions = []
        for group in list(self._offers):
            offer = self._offers[group]
            if keep is not None and keep in offer.ringing:
                offer.ringing = tuple(m for m in offer.ringing if m != keep)
            actions += self._close_offer(group)
        return actions

    # --- offer: events ---------------------------------------------------------------------

    def _on_accepted(self, event: OperatorAccepted, now: float) -> Actions:
        offered = any(event.member in o.order for o in self._offers.values())
        self._timers.pop((TimerKind.STEP, ""), None)
        actions = self._cancel_offers(keep=event.member)
        self._phase = Phase.ACCEPTED
        how = "" if offered else " (not among the members offered to)"
        actions.append(
            TimelineNote(
                NoteKind.RESOLVED, f"accepted by {event.member}{how}", self._since_start(now)
            )
        )
        self._arm_silence(now)
        return actions

    def _on_declined(self, event: OperatorDeclined, now: float) -> Actions:
        concerned = [o for o in self._offers.values() if event.member in o.order]
        if not concerned:
            return [
                TimelineNote(
                    NoteKind.SKIPPED,
                    f"decline from {event.member} ignored",
                    "the alarm is not offered to them",
                )
            ]
        actions: Actions = [TimelineNote(NoteKind.FAILED, f"{event.member} declined", event.reason)]
        for offer in concerned:
            offer.declined.add(event.member)
            if event.member not in offer.ringing:
                continue
            if offer.mode is Strategy.ALL_AT_ONCE:
                offer.ringing = tuple(m for m in offer.ringing if m != event.member)
                if not offer.ringing:
                    actions += self._group_declined(offer, now)
            else:
                offer.ringing = ()
                actions += self._ring(offer, now)
        return actions

    def _on_released(self, event: OperatorReleased, now: float) -> Actions:
        self._timers.pop((TimerKind.SILENCE, ""), None)
        note = TimelineNote(
            NoteKind.FAILED,
            f"released by {event.member}",
            f"{event.reason}; offering again from the first step",
        )
        return [note, *self._start_step(0, now)]

    def _on_backup_accepted(self, event: BackupAccepted, now: float) -> Actions:
        if event.centre not in self._forwarded:
            raise EscalationProtocolError(
                f"backup centre {event.centre!r} accepted an alarm never forwarded to it"
            )
        self._timers.pop((TimerKind.STEP, ""), None)
        actions = self._cancel_offers()
        self._phase = Phase.WITH_BACKUP
        actions.append(
            TimelineNote(
                NoteKind.RESOLVED,
                f"taken by backup centre {event.centre!r}",
                self._since_start(now),
            )
        )
        return actions

    def _on_backup_failed(self, event: BackupFailed, now: float) -> Actions:
        step = self._route.steps[self._step]
        if not isinstance(step, BackupStep) or step.backup != event.centre:
            raise EscalationProtocolError(
                f"backup centre {event.centre!r} failed, but the alarm waits for {step.target!r}"
            )
        note = TimelineNote(NoteKind.FAILED, f"backup centre {event.centre!r} failed", event.reason)
        return [note, *self._start_step(self._step + 1, now)]

    # --- voice channel ---------------------------------------------------------------------

    def _on_call_dropped(self, event: CallDropped, now: float) -> Actions:
        self._voice_up = False
        self._timers.pop((TimerKind.SILENCE, ""), None)
        policy = self._route.callback
        if (TimerKind.CALLBACK, "") in self._timers:
            return [
                TimelineNote(
                    NoteKind.SKIPPED,
                    "no new callback cycle",
                    f"call dropped ({event.reason}) while callbacks are under way",
                )
            ]
        if policy is None:
            return [
                TimelineNote(
                    NoteKind.SKIPPED,
                    "phone not called back",
                    f"call dropped ({event.reason}); route {self._route.name!r} has no callback",
                )
            ]
        self._callback_attempt = 0
        self._callback_policy = policy
        note = TimelineNote(
            NoteKind.TAKEN,
            "calling the phone back",
            f"call dropped ({event.reason}); {policy.attempts} attempts {policy.spacing:g} s apart",
        )
        if policy.first_after > 0:
            self._timers[(TimerKind.CALLBACK, "")] = now + policy.first_after
            return [note]
        return [note, *self._call_back(now)]

    def _call_back(self, now: float) -> Actions:
        policy = self._callback_policy
        assert policy is not None  # set when the cycle starts
        if self._callback_attempt >= policy.attempts:
            reason = (
                f"phone unreachable after {policy.attempts} callback attempts "
                f"{policy.spacing:g} s apart"
            )
            return [
                TimelineNote(NoteKind.FAILED, "callbacks exhausted", reason),
                *self._no_response(now, reason),
            ]
        self._callback_attempt += 1
        self._timers[(TimerKind.CALLBACK, "")] = now + policy.spacing
        return [
            CallbackPhone(self._callback_attempt, policy.attempts),
            TimelineNote(
                NoteKind.TAKEN,
                f"callback attempt {self._callback_attempt} of {policy.attempts}",
                self._since_start(now),
            ),
        ]

    def _on_callback_timer(self, _: str, at: float) -> Actions:
        return self._call_back(at)

    def _on_callback_failed(self, event: CallbackFailed, now: float) -> Actions:
        if event.attempt > self._callback_attempt:
            raise EscalationProtocolError(
                f"callback attempt {event.attempt} failed, but it was never requested"
            )
        return [
            TimelineNote(NoteKind.FAILED, f"callback attempt {event.attempt} failed", event.reason)
        ]

    def _on_voice_connected(self, _: VoiceConnected, now: float) -> Actions:
        self._voice_up = True
        actions: Actions = []
        if self._timers.pop((TimerKind.CALLBACK, ""), None) is not None:
            text = (
                f"phone answered callback attempt {self._callback_attempt}"
                if self._callback_attempt
                else "voice back before the first callback"
            )
            actions.append(TimelineNote(NoteKind.RESOLVED, text, self._since_start(now)))
        self._arm_silence(now)
        return actions

    def _silence_watch_applies(self) -> bool:
        """Silence counts only while an operator handles the call and doubt is not removed."""
        return (
            self._route.no_response is not None
            and self._hears_voice
            and self._voice_up
            and self._phase is Phase.ACCEPTED
            and self._outcome is None
            and not self._no_response_started
        )

    def _arm_silence(self, now: float) -> None:
        policy = self._route.no_response
        if policy is not None and self._silence_watch_applies():
            self._timers[(TimerKind.SILENCE, "")] = now + policy.after

    def _on_voice_activity(self, _: VoiceActivity, now: float) -> Actions:
        actions: Actions = []
        if self._no_response_started:
            self._no_response_started = False
            actions.append(
                TimelineNote(
                    NoteKind.RESOLVED, "the agent's voice is heard again", self._since_start(now)
                )
            )
        self._arm_silence(now)
        return actions

    def _on_no_voice(self, event: NoVoice, now: float) -> Actions:
        policy = self._route.no_response
        if policy is not None and self._silence_watch_applies():
            if event.seconds < policy.after:
                return []
            return self._no_response(now, f"no voice from the agent for {event.seconds:g} s")
        if policy is None:
            why = f"route {self._route.name!r} has no no-response procedure"
        elif self._no_response_started:
            why = "the no-response procedure is already running"
        else:
            why = "silence counts only while an operator handles a connected call"
        return [
            TimelineNote(NoteKind.SKIPPED, f"{event.seconds:g} s without voice not acted on", why)
        ]

    def _on_silence_timer(self, _: str, at: float) -> Actions:
        policy = self._route.no_response
        assert policy is not None  # only armed when the route has one
        return self._no_response(at, f"no voice from the agent for {policy.after:g} s")

    def _no_response(self, now: float, reason: str) -> Actions:
        if self._no_response_started:
            return []
        self._no_response_started = True
        self._timers.pop((TimerKind.SILENCE, ""), None)
        if self._route.no_response is None:
            actions: Actions = [
                TimelineNote(
                    NoteKind.SKIPPED,
                    "no-response procedure not started",
                    f"{reason}; route {self._route.name!r} has none",
                )
            ]
        else:
            actions = [
                StartNoResponseProcedure(reason),
                TimelineNote(NoteKind.TAKEN, "no-response procedure started", reason),
            ]
        return actions + self._fire(Trigger.NO_RESPONSE, now, reason)

    # --- cues, outcome, closure ------------------------------------------------------------

    def _on_cue(self, event: CueDetected, now: float) -> Actions:
        self._context = replace(self._context, cues=self._context.cues | {event.cue})
        actions: Actions = []
        if self._phase in (Phase.OFFERING, Phase.EXHAUSTED):
            decision = select_route(self._plans, self._context, self._wall(now))
            if decision.route.name != self._route.name:
                actions += self._cancel_offers()
                actions.append(
                    TimelineNote(
                        NoteKind.TAKEN,
                        f"re-routed from {self._route.name!r} to {decision.route.name!r}",
                        f"cue {event.cue!r} detected before anyone accepted",
                    )
                )
                self._route = decision.route
                actions += self._start_step(0, now)
        return actions + self._on_cue_heard(event.cue, event.text or event.cue, now, "detected")

    def _on_cue_heard(self, cue: str, heard: str, now: float, when: str) -> Actions:
        """Inform managers if the route's distress trigger covers this cue."""
        notify = self._route.triggers.distress_cue
        if notify is not None and cue not in notify.cues:
            return [
                TimelineNote(
                    NoteKind.SKIPPED,
                    f"managers not informed of cue {cue!r}",
                    f"route {self._route.name!r} informs them of: {', '.join(notify.cues)}",
                )
            ]
        self._last_cue = heard
        return self._fire(Trigger.DISTRESS_CUE, now, f"cue {cue!r} {when}")

    def _on_outcome(self, event: OutcomeRecorded, now: float) -> Actions:
        if self._outcome is not None:
            raise EscalationProtocolError(
                f"outcome {event.outcome.value} recorded after {self._outcome.value}"
            )
        self._outcome = event.outcome
        self._timers.pop((TimerKind.SILENCE, ""), None)
        trigger = OUTCOME_TRIGGERS[event.outcome]
        if trigger is None:
            return [
                TimelineNote(
                    NoteKind.SKIPPED,
                    "managers not informed",
                    f"outcome {event.outcome.value} informs nobody",
                )
            ]
        return self._fire(trigger, now, f"outcome {event.outcome.value}")

    def _on_closed(self, _: AlarmClosed, now: float) -> Actions:
        actions = self._cancel_offers()
        for kind in (TimerKind.STEP, TimerKind.CALLBACK, TimerKind.SILENCE):
            self._timers.pop((kind, ""), None)
        self._phase = Phase.CLOSED
        running = [t.value for t, c in self._chains.items() if not c.done]
        after = f"; still informing managers of: {', '.join(running)}" if running else ""
        actions.append(TimelineNote(NoteKind.TAKEN, "escalation stopped", f"alarm closed{after}"))
        return actions

    # --- manager chains --------------------------------------------------------------------

    def _fire(self, trigger: Trigger, now: float, why: str) -> Actions:
        notify = self._route.triggers.get(trigger)
        if notify is None:
            return [
                TimelineNote(
                    NoteKind.SKIPPED,
                    f"managers not informed of {trigger.value}",
                    f"{why}; route {self._route.name!r} informs nobody",
                )
            ]
        if trigger in self._chains:
            return [
                TimelineNote(NoteKind.SKIPPED, f"managers already informed of {trigger.value}", why)
            ]
        message = notify.message.format_map(self._message_fields())
        chain = _Chain(trigger, notify.notify, message)
        self._chains[trigger] = chain
        note = TimelineNote(
            NoteKind.TAKEN,
            f"informing contact list {notify.notify!r} of {trigger.value}",
            why,
        )
        return [note, *self._next_contact(chain, now)]

    def _message_fields(self) -> dict[str, str]:
        ctx = self._context
        return {
            "alarm_id": ctx.alarm_id,
            "alarm_type": ctx.alarm_type.value,
            "agent": ctx.agent,
            "site": ctx.site or "unknown site",
            "tenant": ctx.tenant,
            "outcome": self._outcome.value if self._outcome else "none yet",
            "cue": self._last_cue or "none",
        }

    def _next_contact(self, chain: _Chain, now: float) -> Actions:
        contacts = self._plans.contact_lists[chain.contact_list]
        actions: Actions = []
        while True:
            chain.index += 1
            if chain.index >= len(contacts.contacts):
                if not chain.reached_in_round:
                    return actions + self._chain_exhausted(
                        chain, f"no contact of list {chain.contact_list!r} is available now"
                    )
                if chain.round >= contacts.rounds:
                    return actions + self._chain_exhausted(
                        chain,
                        f"no contact of list {chain.contact_list!r} acknowledged "
                        f"{chain.trigger.value} in {contacts.rounds} rounds",
                    )
                chain.round += 1
                chain.index = 0
                chain.reached_in_round = False
            contact = contacts.contacts[chain.index]
            unavailable = contact_availability(self._plans, contact, self._wall(now))
            if unavailable is not None:
                actions.append(
                    TimelineNote(
                        NoteKind.SKIPPED,
                        f"{contact.name} not informed of {chain.trigger.value}",
                        unavailable,
                    )
                )
                continue
            chain.reached_in_round = True
            chain.failed = set()
            self._timers[(TimerKind.ACK, chain.trigger.value)] = now + contacts.ack_timeout
            return actions + self._notify(chain, contact, contacts)

    def _notify(self, chain: _Chain, contact: Contact, contacts: ContactList) -> Actions:
        channels = [(Channel.SIP, contact.sip), (Channel.WEBHOOK, contact.webhook)]
        actions: Actions = [
            NotifyManager(
                chain.trigger,
                contact.name,
                contact.role,
                channel,
                address,
                chain.message,
                contacts.ack_digit,
                contacts.ack_timeout,
            )
            for channel, address in channels
            if address is not None
        ]
        used = ", ".join(a.channel.value for a in actions if isinstance(a, NotifyManager))
        role = f" ({contact.role})" if contact.role else ""
        actions.append(
            TimelineNote(
                NoteKind.TAKEN,
                f"informing {contact.name}{role} of {chain.trigger.value} by {used}",
                f"round {chain.round} of {contacts.rounds}; "
                f"acknowledge within {contacts.ack_timeout:g} s",
            )
        )
        return actions

    def _chain_exhausted(self, chain: _Chain, reason: str) -> Actions:
        chain.done = True
        return [
            EscalateToSupervisor(reason),
            TimelineNote(NoteKind.FAILED, "escalated to the supervisor", reason),
        ]

    def _chain_for(self, trigger: Trigger, contact: str) -> _Chain:
        chain = self._chains.get(trigger)
        if chain is None:
            raise EscalationProtocolError(f"managers were never informed of {trigger.value}")
        if self._plans.contact_lists[chain.contact_list].contact(contact) is None:
            raise EscalationProtocolError(
                f"{contact!r} is not in contact list {chain.contact_list!r}"
            )
        return chain

    def _current_contact(self, chain: _Chain) -> Contact | None:
        if chain.done:
            return None
        return self._plans.contact_lists[chain.contact_list].contacts[chain.index]

    def _on_ack_timeout(self, trigger: str, at: float) -> Actions:
        chain = self._chains[Trigger(trigger)]
        contact = self._current_contact(chain)
        assert contact is not None  # the timer is dropped when the chain ends
        ack_timeout = self._plans.contact_lists[chain.contact_list].ack_timeout
        note = TimelineNote(
            NoteKind.FAILED,
            f"{contact.name} did not acknowledge {chain.trigger.value}",
            f"no acknowledgement within {ack_timeout:g} s",
        )
        return [note, *self._next_contact(chain, at)]

    def _on_manager_ack(self, event: ManagerAcknowledged, now: float) -> Actions:
        chain = self._chain_for(event.trigger, event.contact)
        what = f"{event.trigger.value} acknowledged by {event.contact}"
        if chain.done:
            return [TimelineNote(NoteKind.RESOLVED, what, "after the chain had ended")]
        chain.done = True
        self._timers.pop((TimerKind.ACK, chain.trigger.value), None)
        return [
            TimelineNote(NoteKind.RESOLVED, what, f"round {chain.round}, {self._since_start(now)}")
        ]

    def _on_manager_failed(self, event: ManagerFailed, now: float) -> Actions:
        chain = self._chain_for(event.trigger, event.contact)
        actions: Actions = [
            TimelineNote(
                NoteKind.FAILED,
                f"{event.channel.value} to {event.contact} failed",
                event.reason,
            )
        ]
        contact = self._current_contact(chain)
        if contact is None or contact.name != event.contact:
            return actions
        chain.failed.add(event.channel)
        reachable = {
            c for c, a in ((Channel.SIP, contact.sip), (Channel.WEBHOOK, contact.webhook)) if a
        }
        if reachable <= chain.failed:
            self._timers.pop((TimerKind.ACK, chain.trigger.value), None)
            actions += self._next_contact(chain, now)
        return actions


_Handler = Callable[[EscalationMachine, Any, float], Actions]
_OPEN = frozenset(Phase) - {Phase.CLOSED}
_WAITING = frozenset({Phase.OFFERING, Phase.EXHAUSTED})

#: For each event: the phases in which it may happen, and its handler.
_TRANSITIONS: dict[type[EscalationEvent], tuple[frozenset[Phase], _Handler]] = {
    OperatorAccepted: (_WAITING, EscalationMachine._on_accepted),
    OperatorDeclined: (_WAITING, EscalationMachine._on_declined),
    OperatorReleased: (frozenset({Phase.ACCEPTED}), EscalationMachine._on_released),
    BackupAccepted: (_WAITING | {Phase.BACKUP}, EscalationMachine._on_backup_accepted),
    BackupFailed: (frozenset({Phase.BACKUP}), EscalationMachine._on_backup_failed),
    CallDropped: (_OPEN, EscalationMachine._on_call_dropped),
    VoiceConnected: (_OPEN, EscalationMachine._on_voice_connected),
    CallbackFailed: (_OPEN, EscalationMachine._on_callback_failed),
    VoiceActivity: (_OPEN, EscalationMachine._on_voice_activity),
    NoVoice: (_OPEN, EscalationMachine._on_no_voice),
    CueDetected: (_OPEN, EscalationMachine._on_cue),
    OutcomeRecorded: (_OPEN, EscalationMachine._on_outcome),
    AlarmClosed: (_OPEN, EscalationMachine._on_closed),
    ManagerAcknowledged: (frozenset(Phase), EscalationMachine._on_manager_ack),
    ManagerFailed: (frozenset(Phase), EscalationMachine._on_manager_failed),
}

_TimerHandler = Callable[[EscalationMachine, str, float], Actions]

#: For each timer: its handler, called with the timer's detail and its due time.
_TIMER_HANDLERS: dict[TimerKind, _TimerHandler] = {
    TimerKind.STEP: EscalationMachine._on_step_timeout,
    TimerKind.RING: EscalationMachine._on_ring_timeout,
    TimerKind.CALLBACK: EscalationMachine._on_callback_timer,
    TimerKind.SILENCE: EscalationMachine._on_silence_timer,
    TimerKind.ACK: EscalationMachine._on_ack_timeout,
}
