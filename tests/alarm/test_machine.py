"""The alarm state machine, table-driven: every state against every event type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
    Position,
    Raised,
    Released,
    Transcribed,
    VoiceConnected,
    VoiceLost,
)
from gateway.alarm.machine import TRANSITIONS, AlarmMachine, AlarmProtocolError
from gateway.alarm.types import AlarmState, AlarmType, Outcome
from gateway.outbox.events import EventKind

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
S = AlarmState

SAMPLES: dict[type[AlarmEvent], AlarmEvent] = {
    Offered: Offered("front-desk"),
    Accepted: Accepted("alice"),
    Released: Released("alice", "browser closed"),
    Escalated: Escalated("samu", "REF-15-42"),
    CancelledByAgent: CancelledByAgent(),
    Closed: Closed(Outcome.AGENT_SAFE),
    LocationUpdated: LocationUpdated(Position(48.85, 2.35, 8.0)),
    VoiceConnected: VoiceConnected("sip", "c1"),
    VoiceLost: VoiceLost("sip", "c1", "no RTP for 5 s"),
    Noted: Noted("note", "agent answers calmly"),
    Transcribed: Transcribed("je suis tombé", 1.2, 2.6, "whisper", 0.81),
    CueHeard: CueHeard("keyword", 2.6, "fall", "je suis tombé"),
    Assessed: Assessed("distress", "'au secours' at 3.1 s"),
    ListenStarted: ListenStarted("alice", "sip", "listen"),
    ListenEnded: ListenEnded("alice", "sip"),
}


def machine_in(state: AlarmState) -> AlarmMachine:
    handler = "alice" if state in (S.ACCEPTED, S.ESCALATED) else None
    return AlarmMachine(state=state, handler=handler, raised=True)


@pytest.mark.parametrize("state", list(AlarmState))
@pytest.mark.parametrize("event_type", list(SAMPLES))
def test_every_state_event_pair_follows_the_table(
    state: AlarmState, event_type: type[AlarmEvent]
) -> None:
    machine = machine_in(state)
    target = TRANSITIONS[state].get(event_type)
    if target is None:
        with pytest.raises(AlarmProtocolError, match=f"that is {state.value}$"):
            machine.handle(SAMPLES[event_type], NOW, "alice")
        assert machine.state is state
    else:
        transition = machine.handle(SAMPLES[event_type], NOW, "alice")
        assert machine.state is target
        assert transition.entry.state is target
        assert transition.entry.at == NOW
        assert transition.entry.actor == "alice"


def test_raise_records_type_position_and_battery() -> None:
    machine = AlarmMachine()
    transition = machine.handle(
        Raised(AlarmType.FALL, Position(45.0, 5.0, 20.0), 37), NOW, "device:phone-1"
    )
    assert transition.outbox is EventKind.ALARM_RAISED
    assert transition.entry.kind == "raised"
    assert transition.entry.data == {
        "alarm_type": "fall",
        "position": {"lat": 45.0, "lon": 5.0, "accuracy_m": 20.0},
        "battery_pct": 37,
        "channel": "http",
    }


def test_raise_twice_is_refused() -> None:
    machine = AlarmMachine()
    machine.handle(Raised(AlarmType.SOS), NOW, "device:x")
    with pytest.raises(AlarmProtocolError, match=r"^alarm was already raised$"):
        machine.handle(Raised(AlarmType.SOS), NOW, "device:x")


def test_events_before_raise_are_refused() -> None:
    with pytest.raises(AlarmProtocolError, match=r"^cannot accept an alarm not yet raised$"):
        AlarmMachine().handle(Accepted("alice"), NOW, "alice")


def test_refusal_message_names_action_and_state() -> None:
    machine = machine_in(S.CLOSED)
    with pytest.raises(AlarmProtocolError, match=r"^cannot accept an alarm that is closed$"):
        machine.handle(Accepted("bob"), NOW, "bob")


def test_cancel_before_acceptance_closes_with_cancelled_by_agent() -> None:
    machine = machine_in(S.OFFERED)
    transition = machine.handle(CancelledByAgent(), NOW, "device:phone-1")
    assert machine.state is S.CLOSED
    assert machine.outcome is Outcome.CANCELLED_BY_AGENT
    assert transition.entry.data["outcome"] == "cancelled_by_agent"
    assert transition.outbox is EventKind.ALARM_CANCELLED


def test_cancel_once_handled_is_only_recorded_because_it_may_be_under_duress() -> None:
    machine = machine_in(S.ACCEPTED)
    transition = machine.handle(CancelledByAgent(), NOW, "device:phone-1")
    assert machine.state is S.ACCEPTED
    assert machine.outcome is None
    assert "operator decides" in transition.entry.data["note"]


def test_second_operator_cannot_take_a_handled_alarm() -> None:
    machine = machine_in(S.ESCALATED)
    with pytest.raises(AlarmProtocolError, match=r"^alarm is already handled by 'alice'$"):
        machine.handle(Accepted("bob"), NOW, "bob")


def test_only_the_handler_can_release() -> None:
    machine = machine_in(S.ACCEPTED)
    with pytest.raises(AlarmProtocolError, match="cannot release an alarm handled by 'alice'"):
        machine.handle(Released("bob", "left"), NOW, "bob")
    machine.handle(Released("alice", "browser closed"), NOW, "alice")
    assert machine.state is S.OFFERED
    assert machine.handler is None


@pytest.mark.parametrize("outcome", list(Outcome))
def test_close_keeps_the_explicit_outcome(outcome: Outcome) -> None:
    machine = machine_in(S.ESCALATED)
    transition = machine.handle(Closed(outcome, "done"), NOW, "alice")
    assert machine.outcome is outcome
    assert transition.entry.data == {"outcome": outcome.value, "comment": "done"}
    assert transition.outbox is EventKind.ALARM_CLOSED


def test_full_doubt_removal_path() -> None:
    machine = AlarmMachine()
    steps: list[AlarmEvent] = [
        Raised(AlarmType.DISCREET),
        Offered("operators"),
        Accepted("alice"),
        VoiceConnected("sip", "c1"),
        Escalated("police", "PV-17-1"),
        Closed(Outcome.INTERVENTION_DISPATCHED),
    ]
    states = [machine.handle(step, NOW, "x").entry.state for step in steps]
    assert states == [S.RECEIVED, S.OFFERED, S.ACCEPTED, S.ACCEPTED, S.ESCALATED, S.CLOSED]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Position(91, 0), "latitude must be between -90 and 90, got 91"),
        (lambda: Position(0, -181), "longitude must be between -180 and 180, got -181"),
        (lambda: Position(0, 0, -1), "accuracy_m must be >= 0, got -1"),
        (lambda: Raised(AlarmType.SOS, battery_pct=101), "battery_pct must be between 0 and 100"),
        (lambda: Escalated(" "), "escalation target must not be empty"),
    ],
)
def test_events_refuse_impossible_values(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("advice", "forwarded"),
    [
        ("distress", EventKind.CUE_DETECTED),
        ("calm_false_alarm_claimed", None),
        ("no_response", None),
        ("unclear", None),
    ],
)
def test_only_distress_advice_is_told_to_the_monitoring_centre(
    advice: str, forwarded: EventKind | None
) -> None:
    transition = machine_in(S.ACCEPTED).handle(Assessed(advice, "evidence"), NOW, "speech")
    assert transition.outbox is forwarded
    assert transition.entry.data == {"cue": advice, "text": "evidence"}
