"""The events the gateway tells the outside world about (DC-09 receivers, webhooks).

An event is written to the outbox in the same transaction as the alarm change
it describes, then delivered at least once. ``id`` is global and stable, so a
receiver that sees it twice can drop the duplicate; ``seq`` orders one alarm's
events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What happened. Payload keys each kind carries are listed beside it."""

    ALARM_RAISED = "alarm.raised"  # alarm_type, account, lat?, lon?, accuracy_m?, battery_pct?
    LOCATION_UPDATED = "alarm.location"  # alarm_type, account, lat, lon, accuracy_m?
    VOICE_CONNECTED = "voice.connected"  # alarm_type, account, channel ("sip"|"webrtc")
    VOICE_LOST = "voice.lost"  # alarm_type, account, reason
    CUE_DETECTED = "cue.detected"  # alarm_type, account, cue, text
    LISTEN_STARTED = "listen.started"  # alarm_type, account, operator
    LISTEN_ENDED = "listen.ended"  # alarm_type, account, operator
    ALARM_ACCEPTED = "alarm.accepted"  # alarm_type, account, operator
    ALARM_ESCALATED = "alarm.escalated"  # alarm_type, account, text
    ALARM_CANCELLED = "alarm.cancelled"  # alarm_type, account (the agent cancelled)
    ALARM_CLOSED = "alarm.closed"  # alarm_type, account, outcome, text?


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event to deliver. Immutable: redelivery sends exactly the same content."""

    id: int
    """Global, increasing; the idempotency key receivers use to drop duplicates."""
    alarm_id: str
    seq: int
    """Per-alarm order, from 1."""
    kind: EventKind
    occurred_at: datetime
    """UTC, when the described change happened (not when it is sent)."""
    payload: Mapping[str, Any] = field(default_factory=dict)
    reference_url: str | None = None
    """Where the monitoring centre can review the alarm (DC-09 xdata ``V``)."""
