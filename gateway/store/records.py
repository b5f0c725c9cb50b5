"""What the store hands back: immutable snapshots, never live rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.alarm.events import Position
from gateway.alarm.machine import TimelineEntry
from gateway.alarm.types import AlarmState, AlarmType, Outcome


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    sip_uri: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    dc09_account: str | None = None
    """The agent's account at the monitoring centre; unset: the gateway's default."""
    language: str | None = None
    """Language the agent speaks on alarm calls (``fr``, ``en``); unset: the gateway's."""
    tenant: str | None = None
    """The organisation the agent belongs to (regional directorate...)."""
    site: str | None = None
    agent_group: str | None = None
    agent_id: str | None = None
    """The person carrying it (``agents`` table); site and group copy theirs."""
    sip_username: str | None = None
    """Digest username of its SIP credentials; unset: it has none yet."""


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    pilot: bool


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: Role
    password_hash: str
    tenants: frozenset[str] = frozenset()
    """Tenants this staff member may see; none: centre-wide (see gateway.tenancy)."""
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class NewAlarm:
    """An alarm as a phone reported it, before it is stored."""

    device_id: str
    alarm_type: AlarmType
    occurred_at: datetime
    position: Position | None
    battery_pct: int | None
    channel: str
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    id: str
    device_id: str
    alarm_type: AlarmType
    state: AlarmState
    outcome: Outcome | None
    handler: str | None
    channel: str
    occurred_at: datetime
    received_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    position: Position | None
    battery_pct: int | None
    timeline: tuple[TimelineEntry, ...] = ()
    tenant: str | None = None
    pilot: bool = False
    """Raised by a tenant on trial: handled end to end, never forwarded to the receiver."""
    site: str | None = None
    agent_group: str | None = None
    """Where the agent works and their team, as dialplans match them."""
