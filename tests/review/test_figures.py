"""Review figures computed from hand-built timelines, checked against hand-computed values."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.alarm.machine import TimelineEntry
from gateway.alarm.types import AlarmState, AlarmType, Outcome
from gateway.review.figures import (
    CSV_COLUMNS,
    Period,
    by_period,
    by_site,
    facts,
    figures,
    grouped,
    percentile,
    to_csv,
)
from gateway.store.records import AlarmRecord

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def entry(seconds: float, kind: str, actor: str = "op", /, **data: Any) -> TimelineEntry:
    return TimelineEntry(T0 + timedelta(seconds=seconds), actor, kind, AlarmState.ACCEPTED, data)


def alarm(
    *entries: TimelineEntry,
    alarm_id: str = "a1",
    device: str = "phone-1",
    outcome: Outcome | None = None,
    received: datetime = T0,
) -> AlarmRecord:
    shift = received - T0
    moved = tuple(
        TimelineEntry(e.at + shift, e.actor, e.kind, e.state, e.data)
        for e in (entry(0, "raised", "device:x"), *entries)
    )
    closed = next((e.at for e in moved if e.kind == "closed"), None)
    return AlarmRecord(
        id=alarm_id,
        device_id=device,
        alarm_type=AlarmType.SOS,
        state=AlarmState.CLOSED if outcome else AlarmState.OFFERED,
        outcome=outcome,
        handler=None,
        channel="http",
        occurred_at=received,
        received_at=received,
        updated_at=received,
        closed_at=closed,
        position=None,
        battery_pct=None,
        timeline=moved,
    )


def test_facts_read_first_acceptance_doubt_removal_and_listeners() -> None:
    record = alarm(
        entry(4, "accepted", "alice"),
        entry(5, "listen_started", "alice", operator="alice", channel="webrtc", mode="listen"),
        entry(9, "released", "alice", operator="alice", reason="console disconnected"),
        entry(12, "accepted", "bob"),
        entry(13, "listen_started", "bob", operator="bob", channel="sip", mode="listen"),
        entry(14, "listen_started", "alice", operator="alice", channel="webrtc", mode="listen"),
        entry(30, "noted", "bob", kind="note", text="agent answers"),
        entry(41, "noted", "bob", kind="doubt_removed", text="agent_safe"),
        entry(50, "closed", "bob", outcome="agent_safe"),
        outcome=Outcome.AGENT_SAFE,
    )
    f = facts(record)
    assert (f.accept_s, f.accepted_by) == (4.0, "alice")
    assert f.doubt_removal_s == 41.0
    assert f.listeners == ("alice", "bob")
    assert not f.cancelled_before_accept


def test_escalation_or_closure_settles_the_doubt_when_no_explicit_mark() -> None:
    escalated = facts(alarm(entry(3, "accepted"), entry(20, "escalated", target="samu")))
    assert escalated.doubt_removal_s == 20.0
    closed = facts(alarm(entry(3, "accepted"), entry(25, "closed"), outcome=Outcome.FALSE_ALARM))
    assert closed.doubt_removal_s == 25.0
    assert facts(alarm(entry(3, "accepted"))).doubt_removal_s is None


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7.0], 90, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 90, 9.0),
        ([10.0, 1.0, 5.0], 100, 10.0),
    ],
)
def test_nearest_rank_percentile(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


def test_percentile_refuses_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\], got 0"):
        percentile([1.0], 0)


def test_group_figures_service_levels_outcomes_and_false_alarm_rate() -> None:
    records = [
        alarm(entry(3, "accepted"), entry(8, "closed"), alarm_id="a", outcome=Outcome.FALSE_ALARM),
        alarm(entry(10, "accepted"), entry(60, "closed"), alarm_id="b", outcome=Outcome.AGENT_SAFE),
        alarm(entry(25, "accepted"), entry(90, "escalated"), alarm_id="c"),
        alarm(entry(45, "accepted"), alarm_id="d"),
        alarm(alarm_id="e"),  # never accepted: counts against the service level
        alarm(  # the agent cancelled first: no operator had to act
            entry(2, "cancelled_by_agent"),
            entry(2, "closed"),
            alarm_id="f",
            outcome=Outcome.CANCELLED_BY_AGENT,
        ),
    ]
    result = figures(facts(r) for r in records)
    assert (result.alarms, result.to_accept, result.accepted) == (6, 5, 4)
    assert (result.accept_p50_s, result.accept_p90_s) == (10.0, 45.0)
    assert result.accept_within_10s == pytest.approx(2 / 5)
    assert result.accept_within_40s == pytest.approx(3 / 5)
    # doubt settled at 8 (a), 60 (b), 90 (c), 2 (f)
    assert (result.doubt_removal_p50_s, result.doubt_removal_p90_s) == (8.0, 90.0)
    assert result.closed == 3
    assert result.outcomes["false_alarm"] == 1
    assert result.outcomes["cancelled_by_agent"] == 1
    assert result.outcomes["no_response"] == 0
    assert result.false_alarm_rate == pytest.approx(1 / 3)


def test_empty_group_has_no_rates_instead_of_dividing_by_zero() -> None:
    result = figures([])
    assert result.alarms == 0
    assert result.accept_within_10s is None
    assert result.false_alarm_rate is None


def test_grouping_by_local_period_and_by_site() -> None:
    paris = timezone(timedelta(hours=1))
    late = T0.replace(hour=23, minute=30)  # 00:30 the next day in Paris
    records = [
        alarm(entry(5, "accepted"), alarm_id="x", device="p1"),
        alarm(entry(5, "accepted"), alarm_id="y", device="p2", received=late),
        alarm(entry(5, "accepted"), alarm_id="z", device="p3", received=T0 + timedelta(days=28)),
    ]
    items = [facts(r) for r in records]
    days = grouped(items, by_period(Period.DAY, paris))
    assert list(days) == ["2026-12-04", "2026-12-05", "2027-01-01"]
    weeks = grouped(items, by_period(Period.WEEK, paris))
    assert list(weeks) == ["2026-W49", "2026-W53"]
    assert weeks["2026-W49"].alarms == 2
    months = grouped(items, by_period(Period.MONTH, UTC))
    assert {k: v.alarms for k, v in months.items()} == {"2026-12": 2, "2027-01": 1}
    sites = grouped(items, by_site({"p1": "Lyon", "p2": "Lyon"}))
    assert {k: v.alarms for k, v in sites.items()} == {"(no site)": 1, "Lyon": 2}


def test_csv_has_one_row_per_alarm_and_defuses_formulas() -> None:
    record = alarm(
        entry(4, "accepted", "=HYPERLINK(1)"),
        entry(9, "closed", "=HYPERLINK(1)"),
        outcome=Outcome.FALSE_ALARM,
    )
    rows = list(csv.reader(io.StringIO(to_csv([facts(record)]))))
    assert rows[0] == list(CSV_COLUMNS)
    row = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert row["accept_s"] == "4.000"
    assert row["accepted_by"] == "'=HYPERLINK(1)"
    assert row["outcome"] == "false_alarm"
    assert row["received_at"] == "2026-12-04T10:00:00+00:00"
    assert row["doubt_removal_s"] == "9.000"
