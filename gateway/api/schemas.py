"""Request and response bodies. The OpenAPI document is generated from these models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gateway.alarm.machine import TimelineEntry
from gateway.alarm.types import AlarmState, AlarmType, Outcome
from gateway.store.records import AlarmRecord


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(Body):
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude, degrees")
    accuracy_m: float | None = Field(None, ge=0, description="Horizontal accuracy, metres")


class AlarmIn(Body):
    """What a phone sends when an alarm fires."""

    type: AlarmType
    occurred_at: AwareDatetime = Field(
        description="When it fired on the phone (ISO 8601 with offset)"
    )
    location: Location | None = None
    battery_pct: int | None = Field(None, ge=0, le=100)


class LocationIn(Body):
    location: Location


class ReleaseIn(Body):
    reason: str = Field("released by the operator", min_length=1, max_length=500)


class EscalateIn(Body):
    """Who was engaged: emergency services by their French numbers, or people."""

    target: Literal["police", "samu", "fire", "112", "manager", "supervisor"]
    reference: str | None = Field(None, max_length=100, description="e.g. the call-out number")


class NoteIn(Body):
    text: str = Field(min_length=1, max_length=4000)


class CloseIn(Body):
    outcome: Outcome
    comment: str | None = Field(None, max_length=4000)


class LoginIn(Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str
    role: str
    expires_at: datetime


class VoiceAttach(BaseModel):
    """How the phone attaches its voice call to the alarm."""

    sip_uri: str
    headers: dict[str, str]


class TimelineEntryOut(BaseModel):
    at: datetime
    actor: str
    kind: str
    state: AlarmState
    data: dict[str, Any]

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEntryOut:
        return cls(
            at=entry.at,
            actor=entry.actor,
            kind=entry.kind,
            state=entry.state,
            data=dict(entry.data),
        )


class AlarmOut(BaseModel):
    id: str
    device_id: str
    type: AlarmType
    state: AlarmState
    outcome: Outcome | None
    handler: str | None
    channel: str
    occurred_at: datetime
    received_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    location: Location | None
    battery_pct: int | None
    tenant: str | None = None
    pilot: bool = False
    """Raised by a tenant on trial: handled end to end, not forwarded to the receiver."""
    site: str | None = None
    agent_group: str | None = None
    timeline: list[TimelineEntryOut] | None = None

    @classmethod
    def of(cls, alarm: AlarmRecord, *, with_timeline: bool) -> AlarmOut:
        p = alarm.position
        return cls(
            id=alarm.id,
            device_id=alarm.device_id,
            type=alarm.alarm_type,
            state=alarm.state,
            outcome=alarm.outcome,
            handler=alarm.handler,
            channel=alarm.channel,
            occurred_at=alarm.occurred_at,
            received_at=alarm.received_at,
            updated_at=alarm.updated_at,
            closed_at=alarm.closed_at,
            location=Location(lat=p.lat, lon=p.lon, accuracy_m=p.accuracy_m) if p else None,
            battery_pct=alarm.battery_pct,
            tenant=alarm.tenant,
            pilot=alarm.pilot,
            site=alarm.site,
            agent_group=alarm.agent_group,
            timeline=[TimelineEntryOut.of(e) for e in alarm.timeline] if with_timeline else None,
        )


class AlarmCreated(BaseModel):
    id: str
    state: AlarmState
    voice: VoiceAttach
    alarm: AlarmOut


class AlarmList(BaseModel):
    alarms: list[AlarmOut]


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    status: int
    code: Literal[
        "bad_json",
        "invalid",
        "unauthorized",
        "forbidden",
        "not_found",
        "conflict",
        "too_large",
        "unsupported_media_type",
        "refused",
    ]
    message: str
    details: list[ErrorDetail] = []


class ErrorOut(BaseModel):
    error: ErrorBody


def alarm_message(alarm: AlarmRecord, entry: TimelineEntry | None = None) -> dict[str, Any]:
    """The live-event message for a change: ``entry`` (default: the last) says what changed."""
    if entry is None and alarm.timeline:
        entry = alarm.timeline[-1]
    return {
        "type": "alarm",
        "alarm": AlarmOut.of(alarm, with_timeline=False).model_dump(mode="json"),
        "entry": None if entry is None else TimelineEntryOut.of(entry).model_dump(mode="json"),
    }
