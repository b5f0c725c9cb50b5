"""The escalation machine, step kind by step kind, with a fake clock (plain floats)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.alarm.types import AlarmType, Outcome
from gateway.dialplan import (
    AlarmClosed,
    AlarmContext,
    BackupAccepted,
    BackupFailed,
    CallbackFailed,
    CallbackPhone,
    CallDropped,
    CancelOffer,
    Channel,
    CueDetected,
    DialplanUsageError,
    EscalateToSupervisor,
    EscalationAction,
    EscalationEvent,
    EscalationMachine,
    EscalationProtocolError,
    ForwardToBackup,
    ManagerAcknowledged,
    ManagerFailed,
    NoteKind,
    NotifyManager,
    NoVoice,
    Offer,
    OperatorAccepted,
    OperatorDeclined,
    OperatorReleased,
    OutcomeRecorded,
    Phase,
    StartNoResponseProcedure,
    Strategy,
    TimelineNote,
    Trigger,
    VoiceActivity,
    VoiceConnected,
    parse_plan_set,
)
from gateway.dialplan.machine import _TRANSITIONS

PLAN = """\
timezone: Europe/Paris
operator_groups:
  duty: {members: [ann, bob]}
  turn: {members: [xav, yan, zoe], strategy: in_turn, ring_time: 5}
  rr: {members: [xav, yan, zoe], strategy: round_robin, ring_time: 5}
  senior: {members: [sue]}
backup_centres:
  partner: {dc09_receiver: partner}
  trunk: {sip_trunk: "sip:backup@trunk.example.org"}
contact_lists:
  managers:
    ack_timeout: 30
    rounds: 2
    contacts:
      - name: Day
        role: site manager
        sip: "sip:day@pbx.example.org"
        webhook: https://hooks.example.org/day
        available: [{days: [mon-fri], from: "08:00", to: "18:00"}]
      - {name: Night, sip: "sip:night@pbx.example.org"}
  weekend-only:
    contacts:
      - {name: W, sip: "sip:w@pbx.example.org", available: [{days: [sat, sun]}]}
routes:
  - name: distress
    match: {cues: [distress]}
    steps: [{offer: senior, timeout: 10}]
    triggers:
      distress_cue: {notify: managers, message: "Distress heard for {agent}: {cue}"}
  - name: turns
    match: {tenants: [turns]}
    steps: [{offer: turn, timeout: 18}, {backup: partner, timeout: 30}]
  - name: rr
    match: {tenants: [rr]}
    steps: [{offer: rr, timeout: 60}]
  - name: unreachable
    match: {tenants: [weekend]}
    steps: [{offer: duty}]
    triggers: {dispatch: {notify: weekend-only, message: "dispatched"}}
  - name: bare
    match: {tenants: [bare]}
    steps: [{offer: duty}]
  - name: widen-same
    match: {tenants: [same]}
    steps: [{offer: duty, timeout: 5}, {overflow: duty, timeout: 5}]
  - name: backup-only
    match: {tenants: [remote]}
    steps: [{backup: partner, timeout: 30}]
    callback: {attempts: 1, spacing: 20, first_after: 5}
    triggers:
      no_response: {notify: managers, message: "No response from {agent}"}
  - name: default
    steps:
      - {offer: duty, timeout: 10}
      - {overflow: senior, timeout: 20}
      - {backup: partner, timeout: 30}
      - {backup: trunk, timeout: 30}
    callback: {attempts: 3, spacing: 20}
    no_response: {after: 30}
    triggers:
      dispatch: {notify: managers, message: "Dispatched for {agent} at {site}: {outcome}"}
      doubt_removed: {notify: managers, message: "Closed: {outcome}"}
      no_response: {notify: managers, message: "No response from {agent}"}
"""
PLANS = parse_plan_set({"test.yaml": PLAN})
MONDAY = datetime.fromisoformat("2026-12-07T10:00:00+01:00")
SATURDAY = datetime.fromisoformat("2026-12-12T10:00:00+01:00")

A = TypeVar("A", bound=EscalationAction)


def make(tenant: str = "acme", wall: datetime = MONDAY, **changes: object) -> EscalationMachine:
    fields: dict[str, object] = {
        "alarm_id": "a1",
        "tenant": tenant,
        "alarm_type": AlarmType.FALL,
        "agent": "Sam",
        "site": "Depot",
    }
    fields.update(changes)
    return EscalationMachine(PLANS, AlarmContext(**fields), now=100.0, wall=wall)  # type: ignore[arg-type]


def phase(machine: EscalationMachine) -> Phase:
    """The phase, read through a call so mypy does not narrow it across events."""
    return machine.phase


def of(actions: Sequence[EscalationAction], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def notes(actions: Sequence[EscalationAction]) -> list[tuple[NoteKind, str]]:
    return [(n.kind, n.text) for n in of(actions, TimelineNote)]


def advance(machine: EscalationMachine) -> tuple[float, list[EscalationAction]]:
    """Jump to the next deadline and fire it."""
    deadline = machine.next_deadline()
    assert deadline is not None
    return deadline, machine.handle_timeout(deadline)


# --- offers ---------------------------------------------------------------------------------


def test_offer_overflow_backups_then_everyone_and_supervisor() -> None:
    m = make()
    assert of(m.initial_actions, Offer) == [Offer("duty", ("ann", "bob"), Strategy.ALL_AT_ONCE)]
    assert notes(m.initial_actions) == [
        (NoteKind.TAKEN, "routed"),
        (NoteKind.TAKEN, "offered to group 'duty'"),
    ]
    assert phase(m) is Phase.OFFERING and m.next_deadline() == 110.0

    at, actions = advance(m)  # 110: overflow, duty keeps ringing
    assert at == 110.0
    assert actions == [
        TimelineNote(
            NoteKind.FAILED,
            "nobody in group 'duty' accepted",
            "accept time-out of 10 s, 10.0 s after the alarm",
        ),
        TimelineNote(
            NoteKind.TAKEN,
            "overflowed to group 'senior'",
            "step 2 of 4 of route 'default', 10.0 s after the alarm: accept within 20 s; "
            "earlier offers keep ringing",
        ),
        Offer("senior", ("sue",), Strategy.ALL_AT_ONCE),
    ]

    at, actions = advance(m)  # 130: local offers withdrawn, first backup
    assert at == 130.0
    assert of(actions, CancelOffer) == [
        CancelOffer("duty", ("ann", "bob")),
        CancelOffer("senior", ("sue",)),
    ]
    assert of(actions, ForwardToBackup) == [ForwardToBackup("partner", "partner", None)]
    assert phase(m) is Phase.BACKUP

    actions = m.handle(BackupFailed("partner", "NAK from receiver"), 135.0)
    assert notes(actions)[0] == (NoteKind.FAILED, "backup centre 'partner' failed")
    assert of(actions, ForwardToBackup) == [
        ForwardToBackup("trunk", None, "sip:backup@trunk.example.org")
    ]
    assert m.next_deadline() == 165.0

    at, actions = advance(m)  # 165: nothing left
    assert of(actions, EscalateToSupervisor) == [
        EscalateToSupervisor(
            "nobody took the alarm after the 4 steps of route 'default', 65.0 s after the alarm"
        )
    ]
    assert of(actions, Offer) == [
        Offer("duty", ("ann", "bob"), Strategy.ALL_AT_ONCE),
        Offer("senior", ("sue",), Strategy.ALL_AT_ONCE),
    ]
    assert phase(m) is Phase.EXHAUSTED and m.next_deadline() is None

    actions = m.handle(OperatorAccepted("sue"), 170.0)
    assert of(actions, CancelOffer) == [CancelOffer("duty", ("ann", "bob"))]
    assert notes(actions) == [(NoteKind.RESOLVED, "accepted by sue")]
    assert phase(m) is Phase.ACCEPTED


def test_late_timeout_call_catches_up_in_order() -> None:
    m = make()
    actions = m.handle_timeout(500.0)
    kinds = [type(a).__name__ for a in actions if not isinstance(a, TimelineNote)]
    assert kinds == [
        "Offer",
        "CancelOffer",
        "CancelOffer",
        "ForwardToBackup",
        "ForwardToBackup",
        "EscalateToSupervisor",
        "Offer",
        "Offer",
    ]
    assert phase(m) is Phase.EXHAUSTED


def test_accept_withdraws_the_offer_from_the_others() -> None:
    m = make()
    actions = m.handle(OperatorAccepted("bob"), 104.0)
    assert of(actions, CancelOffer) == [CancelOffer("duty", ("ann",))]
    assert actions[-1] == TimelineNote(
        NoteKind.RESOLVED, "accepted by bob", "4.0 s after the alarm"
    )
    assert m.next_deadline() is None  # no voice call yet, so no silence watch


def test_accept_by_someone_not_offered_is_noted() -> None:
    m = make()
    assert notes(m.handle(OperatorAccepted("boss"), 101.0))[-1] == (
        NoteKind.RESOLVED,
        "accepted by boss (not among the members offered to)",
    )


def test_in_turn_rings_members_one_by_one_and_skips_who_declined() -> None:
    m = make("turns")
    assert of(m.initial_actions, Offer) == [Offer("turn", ("xav",), Strategy.IN_TURN)]
    _, actions = advance(m)  # 105: xav rang 5 s
    assert of(actions, CancelOffer) == [CancelOffer("turn", ("xav",))]
    assert of(actions, Offer) == [Offer("turn", ("yan",), Strategy.IN_TURN)]
    assert notes(actions)[0] == (NoteKind.FAILED, "xav did not accept")

    actions = m.handle(OperatorDeclined("yan", "busy on another alarm"), 107.0)
    assert notes(actions)[0] == (NoteKind.FAILED, "yan declined")
    assert of(actions, CancelOffer) == []
    assert of(actions, Offer) == [Offer("turn", ("zoe",), Strategy.IN_TURN)]

    at, actions = advance(m)  # 112: zoe rang 5 s; the turn comes back to xav
    assert at == 112.0
    assert of(actions, Offer) == [Offer("turn", ("xav",), Strategy.IN_TURN)]

    at, actions = advance(m)  # 117: xav rang again; yan declined, so zoe
    assert at == 117.0
    assert of(actions, Offer) == [Offer("turn", ("zoe",), Strategy.IN_TURN)]

    at, actions = advance(m)  # 118: the step's accept time-out
    assert at == 118.0
    assert of(actions, CancelOffer) == [CancelOffer("turn", ("zoe",))]
    assert of(actions, ForwardToBackup) == [ForwardToBackup("partner", "partner", None)]

    actions = m.handle(BackupAccepted("partner"), 120.0)
    assert notes(actions) == [(NoteKind.RESOLVED, "taken by backup centre 'partner'")]
    assert phase(m) is Phase.WITH_BACKUP and m.next_deadline() is None


def test_when_every_member_declines_the_next_step_starts_at_once() -> None:
    m = make("turns")
    m.handle(OperatorDeclined("xav"), 101.0)
    m.handle(OperatorDeclined("yan"), 102.0)
    actions = m.handle(OperatorDeclined("zoe"), 103.0)
    assert (NoteKind.FAILED, "every member of group 'turn' declined") in notes(actions)
    assert of(actions, ForwardToBackup) == [ForwardToBackup("partner", "partner", None)]


def test_all_at_once_decline_by_everyone_moves_on() -> None:
    m = make()
    m.handle(OperatorDeclined("ann"), 101.0)
    actions = m.handle(OperatorDeclined("bob"), 102.0)
    assert of(actions, Offer) == [Offer("senior", ("sue",), Strategy.ALL_AT_ONCE)]
    assert notes(m.handle(OperatorDeclined("ann"), 103.0)) == [
        (NoteKind.SKIPPED, "decline from ann ignored")
    ]


def test_round_robin_starts_at_the_rotation() -> None:
    m = make("rr", rotation=4)
    assert of(m.initial_actions, Offer) == [Offer("rr", ("yan",), Strategy.ROUND_ROBIN)]


def test_release_offers_again_from_the_first_step() -> None:
    m = make()
    m.handle(OperatorAccepted("ann"), 103.0)
    actions = m.handle(OperatorReleased("ann", "console crashed"), 140.0)
    assert actions[0] == TimelineNote(
        NoteKind.FAILED, "released by ann", "console crashed; offering again from the first step"
    )
    assert of(actions, Offer) == [Offer("duty", ("ann", "bob"), Strategy.ALL_AT_ONCE)]
    assert phase(m) is Phase.OFFERING and m.next_deadline() == 150.0


def test_pilot_tenant_skips_backup_centres_and_is_not_forwarded() -> None:
    m = make(pilot=True)
    assert m.forward_to_receiver is False
    assert notes(m.initial_actions)[1] == (
        NoteKind.SKIPPED,
        "not forwarded to the monitoring centre's receiver",
    )
    actions = m.handle_timeout(130.0)
    assert of(actions, ForwardToBackup) == []
    assert [n for n in notes(actions) if n[0] is NoteKind.SKIPPED] == [
        (NoteKind.SKIPPED, "not forwarded to backup centre 'partner'"),
        (NoteKind.SKIPPED, "not forwarded to backup centre 'trunk'"),
    ]
    assert of(actions, EscalateToSupervisor) != []
    assert phase(m) is Phase.EXHAUSTED


# --- voice channel --------------------------------------------------------------------------


def test_callbacks_after_a_dropped_call_then_no_response() -> None:
    m = make()
    m.handle(VoiceConnected(), 100.0)
    actions = m.handle(CallDropped("radio lost"), 101.0)  # the offer step timer is still due at 110
    assert of(actions, CallbackPhone) == [CallbackPhone(1, 3)]
    m.handle(OperatorAccepted("ann"), 102.0)
    assert notes(m.handle(CallbackFailed(1, "busy"), 105.0)) == [
        (NoteKind.FAILED, "callback attempt 1 failed")
    ]
    assert of(advance(m)[1], CallbackPhone) == [CallbackPhone(2, 3)]  # 121
    assert of(advance(m)[1], CallbackPhone) == [CallbackPhone(3, 3)]  # 141
    at, actions = advance(m)  # 161: exhausted
    assert at == 161.0
    reason = "phone unreachable after 3 callback attempts 20 s apart"
    assert of(actions, StartNoResponseProcedure) == [StartNoResponseProcedure(reason)]
    assert of(actions, NotifyManager) == [
        NotifyManager(
            Trigger.NO_RESPONSE,
            "Day",
            "site manager",
            Channel.SIP,
            "sip:day@pbx.example.org",
            "No response from Sam",
            "1",
            30.0,  # the contact list's ack_timeout
        ),
        NotifyManager(
            Trigger.NO_RESPONSE,
            "Day",
            "site manager",
            Channel.WEBHOOK,
            "https://hooks.example.org/day",
            "No response from Sam",
            "1",
            30.0,  # the contact list's ack_timeout
        ),
    ]


def test_answered_callback_stops_the_attempts() -> None:
    m = make()
    m.handle(OperatorAccepted("ann"), 101.0)
    m.handle(VoiceConnected(), 101.0)
    m.handle(CallDropped(), 102.0)
    assert notes(m.handle(CallDropped(), 103.0)) == [(NoteKind.SKIPPED, "no new callback cycle")]
    actions = m.handle(VoiceConnected(), 110.0)
    assert notes(actions) == [(NoteKind.RESOLVED, "phone answered callback attempt 1")]
    assert m.next_deadline() == 140.0  # only the silence watch remains


def test_route_without_callback_says_so() -> None:
    m = make("bare")
    assert m.handle(CallDropped("hung up"), 101.0) == [
        TimelineNote(
            NoteKind.SKIPPED,
            "phone not called back",
            "call dropped (hung up); route 'bare' has no callback",
        )
    ]


def test_silence_while_accepted_starts_the_no_response_procedure() -> None:
    m = make()
    m.handle(VoiceConnected(), 100.0)
    m.handle(OperatorAccepted("ann"), 102.0)
    assert m.next_deadline() == 132.0
    m.handle(VoiceActivity(), 120.0)
    assert m.next_deadline() == 150.0
    at, actions = advance(m)
    assert at == 150.0
    assert of(actions, StartNoResponseProcedure) == [
        StartNoResponseProcedure("no voice from the agent for 30 s")
    ]
    assert (NoteKind.TAKEN, "informing contact list 'managers' of no_response") in notes(actions)
    actions = m.handle(VoiceActivity(), 155.0)
    assert notes(actions) == [(NoteKind.RESOLVED, "the agent's voice is heard again")]
    assert m.next_deadline() == 180.0  # ack time-out of Day (150 + 30); silence re-armed at 185


def test_no_voice_reports() -> None:
    m = make()
    m.handle(VoiceConnected(), 100.0)
    assert m.handle(NoVoice(40), 101.0) == [
        TimelineNote(
            NoteKind.SKIPPED,
            "40 s without voice not acted on",
            "silence counts only while an operator handles a connected call",
        )
    ]
    m.handle(OperatorAccepted("ann"), 102.0)
    assert m.handle(NoVoice(10), 103.0) == []
    actions = m.handle(NoVoice(31.5), 104.0)
    assert of(actions, StartNoResponseProcedure) == [
        StartNoResponseProcedure("no voice from the agent for 31.5 s")
    ]
    assert notes(m.handle(NoVoice(60), 105.0))[0] == (
        NoteKind.SKIPPED,
        "60 s without voice not acted on",
    )
    bare = make("bare")
    assert bare.handle(NoVoice(60), 101.0)[0].reason == "route 'bare' has no no-response procedure"  # type: ignore[attr-defined]


# --- managers -------------------------------------------------------------------------------


def test_dispatch_informs_managers_in_order_until_one_acknowledges() -> None:
    m = make()
    m.handle(OperatorAccepted("ann"), 102.0)
    actions = m.handle(OutcomeRecorded(Outcome.INTERVENTION_DISPATCHED), 110.0)
    message = "Dispatched for Sam at Depot: intervention_dispatched"
    assert of(actions, NotifyManager) == [
        NotifyManager(
            Trigger.DISPATCH,
            "Day",
            "site manager",
            Channel.SIP,
            "sip:day@pbx.example.org",
            message,
            "1",
            30.0,  # the contact list's ack_timeout
        ),
        NotifyManager(
            Trigger.DISPATCH,
            "Day",
            "site manager",
            Channel.WEBHOOK,
            "https://hooks.example.org/day",
            message,
            "1",
            30.0,  # the contact list's ack_timeout
        ),
    ]
    assert actions[-1] == TimelineNote(
        NoteKind.TAKEN,
        "informing Day (site manager) of dispatch by sip, webhook",
        "round 1 of 2; acknowledge within 30 s",
    )
    # one channel failing is noted; both failing moves on at once
    assert (
        of(
            m.handle(ManagerFailed(Trigger.DISPATCH, "Day", Channel.SIP, "486 Busy"), 111.0),
            NotifyManager,
        )
        == []
    )
    actions = m.handle(ManagerFailed(Trigger.DISPATCH, "Day", Channel.WEBHOOK, "HTTP 500"), 112.0)
    assert [a.contact for a in of(actions, NotifyManager)] == ["Night"]
    m.handle(AlarmClosed(), 115.0)
    assert not m.finished  # managers are still being informed
    actions = m.handle(ManagerAcknowledged(Trigger.DISPATCH, "Night"), 120.0)
    assert actions == [
        TimelineNote(
            NoteKind.RESOLVED, "dispatch acknowledged by Night", "round 1, 20.0 s after the alarm"
        )
    ]
    assert m.finished and m.next_deadline() is None


def test_chain_repeats_rounds_then_raises_to_the_supervisor() -> None:
    m = make()
    m.handle(OutcomeRecorded(Outcome.FALSE_ALARM), 100.0)
    m.handle(AlarmClosed(), 100.0)
    contacts = []
    supervisor: list[EscalateToSupervisor] = []
    while m.next_deadline() is not None:
        _, actions = advance(m)
        contacts += [a.contact for a in of(actions, NotifyManager) if a.channel is Channel.SIP]
        supervisor += of(actions, EscalateToSupervisor)
    assert contacts == ["Night", "Day", "Night"]  # round 1 began with Day at 100
    assert supervisor == [
        EscalateToSupervisor("no contact of list 'managers' acknowledged doubt_removed in 2 rounds")
    ]
    assert m.finished
    late = m.handle(ManagerAcknowledged(Trigger.DOUBT_REMOVED, "Day"), 300.0)
    assert late == [
        TimelineNote(
            NoteKind.RESOLVED, "doubt_removed acknowledged by Day", "after the chain had ended"
        )
    ]


def test_contacts_outside_their_hours_are_skipped_with_the_reason() -> None:
    m = make(wall=SATURDAY)
    actions = m.handle(OutcomeRecorded(Outcome.AGENT_SAFE), 100.0)
    assert (
        TimelineNote(
            NoteKind.SKIPPED,
            "Day not informed of doubt_removed",
            "outside availability hours (mon,tue,wed,thu,fri 08:00-18:00 Europe/Paris; "
            "now Sat 10:00)",
        )
        in actions
    )
    assert [a.contact for a in of(actions, NotifyManager)] == ["Night"]


def test_nobody_available_raises_to_the_supervisor_at_once() -> None:
    m = make("weekend")
    actions = m.handle(OutcomeRecorded(Outcome.INTERVENTION_DISPATCHED), 100.0)
    assert of(actions, NotifyManager) == []
    assert of(actions, EscalateToSupervisor) == [
        EscalateToSupervisor("no contact of list 'weekend-only' is available now")
    ]


def test_outcomes_without_notification_and_triggers_fire_once() -> None:
    m = make()
    assert m.handle(OutcomeRecorded(Outcome.TEST_COMPLETED), 100.0) == [
        TimelineNote(
            NoteKind.SKIPPED, "managers not informed", "outcome test_completed informs nobody"
        )
    ]
    bare = make("bare")
    assert notes(bare.handle(OutcomeRecorded(Outcome.INTERVENTION_DISPATCHED), 100.0)) == [
        (NoteKind.SKIPPED, "managers not informed of dispatch")
    ]
    m2 = make()
    m2.handle(OperatorAccepted("ann"), 101.0)
    m2.handle(NoVoice(40), 102.0)  # not connected: skipped
    m2.handle(VoiceConnected(), 103.0)
    m2.handle(NoVoice(40), 104.0)  # informs managers of no_response
    actions = m2.handle(OutcomeRecorded(Outcome.NO_RESPONSE), 105.0)
    assert notes(actions) == [(NoteKind.SKIPPED, "managers already informed of no_response")]


# --- cues -----------------------------------------------------------------------------------


def test_distress_cue_reroutes_an_unaccepted_alarm_and_informs_managers() -> None:
    m = make()
    actions = m.handle(CueDetected("distress", "help me"), 103.0)
    assert of(actions, CancelOffer) == [CancelOffer("duty", ("ann", "bob"))]
    assert (NoteKind.TAKEN, "re-routed from 'default' to 'distress'") in notes(actions)
    assert of(actions, Offer) == [Offer("senior", ("sue",), Strategy.ALL_AT_ONCE)]
    assert {a.message for a in of(actions, NotifyManager)} == {"Distress heard for Sam: help me"}
    assert m.route.name == "distress"
    assert notes(m.handle(CueDetected("distress"), 104.0)) == [
        (NoteKind.SKIPPED, "managers already informed of distress_cue")
    ]


def test_cue_known_at_reception_routes_and_informs() -> None:
    m = make(cues=frozenset({"distress"}))
    assert m.route.name == "distress"
    assert of(m.initial_actions, NotifyManager) != []


def test_cue_after_acceptance_does_not_reroute() -> None:
    m = make()
    m.handle(OperatorAccepted("ann"), 101.0)
    actions = m.handle(CueDetected("distress"), 102.0)
    assert m.route.name == "default"
    assert notes(actions) == [(NoteKind.SKIPPED, "managers not informed of distress_cue")]


# --- protocol errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prepare", "event", "message"),
    [
        (
            [],
            OperatorReleased("ann"),
            "OperatorReleased cannot happen while the escalation is offering",
        ),
        (
            [],
            BackupFailed("partner", "x"),
            "BackupFailed cannot happen while the escalation is offering",
        ),
        (
            [],
            BackupAccepted("trunk"),
            "backup centre 'trunk' accepted an alarm never forwarded to it",
        ),
        (
            [],
            ManagerAcknowledged(Trigger.DISPATCH, "Day"),
            "managers were never informed of dispatch",
        ),
        ([], CallbackFailed(1, "x"), "callback attempt 1 failed, but it was never requested"),
        (
            [OutcomeRecorded(Outcome.AGENT_SAFE)],
            ManagerFailed(Trigger.DOUBT_REMOVED, "Ghost", Channel.SIP, "x"),
            "'Ghost' is not in contact list 'managers'",
        ),
        (
            [OutcomeRecorded(Outcome.AGENT_SAFE)],
            OutcomeRecorded(Outcome.FALSE_ALARM),
            "outcome false_alarm recorded after agent_safe",
        ),
        (
            [AlarmClosed()],
            OperatorAccepted("ann"),
            "OperatorAccepted cannot happen while the escalation is closed",
        ),
        (
            [AlarmClosed()],
            AlarmClosed(),
            "AlarmClosed cannot happen while the escalation is closed",
        ),
    ],
)
def test_illegal_events_raise_and_leave_the_machine_unchanged(
    prepare: list[EscalationEvent], event: EscalationEvent, message: str
) -> None:
    m = make()
    for earlier in prepare:
        m.handle(earlier, 101.0)
    phase, deadline = m.phase, m.next_deadline()
    with pytest.raises(EscalationProtocolError) as caught:
        m.handle(event, 102.0)
    assert str(caught.value) == message
    assert (m.phase, m.next_deadline()) == (phase, deadline)


def test_backup_failure_from_another_centre_is_refused() -> None:
    m = make()
    m.handle_timeout(130.0)
    with pytest.raises(EscalationProtocolError) as caught:
        m.handle(BackupFailed("trunk", "x"), 131.0)
    assert str(caught.value) == "backup centre 'trunk' failed, but the alarm waits for 'partner'"


def test_time_must_not_go_backwards() -> None:
    m = make()
    with pytest.raises(DialplanUsageError) as caught:
        m.handle(VoiceActivity(), 99.0)
    assert str(caught.value) == "time went backwards: 99.0 after 100.0"


def test_every_event_type_has_a_transition() -> None:
    def subclasses(cls: type) -> set[type]:
        found: set[type] = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found)) if found else found

    # slotted dataclasses leave their pre-slots twin in __subclasses__: compare names
    assert {c.__name__ for c in subclasses(EscalationEvent)} == {c.__name__ for c in _TRANSITIONS}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: OperatorAccepted(""), "OperatorAccepted.member must not be empty"),
        (lambda: BackupFailed("partner", ""), "BackupFailed.reason must not be empty"),
        (lambda: NoVoice(0), "NoVoice.seconds must be > 0, got 0"),
        (lambda: CallbackFailed(0, "x"), "CallbackFailed.attempt must be >= 1, got 0"),
        (lambda: CueDetected(""), "CueDetected.cue must not be empty"),
    ],
)
def test_events_check_their_values(build: object, message: str) -> None:
    with pytest.raises(DialplanUsageError) as caught:
        build()  # type: ignore[operator]
    assert str(caught.value) == message


# --- properties over random event sequences --------------------------------------------------

EVENTS: list[EscalationEvent] = [
    OperatorAccepted("ann"),
    OperatorDeclined("ann"),
    OperatorDeclined("bob"),
    OperatorDeclined("xav"),
    OperatorReleased("ann"),
    BackupAccepted("partner"),
    BackupFailed("partner", "NAK"),
    CallDropped(),
    VoiceConnected(),
    CallbackFailed(1, "busy"),
    VoiceActivity(),
    NoVoice(45),
    CueDetected("distress"),
    ManagerAcknowledged(Trigger.NO_RESPONSE, "Night"),
    ManagerFailed(Trigger.NO_RESPONSE, "Day", Channel.SIP, "486"),
    OutcomeRecorded(Outcome.INTERVENTION_DISPATCHED),
    AlarmClosed(),
]
#: Actions that must never appear without a timeline note saying why.
VISIBLE = (
    Offer,
    ForwardToBackup,
    CallbackPhone,
    StartNoResponseProcedure,
    NotifyManager,
    EscalateToSupervisor,
)


@settings(max_examples=150, deadline=None)
@given(
    tenant=st.sampled_from(["acme", "turns", "rr", "bare", "weekend"]),
    pilot=st.booleans(),
    script=st.lists(
        st.tuples(st.floats(0, 40), st.sampled_from(EVENTS), st.booleans()), max_size=25
    ),
)
def test_random_sequences_keep_the_safety_properties(
    tenant: str, pilot: bool, script: list[tuple[float, EscalationEvent, bool]]
) -> None:
    m = make(tenant, pilot=pilot)
    batches: list[list[EscalationAction]] = [list(m.initial_actions)]
    now = 100.0
    for step, event, fire_timers in script:
        now += step
        if fire_timers:
            batches.append(m.handle_timeout(now))
        with contextlib.suppress(EscalationProtocolError):
            batches.append(m.handle(event, now))
        # an alarm waiting for someone always has something scheduled
        if phase(m) in (Phase.OFFERING, Phase.BACKUP):
            assert m.next_deadline() is not None
    if phase(m) is not Phase.CLOSED:
        batches.append(m.handle(AlarmClosed(), now))
    for _ in range(100):  # chains are finite: the machine finishes by itself
        deadline = m.next_deadline()
        if deadline is None:
            break
        now = max(now, deadline)
        batches.append(m.handle_timeout(now))
    assert m.finished
    for batch in batches:
        if any(isinstance(a, VISIBLE) for a in batch):
            assert of(batch, TimelineNote), batch
        if pilot:
            assert of(batch, ForwardToBackup) == []


def test_callbacks_under_way_survive_a_reroute_to_a_route_without_them() -> None:
    m = make()
    m.handle(CallDropped(), 101.0)
    m.handle(CueDetected("distress"), 102.0)  # 'distress' has no callback policy
    assert m.route.name == "distress"
    actions = m.handle_timeout(121.0)
    assert of(actions, CallbackPhone) == [CallbackPhone(2, 3)]


def test_only_the_listed_cues_inform_managers() -> None:
    m = make(cues=frozenset({"distress"}))
    actions = m.handle(CueDetected("shouting", "-4 dBFS, 420 Hz"), 101.0)
    assert actions == [
        TimelineNote(
            NoteKind.SKIPPED,
            "managers not informed of cue 'shouting'",
            "route 'distress' informs them of: distress",
        )
    ]


def test_replaying_the_same_inputs_gives_the_same_actions() -> None:
    script: list[tuple[float, EscalationEvent | None]] = [
        (100.0, VoiceConnected()),
        (112.0, None),
        (115.0, OperatorAccepted("sue")),
        (120.0, CallDropped()),
        (150.0, None),
        (170.0, OutcomeRecorded(Outcome.AGENT_SAFE)),
        (400.0, None),
    ]

    def run() -> list[EscalationAction]:
        m = make()
        out = list(m.initial_actions)
        for now, event in script:
            out += m.handle_timeout(now) if event is None else m.handle(event, now)
        return out

    first = run()
    assert len(first) > 20 and first == run()


# --- edge cases -----------------------------------------------------------------------------


def test_overflow_to_a_group_already_ringing_is_noted() -> None:
    m = make("same")
    _, actions = advance(m)
    assert of(actions, Offer) == []
    assert notes(actions)[-1] == (NoteKind.SKIPPED, "group 'duty' already offered")


def test_route_with_only_backup_steps_falls_to_the_supervisor() -> None:
    m = make("remote")
    assert of(m.initial_actions, ForwardToBackup) == [ForwardToBackup("partner", "partner", None)]
    _, actions = advance(m)
    assert of(actions, EscalateToSupervisor) != []
    assert notes(actions)[-1] == (NoteKind.SKIPPED, "no operator group to offer to")


def test_delayed_first_callback_and_route_without_no_response_procedure() -> None:
    m = make("remote")
    m.handle(CallDropped(), 101.0)
    assert m.next_deadline() == 106.0
    assert notes(m.handle(VoiceConnected(), 103.0)) == [
        (NoteKind.RESOLVED, "voice back before the first callback")
    ]
    m.handle(CallDropped(), 104.0)
    assert of(m.handle_timeout(109.0), CallbackPhone) == [CallbackPhone(1, 1)]
    actions = m.handle_timeout(129.0)
    assert (NoteKind.SKIPPED, "no-response procedure not started") in notes(actions)
    assert [a.contact for a in of(actions, NotifyManager)] == ["Day", "Day"]  # sip and webhook


def test_no_response_procedure_starts_once() -> None:
    m = make()
    m.handle(VoiceConnected(), 100.0)
    m.handle(OperatorAccepted("ann"), 101.0)
    m.handle(NoVoice(30), 102.0)
    m.handle(CallDropped(), 103.0)
    m.handle_timeout(143.0)  # attempts 2 and 3
    actions = m.handle_timeout(163.0)  # exhausted: procedure already running
    assert of(actions, StartNoResponseProcedure) == []
    assert (NoteKind.FAILED, "callbacks exhausted") in notes(actions)


def test_when_everyone_declines_after_the_steps_ran_out_the_supervisor_hears_again() -> None:
    m = make("bare")
    advance(m)  # exhausted: duty rings until someone accepts
    m.handle(OperatorDeclined("ann"), 120.0)
    actions = m.handle(OperatorDeclined("bob"), 121.0)
    assert of(actions, EscalateToSupervisor) == [
        EscalateToSupervisor("every operator declined the alarm after the steps ran out")
    ]


def test_failures_from_a_contact_no_longer_in_turn_are_only_noted() -> None:
    m = make()
    m.handle(OutcomeRecorded(Outcome.AGENT_SAFE), 100.0)
    advance(m)  # Day did not acknowledge: Night's turn
    actions = m.handle(ManagerFailed(Trigger.DOUBT_REMOVED, "Day", Channel.SIP, "late 408"), 131.0)
    assert notes(actions) == [(NoteKind.FAILED, "sip to Day failed")]
    m.handle(ManagerAcknowledged(Trigger.DOUBT_REMOVED, "Night"), 132.0)
    actions = m.handle(ManagerFailed(Trigger.DOUBT_REMOVED, "Night", Channel.SIP, "hung up"), 133.0)
    assert notes(actions) == [(NoteKind.FAILED, "sip to Night failed")]


def test_unknown_event_types_are_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Unheard(EscalationEvent):
        pass

    with pytest.raises(EscalationProtocolError) as caught:
        make().handle(Unheard(), 101.0)
    assert str(caught.value) == "unknown event type Unheard"


def test_without_a_voice_report_silence_is_never_timed() -> None:
    """Speech analysis off: nothing tells silence from talk, so no no-response alarm."""
    m = EscalationMachine(
        PLANS,
        AlarmContext(alarm_id="a1", tenant="acme", alarm_type=AlarmType.FALL, agent="Sam"),
        now=100.0,
        wall=MONDAY,
        hears_voice=False,
    )
    m.handle(VoiceConnected(), 100.0)
    m.handle(OperatorAccepted("ann"), 102.0)
    assert m.next_deadline() is None
    assert notes(m.handle(NoVoice(40), 103.0)) == [
        (NoteKind.SKIPPED, "40 s without voice not acted on")
    ]
