from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.alarm.types import AlarmType
from gateway.config.errors import ConfigError
from gateway.dc09.content import Qualifier, parse_adm_cid_data, parse_sia_data
from gateway.dc09.frame import XData
from gateway.dc09.grammar import Token
from gateway.dc09.mapping import (
    DEFAULT_MAPPING,
    InvalidEventError,
    field_text,
    load_mapping,
    parse_mapping,
)
from gateway.outbox.events import EventKind, OutboxEvent

MAPPING = load_mapping()
WHEN = datetime(2026, 12, 4, 21, 15, 10, tzinfo=UTC)


def event(kind: EventKind, reference_url: str | None = None, **payload: Any) -> OutboxEvent:
    return OutboxEvent(7, "alarm-7", 1, kind, WHEN, payload, reference_url)


RAISED = [
    (AlarmType.SOS, 120, "PA", "SOS"),
    (AlarmType.DISCREET, 121, "HA", "discreet alarm - do not speak first"),
    (AlarmType.FALL, 101, "QA", "fall detected"),
    (AlarmType.VERTICALITY, 101, "QA", "loss of verticality"),
    (AlarmType.NO_MOVEMENT, 101, "QA", "no movement"),
    (AlarmType.TEAR_OFF, 101, "QA", "device torn off"),
    (AlarmType.MISSED_CHECK_IN, 102, "QA", "missed check-in"),
    (AlarmType.LINK_LOST, 381, "US", "device link lost"),
    (AlarmType.LOW_BATTERY, 384, "XT", "device battery low 12%"),
    (AlarmType.TEST, 602, "RP", "periodic test"),
]


@pytest.mark.parametrize(("alarm_type", "cid", "sia", "text"), RAISED)
def test_raised_alarms(alarm_type: AlarmType, cid: int, sia: str, text: str) -> None:
    raised = event(EventKind.ALARM_RAISED, alarm_type=alarm_type.value, battery_pct=12)
    sia_message = MAPPING.message_for(raised, default_account="1234")
    cid_message = MAPPING.message_for(raised, default_account="1234", token=Token.ADM_CID)
    assert sia_message is not None and cid_message is not None
    assert parse_sia_data(sia_message.data).code == sia
    contact_id = parse_adm_cid_data(cid_message.data)
    assert (contact_id.event, contact_id.qualifier) == (cid, Qualifier.NEW)
    assert XData("I", text) in sia_message.xdata


@pytest.mark.parametrize(
    ("kind", "payload", "cid", "qualifier", "sia", "text"),
    [
        (EventKind.ALARM_CANCELLED, {}, 406, 1, "OC", "cancelled by the worker"),
        (EventKind.LISTEN_STARTED, {"operator": "ana"}, 606, 1, "LF", "operator ana listening"),
        (
            EventKind.LISTEN_ENDED,
            {"operator": "ana"},
            606,
            3,
            "LE",
            "operator ana stopped listening",
        ),
        (EventKind.VOICE_CONNECTED, {"channel": "sip"}, 606, 1, "LF", "voice channel open (sip)"),
        (EventKind.VOICE_LOST, {"reason": "bye"}, 606, 3, "LE", "voice channel lost: bye"),
        (
            EventKind.CUE_DETECTED,
            {"cue": "help", "text": "Au secours, à l'aide [bis]"},
            101,
            1,
            "QA",
            "help: Au secours, a l'aide (bis)",
        ),
        (EventKind.ALARM_CLOSED, {"outcome": "agent_safe"}, 120, 3, "PR", "closed: agent_safe"),
    ],
)
def test_other_events(
    kind: EventKind, payload: dict[str, Any], cid: int, qualifier: int, sia: str, text: str
) -> None:
    source = event(kind, alarm_type="sos", **payload)
    sia_message = MAPPING.message_for(source, default_account="1234")
    cid_message = MAPPING.message_for(source, default_account="1234", token=Token.ADM_CID)
    assert sia_message is not None and cid_message is not None
    assert parse_sia_data(sia_message.data).code == sia
    contact_id = parse_adm_cid_data(cid_message.data)
    assert (contact_id.event, contact_id.qualifier) == (cid, qualifier)
    assert XData("I", text) in sia_message.xdata


@pytest.mark.parametrize(
    ("alarm_type", "sia"),
    [("discreet", "HR"), ("fall", "QR"), ("missed_check_in", "QR"), ("low_battery", "XR")],
)
def test_closing_restores_the_alarm_code(alarm_type: str, sia: str) -> None:
    message = MAPPING.message_for(
        event(EventKind.ALARM_CLOSED, alarm_type=alarm_type, outcome="false_alarm"),
        default_account="1234",
    )
    assert message is not None and parse_sia_data(message.data).code == sia


@pytest.mark.parametrize(
    "source",
    [
        event(EventKind.LOCATION_UPDATED, alarm_type="sos", lat=1.0, lon=2.0),
        event(EventKind.ALARM_ACCEPTED, alarm_type="sos"),
        event(EventKind.ALARM_ESCALATED, alarm_type="sos"),
        event(EventKind.ALARM_CLOSED, alarm_type="test"),
    ],
)
def test_events_not_forwarded(source: OutboxEvent) -> None:
    assert MAPPING.message_for(source, default_account="1234") is None


def test_account_position_reference_and_time_of_occurrence() -> None:
    source = event(
        EventKind.ALARM_RAISED,
        "https://gw.example/alarms/7",
        alarm_type="sos",
        account="abc123",
        lat=48.85837,
        lon=2.294481,
    )
    message = MAPPING.message_for(source, default_account="1234")
    assert message is not None
    assert message.account == "ABC123"
    assert message.data == "#ABC123|Nri1/PA001"
    assert message.xdata == (
        XData("X", "2.294481"),
        XData("Y", "48.858370"),
        XData("I", "SOS"),
        XData("V", "https://gw.example/alarms/7"),
        XData("H", "21:15:10,12-04-2026"),
    )


def test_default_account_and_xdata_selection() -> None:
    message = MAPPING.message_for(
        event(EventKind.ALARM_RAISED, alarm_type="sos"), default_account="9876", xdata={"I"}
    )
    assert message is not None
    assert (message.account, message.xdata) == ("9876", (XData("I", "SOS"),))


@pytest.mark.parametrize(
    ("lat", "lon"), [(91, 2), (48, 181), ("north", 2), (True, 2), (float("nan"), 2), (48, None)]
)
def test_bad_positions_are_left_out_not_fatal(lat: Any, lon: Any) -> None:
    message = MAPPING.message_for(
        event(EventKind.ALARM_RAISED, alarm_type="sos", lat=lat, lon=lon), default_account="1234"
    )
    assert message is not None
    assert not {x.identifier for x in message.xdata} & {"X", "Y"}


def test_account_that_is_not_hex_is_a_permanent_error() -> None:
    with pytest.raises(InvalidEventError) as info:
        MAPPING.message_for(
            event(EventKind.ALARM_RAISED, alarm_type="sos", account="worker-9"),
            default_account="1234",
        )
    assert str(info.value) == "event 7: account 'WORKER-9' is not 3-16 hexadecimal digits"
    assert info.value.permanent


def test_unknown_alarm_type_still_raises_an_emergency() -> None:
    message = MAPPING.message_for(
        event(EventKind.ALARM_RAISED, alarm_type="man_down"), default_account="1234"
    )
    assert message is not None
    assert parse_sia_data(message.data).code == "QA"
    assert XData("I", "alarm man_down") in message.xdata


def without_raised_wildcard() -> str:
    return default_yaml().replace('    "*": {cid: 101, sia: QA, text: "alarm {alarm_type}"}\n', "")


def test_unknown_alarm_type_without_wildcard() -> None:
    mapping = parse_mapping(without_raised_wildcard(), "mapping.yaml")
    with pytest.raises(InvalidEventError) as info:
        mapping.message_for(
            event(EventKind.ALARM_RAISED, alarm_type="meteor"), default_account="1234"
        )
    assert str(info.value) == "event 7: alarm_type 'meteor' has no DC-09 code for alarm.raised"


def test_field_text_folds_to_ascii_and_caps_length() -> None:
    assert field_text("Chute\tdétectée [zone 2]\n") == "Chute detectee (zone 2)"
    assert len(field_text("x" * 500)) == 256


def default_yaml() -> str:
    return DEFAULT_MAPPING.read_text(encoding="utf-8")


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_mapping(text, "mapping.yaml")
    return [str(issue) for issue in info.value.issues]


def test_bad_code_names_file_line_and_key() -> None:
    text = default_yaml().replace("sos: {cid: 120, sia: PA", "sos: {cid: 12, sia: PA", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "cid: 12," in row)
    assert issues(text) == [
        f"mapping.yaml:{line} events->alarm.raised->sos->cid: "
        "Input should be greater than or equal to 100, got 12"
    ]


def test_missing_alarm_type_and_unknown_key() -> None:
    text = without_raised_wildcard().replace("    test: {cid: 602", "    tset: {cid: 602", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "tset:" in row)
    raised = next(n for n, row in enumerate(text.splitlines(), 1) if "alarm.raised:" in row)
    assert issues(text) == [
        f"mapping.yaml:{line} events->alarm.raised->tset: not an alarm type nor '*'",
        f"mapping.yaml:{raised} events->alarm.raised: no code for test: add them or a '*' entry",
    ]


def test_missing_event_kind() -> None:
    text = default_yaml().replace("  alarm.accepted: null", "", 1)
    line = text.splitlines().index("events:") + 1
    assert issues(text) == [f"mapping.yaml:{line} events->alarm.accepted: event kind is missing"]


def test_text_placeholders_must_be_plain_names() -> None:
    text = default_yaml().replace('text: "SOS"', 'text: "{payload.x}"', 1)
    [issue] = issues(text)
    assert issue.endswith(
        "events->alarm.raised->sos->text: text placeholders must be plain names like {cause}, "
        "got '{payload.x}'"
    )


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_mapping(tmp_path / "absent.yaml")
