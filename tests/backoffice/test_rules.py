"""The ordering rules for instructions and contacts, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.alarm.types import AlarmType
from gateway.backoffice import rules
from gateway.backoffice.rules import (
    AlarmContext,
    Contact,
    Instruction,
    Level,
    Scope,
    applicable_contacts,
    applicable_instructions,
    parse_window,
)
from gateway.dialplan.model import TimeWindow
from tests.test_architecture import IO_MODULES, imported_roots

ALARM = AlarmContext("phone-1", AlarmType.FALL, tenant="t1", site="lyon", agent_group="night")

INSTRUCTIONS = [
    Instruction(1, Scope(), "everyone"),
    Instruction(2, Scope(tenant="t1"), "tenant"),
    Instruction(3, Scope(tenant="t1", site="lyon"), "site"),
    Instruction(4, Scope(agent_group="night"), "group"),
    Instruction(5, Scope(device_id="phone-1"), "agent"),
    Instruction(6, Scope(site="lyon"), "site fall", frozenset({AlarmType.FALL})),
    Instruction(7, Scope(device_id="phone-1"), "agent sos", frozenset({AlarmType.SOS})),
    Instruction(8, Scope(tenant="t2"), "other tenant"),
    Instruction(9, Scope(tenant="t2", site="lyon"), "other tenant's lyon"),
    Instruction(10, Scope(device_id="phone-2"), "other agent"),
    Instruction(11, Scope(), "everyone fall", frozenset({AlarmType.FALL, AlarmType.SOS})),
]


@pytest.mark.parametrize(
    ("alarm", "expected"),
    [
        (ALARM, ["agent", "group", "site fall", "site", "tenant", "everyone fall", "everyone"]),
        (
            AlarmContext("phone-1", AlarmType.SOS, tenant="t1", site="lyon", agent_group="night"),
            ["agent sos", "agent", "group", "site", "tenant", "everyone fall", "everyone"],
        ),
        (AlarmContext("phone-3", AlarmType.TEST), ["everyone"]),
        (
            AlarmContext("phone-2", AlarmType.TEST, tenant="t2", site="lyon"),
            ["other agent", "other tenant's lyon", "other tenant", "everyone"],
        ),
        (AlarmContext("phone-3", AlarmType.FALL, site="paris"), ["everyone fall", "everyone"]),
    ],
)
def test_instructions_most_specific_first(alarm: AlarmContext, expected: list[str]) -> None:
    assert [i.text for i in applicable_instructions(INSTRUCTIONS, alarm)] == expected


def test_same_level_and_kind_keep_the_order_written() -> None:
    written = [Instruction(9, Scope(), "second"), Instruction(3, Scope(), "first")]
    assert [i.text for i in applicable_instructions(written, ALARM)] == ["first", "second"]


@pytest.mark.parametrize(
    ("scope", "level"),
    [
        (Scope(), Level.ALL),
        (Scope(tenant="t"), Level.TENANT),
        (Scope(tenant="t", site="s"), Level.SITE),
        (Scope(site="s", agent_group="g"), Level.GROUP),
        (Scope(tenant="t", device_id="d"), Level.AGENT),
    ],
)
def test_scope_level_is_its_most_specific_field(scope: Scope, level: Level) -> None:
    assert scope.level is level


OFFICE = (TimeWindow.model_validate({"days": ["mon-fri"], "from": "08:00", "to": "18:00"}),)
NIGHTS = (TimeWindow.model_validate({"days": ["mon-sun"], "from": "20:00", "to": "06:00"}),)
PARIS = ZoneInfo("Europe/Paris")
CONTACTS = [
    Contact(1, Scope(tenant="t1"), "director", hours=OFFICE, zone=PARIS),
    Contact(2, Scope(site="lyon"), "site manager", hours=OFFICE, zone=PARIS, rank=2),
    Contact(3, Scope(site="lyon"), "site deputy", hours=OFFICE, zone=PARIS, rank=1),
    Contact(4, Scope(agent_group="night"), "night lead", hours=NIGHTS, zone=PARIS),
    Contact(5, Scope(), "duty officer"),
    Contact(6, Scope(site="paris"), "elsewhere"),
]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Tuesday 10:00 in Paris (09:00 UTC): office hours, the night lead is off
        (
            datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            [
                ("site deputy", True),
                ("site manager", True),
                ("director", True),
                ("duty officer", True),
                ("night lead", False),
            ],
        ),
        # Saturday 03:00 in Paris: a Friday night window, offices shut
        (
            datetime(2026, 12, 5, 2, 0, tzinfo=UTC),
            [
                ("night lead", True),
                ("duty officer", True),
                ("site deputy", False),
                ("site manager", False),
                ("director", False),
            ],
        ),
    ],
)
def test_contacts_reachable_first_then_most_specific(
    now: datetime, expected: list[tuple[str, bool]]
) -> None:
    chosen = applicable_contacts(CONTACTS, ALARM, now)
    assert [(c.contact.name, c.available) for c in chosen] == expected


def test_hours_are_read_in_the_contacts_zone() -> None:
    # 07:30 UTC on a Monday is 08:30 in Paris (winter): open; in UTC it would be closed
    now = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    assert Contact(1, Scope(), "p", hours=OFFICE, zone=PARIS).available(now)
    assert not Contact(1, Scope(), "u", hours=OFFICE, zone=ZoneInfo("UTC")).available(now)


@pytest.mark.parametrize("text", ["mon-fri 08:00-18:00", "sat,sun 20:00-06:00", "mon 00:00-00:00"])
def test_window_text_round_trips(text: str) -> None:
    window = parse_window(text)
    assert parse_window(window.describe()) == window


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-fri", "expected days and hours"),
        ("", "expected days and hours"),
        ("moon 08:00-18:00", "unknown day 'moon'"),
        ("mon 8h-18:00", "time of day"),
    ],
)
def test_bad_window_text_is_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


def test_rules_are_pure() -> None:
    assert imported_roots(Path(rules.__file__)) & IO_MODULES == set()
