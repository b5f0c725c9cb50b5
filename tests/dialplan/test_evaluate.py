"""Route matching on alarm fields and on local time: zones, DST, midnight, holidays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.alarm.types import AlarmState, AlarmType
from gateway.dialplan import AlarmContext, DialplanUsageError, parse_plan_set, select_route
from gateway.dialplan.evaluate import contact_availability
from gateway.dialplan.model import PlanSet, TimeWindow

BASE = """\
timezone: Europe/Paris
operator_groups: {g: {members: [a]}}
holidays:
  fr: [2026-12-25, 2027-01-01]
contact_lists:
  m:
    contacts:
      - name: Day boss
        sip: "sip:boss@pbx.example.org"
        available: [{days: [mon-fri], from: "08:00", to: "18:00"}]
      - name: Tokyo office
        sip: "sip:tokyo@pbx.example.org"
        timezone: Asia/Tokyo
        available: [{from: "09:00", to: "17:00"}]
routes:
"""
CATCH_ALL = "  - {name: other, steps: [{offer: g}]}\n"


def plans_with(match: str) -> PlanSet:
    return parse_plan_set(
        {"p.yaml": BASE + f"  - {{name: hit, match: {match}, steps: [{{offer: g}}]}}\n" + CATCH_ALL}
    )


def ctx(**changes: object) -> AlarmContext:
    fields: dict[str, object] = {
        "alarm_id": "a1",
        "tenant": "acme",
        "alarm_type": AlarmType.SOS,
        "agent": "Sam",
        "site": "north",
        "agent_group": "night-shift",
    }
    fields.update(changes)
    return AlarmContext(**fields)  # type: ignore[arg-type]


def route_at(match: str, wall: datetime, context: AlarmContext | None = None) -> str:
    return select_route(plans_with(match), context or ctx(), wall).route.name


MONDAY_NOON_UTC = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 12:00 in Paris (CET, +1)


@pytest.mark.parametrize(
    ("match", "context", "expected"),
    [
        ("{tenants: [acme, other]}", ctx(), "hit"),
        ("{tenants: [other]}", ctx(), "other"),
        ("{sites: [north]}", ctx(), "hit"),
        ("{sites: [north]}", ctx(site=None), "other"),
        ("{agent_groups: [night-shift]}", ctx(), "hit"),
        ("{agent_groups: [day-shift]}", ctx(), "other"),
        ("{alarm_types: [fall, sos]}", ctx(), "hit"),
        ("{alarm_types: [fall]}", ctx(), "other"),
        ("{states: [offered]}", ctx(state=AlarmState.OFFERED), "hit"),
        ("{states: [offered]}", ctx(), "other"),
        ("{cues: [distress]}", ctx(cues=frozenset({"distress", "scream"})), "hit"),
        ("{cues: [distress]}", ctx(), "other"),
        ("{pilot: true}", ctx(pilot=True), "hit"),
        ("{pilot: true}", ctx(), "other"),
        ("{pilot: false}", ctx(), "hit"),
        ("{tenants: [acme], alarm_types: [fall]}", ctx(), "other"),
    ],
)
def test_alarm_fields(match: str, context: AlarmContext, expected: str) -> None:
    assert route_at(match, MONDAY_NOON_UTC, context) == expected


OFFICE = '{hours: [{days: [mon-fri], from: "08:00", to: "18:00"}]}'


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (datetime(2026, 12, 7, 6, 59, tzinfo=UTC), "other"),  # Mon 07:59 Paris
        (datetime(2026, 12, 7, 7, 0, tzinfo=UTC), "hit"),  # Mon 08:00 Paris, window start
        (datetime(2026, 12, 7, 16, 59, tzinfo=UTC), "hit"),  # Mon 17:59
        (datetime(2026, 12, 7, 17, 0, tzinfo=UTC), "other"),  # Mon 18:00, end excluded
        (datetime(2026, 12, 12, 11, 0, tzinfo=UTC), "other"),  # Saturday noon
        (datetime(2026, 7, 6, 6, 30, tzinfo=UTC), "hit"),  # summer (+2): Mon 08:30 Paris
        (datetime(2026, 7, 6, 16, 30, tzinfo=UTC), "other"),  # summer: Mon 18:30 Paris
    ],
)
def test_office_hours_in_the_plan_time_zone(wall: datetime, expected: str) -> None:
    assert route_at(OFFICE, wall) == expected


NIGHT = '{hours: [{days: [fri], from: "22:00", to: "06:00"}]}'


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-12-11T21:59:00+01:00", "other"),  # Fri 21:59
        ("2026-12-11T22:00:00+01:00", "hit"),  # Fri 22:00
        ("2026-12-12T03:00:00+01:00", "hit"),  # Sat 03:00 belongs to Friday's night
        ("2026-12-12T06:00:00+01:00", "other"),  # Sat 06:00, end excluded
        ("2026-12-11T03:00:00+01:00", "other"),  # Fri 03:00 belongs to Thursday's night
        ("2026-12-12T22:30:00+01:00", "other"),  # Sat 22:30: Saturday not listed
    ],
)
def test_window_crossing_midnight_belongs_to_its_start_day(local: str, expected: str) -> None:
    assert route_at(NIGHT, datetime.fromisoformat(local)) == expected


def test_window_to_midnight_and_whole_day() -> None:
    evening = TimeWindow.model_validate({"from": "18:00", "to": "00:00"})
    assert evening.contains(datetime(2026, 1, 1, 23, 59))
    assert not evening.contains(datetime(2026, 1, 1, 0, 0))
    whole_day = TimeWindow.model_validate({"days": ["sun"]})
    assert whole_day.contains(datetime(2026, 12, 6, 0, 0))  # Sunday
    assert whole_day.contains(datetime(2026, 12, 6, 23, 59))
    assert not whole_day.contains(datetime(2026, 12, 7, 0, 0))  # Monday
    wrap = TimeWindow.model_validate({"days": "fri-mon"})
    assert wrap.days == frozenset({4, 5, 6, 0})
    assert wrap.describe() == "mon,fri,sat,sun 00:00-00:00"


# Paris, 29 March 2026: 02:00 CET jumps to 03:00 CEST. 25 October 2026: 03:00 CEST back to 02:00.
@pytest.mark.parametrize(
    ("match", "wall", "expected"),
    [
        (
            '{hours: [{from: "01:00", to: "04:00"}]}',
            datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
            "hit",
        ),
        ('{hours: [{from: "01:00", to: "04:00"}]}', datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "hit"),
        ('{hours: [{from: "03:00", to: "04:00"}]}', datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "hit"),
        (
            '{hours: [{from: "02:00", to: "03:00"}]}',
            datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
            "other",
        ),
        (
            '{hours: [{from: "02:00", to: "03:00"}]}',
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            "other",
        ),
        # 02:30 happens twice on 25 October: both instants are inside 02:00-03:00
        (
            '{hours: [{from: "02:00", to: "03:00"}]}',
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            "hit",
        ),
        (
            '{hours: [{from: "02:00", to: "03:00"}]}',
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            "hit",
        ),
        (
            '{hours: [{from: "02:00", to: "03:00"}]}',
            datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
            "other",
        ),
    ],
)
def test_daylight_saving_changes(match: str, wall: datetime, expected: str) -> None:
    assert route_at(match, wall) == expected


@pytest.mark.parametrize(
    ("match", "wall", "expected"),
    [
        ("{except_holidays: fr}", datetime(2026, 12, 24, 22, 59, tzinfo=UTC), "hit"),  # 24th 23:59
        ("{except_holidays: fr}", datetime(2026, 12, 24, 23, 0, tzinfo=UTC), "other"),  # 25th 00:00
        ("{holidays: fr}", datetime(2026, 12, 25, 12, 0, tzinfo=UTC), "hit"),
        ("{holidays: fr}", datetime(2026, 12, 26, 12, 0, tzinfo=UTC), "other"),
        # New Year's Day is a Friday: office hours do not apply on the holiday
        (OFFICE[:-1] + ", except_holidays: fr}", datetime(2027, 1, 1, 10, 0, tzinfo=UTC), "other"),
        (OFFICE[:-1] + ", except_holidays: fr}", datetime(2027, 1, 4, 10, 0, tzinfo=UTC), "hit"),
    ],
)
def test_holidays_use_the_local_date(match: str, wall: datetime, expected: str) -> None:
    assert route_at(match, wall) == expected


def test_route_time_zone_override() -> None:
    match = '{timezone: America/New_York, hours: [{from: "09:00", to: "17:00"}]}'
    assert route_at(match, datetime(2026, 12, 7, 14, 0, tzinfo=UTC)) == "hit"  # 09:00 in NY
    assert route_at(match, datetime(2026, 12, 7, 13, 59, tzinfo=UTC)) == "other"


def test_pilot_tenant_is_never_forwarded_to_the_receiver() -> None:
    plans = plans_with("{tenants: [nobody]}")
    decision = select_route(plans, ctx(pilot=True), MONDAY_NOON_UTC)
    assert decision.route.name == "other"
    assert decision.forward_to_receiver is False
    assert decision.reasons == (
        "route 'other' matched at 2026-12-07T11:00:00+00:00",
        "tenant 'acme' is in pilot mode: nothing is forwarded to the monitoring centre's receiver",
    )
    assert select_route(plans, ctx(), MONDAY_NOON_UTC).forward_to_receiver is True


def test_route_may_decline_forwarding() -> None:
    plans = parse_plan_set(
        {"p.yaml": BASE + "  - {name: quiet, forward_to_receiver: false, steps: [{offer: g}]}\n"}
    )
    decision = select_route(plans, ctx(), MONDAY_NOON_UTC)
    assert decision.forward_to_receiver is False
    assert (
        decision.reasons[-1] == "route 'quiet' does not forward to the monitoring centre's receiver"
    )


def test_contact_availability_explains_why_not() -> None:
    plans = plans_with("{pilot: true}")
    boss, tokyo = plans.contact_lists["m"].contacts
    assert contact_availability(plans, boss, MONDAY_NOON_UTC) is None
    saturday = datetime(2026, 12, 12, 11, 0, tzinfo=UTC)
    assert contact_availability(plans, boss, saturday) == (
        "outside availability hours (mon,tue,wed,thu,fri 08:00-18:00 Europe/Paris; now Sat 12:00)"
    )
    assert contact_availability(plans, tokyo, datetime(2026, 12, 7, 1, 0, tzinfo=UTC)) is None
    assert contact_availability(plans, tokyo, MONDAY_NOON_UTC) == (
        "outside availability hours (mon,tue,wed,thu,fri,sat,sun 09:00-17:00 Asia/Tokyo; "
        "now Mon 20:00)"
    )


def test_naive_wall_clock_is_refused() -> None:
    with pytest.raises(DialplanUsageError) as caught:
        select_route(plans_with("{pilot: true}"), ctx(), datetime(2026, 1, 1, 12, 0))
    assert str(caught.value) == "wall-clock time must be timezone-aware, got 2026-01-01T12:00:00"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tenant": ""}, "AlarmContext.tenant must not be empty"),
        ({"rotation": -1}, "AlarmContext.rotation must be >= 0, got -1"),
    ],
)
def test_context_checks_its_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(DialplanUsageError) as caught:
        ctx(**changes)
    assert str(caught.value) == message
