"""Webhook body and signature: pure functions shared by the sender and by receivers.

The signature is HMAC-SHA256 over ``"<unix time>.<body>"``, sent as
``X-Alarm-Gateway-Signature: t=<unix time>,v1=<hex>``. Signing the time with the
body lets a receiver refuse replays older than its tolerance; several ``v1``
values may appear while a secret is being rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from gateway.outbox.errors import DeliveryError
from gateway.outbox.events import OutboxEvent

SIGNATURE_HEADER = "X-Alarm-Gateway-Signature"
EVENT_ID_HEADER = "X-Alarm-Gateway-Event-Id"
"""Idempotency key: the same event redelivered carries the same id."""
DEFAULT_TOLERANCE = 300.0


class WebhookError(Exception):
    """Root of webhook errors that are not delivery failures."""


class SignatureError(WebhookError, ValueError):
    """A received webhook's signature is missing, malformed, stale or wrong."""


class UnserializableEventError(DeliveryError):
    """The event's payload holds a value JSON cannot carry; retrying will not help."""

    permanent = True


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body for ``event``: compact, keys sorted, so redelivery is byte-identical."""
    document = {
        "event_id": event.id,
        "alarm_id": event.alarm_id,
        "seq": event.seq,
        "kind": event.kind.value,
        "occurred_at": _iso(event.occurred_at),
        "payload": dict(event.payload),
        "reference_url": event.reference_url,
    }
    try:
        text = json.dumps(
            document, default=_json_value, ensure_ascii=False, separators=(",", ":"), sort_keys=True
        )
    except (TypeError, ValueError) as exc:
        raise UnserializableEventError(f"event {event.id}: payload is not JSON: {exc}") from None
    return text.encode("utf-8")


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    return hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    """The value of ``X-Alarm-Gateway-Signature``."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Check a received webhook; returns its signed timestamp or raises SignatureError.

    ``now`` is the receiver's Unix time; ``headers`` may use any letter case.
    """
    value = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
    if value is None:
        raise SignatureError(f"Missing {SIGNATURE_HEADER} header.")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit():
            timestamp = int(item)
        elif key == "v1" and item:
            candidates.append(item)
    if timestamp is None or not candidates:
        raise SignatureError("Malformed signature header: expected t=<unix time>,v1=<hex>.")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"Signature timestamp is {abs(now - timestamp):.0f} s away from now "
            f"(tolerance {tolerance:g} s)."
        )
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("Signature does not match the body.")
    return timestamp
