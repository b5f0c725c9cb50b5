from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.alarm.types import AlarmType
from gateway.outbox.events import EventKind, OutboxEvent
from gateway.webhook.signing import (
    SIGNATURE_HEADER,
    SignatureError,
    UnserializableEventError,
    event_body,
    signature,
    signature_header,
    verify_signature,
)

SECRET = b"s3cret-s3cret-s3cret"
NOW = 1_733_346_000
EVENT = OutboxEvent(
    41,
    "alarm-7",
    3,
    EventKind.ALARM_RAISED,
    datetime(2026, 12, 4, 22, 15, 10, tzinfo=timezone(timedelta(hours=1))),
    {"alarm_type": AlarmType.FALL, "lat": 48.85837, "note": "chute détectée"},
    "https://gw.example/alarms/7",
)


def test_body_is_compact_sorted_utf8_json() -> None:
    body = event_body(EVENT)
    assert (
        body
        == (
            '{"alarm_id":"alarm-7","event_id":41,"kind":"alarm.raised",'
            '"occurred_at":"2026-12-04T21:15:10Z","payload":{"alarm_type":"fall","lat":48.85837,'
            '"note":"chute détectée"},"reference_url":"https://gw.example/alarms/7","seq":3}'
        ).encode()
    )
    assert json.loads(body)["payload"]["note"] == "chute détectée"


def test_payload_that_json_cannot_carry_is_a_permanent_error() -> None:
    event = OutboxEvent(1, "a", 1, EventKind.ALARM_RAISED, datetime.now(UTC), {"x": object()})
    with pytest.raises(UnserializableEventError) as info:
        event_body(event)
    assert str(info.value) == "event 1: payload is not JSON: object is not JSON serializable"
    assert info.value.permanent


def test_signature_is_hmac_sha256_of_time_dot_body() -> None:
    # printf '1733346000.{}' | openssl dgst -sha256 -hmac 's3cret-s3cret-s3cret'
    assert signature(SECRET, NOW, b"{}") == (
        "b17ac25063f6bf75a10c87064d324aec2b5c68d4bc1fe21999a0cb1ff9b86f37"
    )


def test_round_trip() -> None:
    body = event_body(EVENT)
    headers = {SIGNATURE_HEADER.lower(): signature_header(SECRET, NOW, body)}
    assert verify_signature(SECRET, headers, body, now=NOW + 10) == NOW


def test_rotated_secret_any_v1_matches() -> None:
    old = signature(b"old-secret-old-secret", NOW, b"x")
    header = f"t={NOW},v1={old},v1={signature(SECRET, NOW, b'x')}"
    assert verify_signature(SECRET, {SIGNATURE_HEADER: header}, b"x", now=NOW) == NOW


@pytest.mark.parametrize(
    ("headers", "body", "now", "message"),
    [
        ({}, b"x", NOW, "Missing X-Alarm-Gateway-Signature header."),
        (
            {SIGNATURE_HEADER: "v1=abc"},
            b"x",
            NOW,
            "Malformed signature header: expected t=<unix time>,v1=<hex>.",
        ),
        (
            {SIGNATURE_HEADER: f"t={NOW}"},
            b"x",
            NOW,
            "Malformed signature header: expected t=<unix time>,v1=<hex>.",
        ),
        (
            {SIGNATURE_HEADER: signature_header(SECRET, NOW, b"x")},
            b"x",
            NOW + 301,
            "Signature timestamp is 301 s away from now (tolerance 300 s).",
        ),
        (
            {SIGNATURE_HEADER: signature_header(SECRET, NOW, b"x")},
            b"y",
            NOW,
            "Signature does not match the body.",
        ),
        (
            {SIGNATURE_HEADER: signature_header(b"another-secret-xx", NOW, b"x")},
            b"x",
            NOW,
            "Signature does not match the body.",
        ),
    ],
)
def test_refusals(headers: dict[str, str], body: bytes, now: float, message: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_signature(SECRET, headers, body, now)
    assert str(info.value) == message
