"""Vocabulary shared by every part of the gateway: alarm types, states, outcomes."""

from __future__ import annotations

from enum import StrEnum


class AlarmType(StrEnum):
    """What fired on the phone. Values are the wire names of the HTTP API."""

    SOS = "sos"
    DISCREET = "discreet"  # silent alarm: the operator must never speak first
    FALL = "fall"
    VERTICALITY = "verticality"  # loss of verticality
    NO_MOVEMENT = "no_movement"
    TEAR_OFF = "tear_off"
    MISSED_CHECK_IN = "missed_check_in"
    LINK_LOST = "link_lost"  # "securite positive": the phone stopped reporting
    LOW_BATTERY = "low_battery"
    TEST = "test"


#: Order used to sort operator queues, most serious first (lower is more serious).
SEVERITY: dict[AlarmType, int] = {
    AlarmType.DISCREET: 0,
    AlarmType.SOS: 0,
    AlarmType.FALL: 1,
    AlarmType.VERTICALITY: 1,
    AlarmType.NO_MOVEMENT: 1,
    AlarmType.TEAR_OFF: 1,
    AlarmType.LINK_LOST: 2,
    AlarmType.MISSED_CHECK_IN: 2,
    AlarmType.LOW_BATTERY: 3,
    AlarmType.TEST: 4,
}


class AlarmState(StrEnum):
    """Life of an alarm, from reception to closure. See ``gateway.alarm.machine``."""

    RECEIVED = "received"  # accepted and stored, nobody handles it yet
    OFFERED = "offered"  # presented to operators, waiting for one to accept
    ACCEPTED = "accepted"  # an operator took it and is removing doubt
    ESCALATED = "escalated"  # emergency services or managers engaged
    CLOSED = "closed"  # terminal, with an outcome


class Outcome(StrEnum):
    """Why an alarm was closed: the explicit result of doubt removal."""

    FALSE_ALARM = "false_alarm"
    AGENT_SAFE = "agent_safe"
    INTERVENTION_DISPATCHED = "intervention_dispatched"
    CANCELLED_BY_AGENT = "cancelled_by_agent"
    NO_RESPONSE = "no_response"
    TEST_COMPLETED = "test_completed"
