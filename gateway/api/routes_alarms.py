"""Alarms: phones raise, update and cancel them; operators and supervisors read them."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime

from aiohttp import web

from gateway.alarm.events import (
    Accepted,
    AlarmEvent,
    CancelledByAgent,
    Closed,
    Escalated,
    LocationUpdated,
    Noted,
    Position,
    Released,
)
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState
from gateway.api.errors import ApiError, ConflictError, Invalid, NotFoundError
from gateway.api.keys import BUS, CLOCK, JOURNAL, METRICS, SETTINGS, STORE, VOICE
from gateway.api.request import parse_json, read_body, require_device, require_user
from gateway.api.schemas import (
    AlarmCreated,
    AlarmIn,
    AlarmList,
    AlarmOut,
    CloseIn,
    EscalateIn,
    LocationIn,
    NoteIn,
    ReleaseIn,
    VoiceAttach,
    alarm_message,
)
from gateway.api.tenancy import scoped_alarm, tenant_scope
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import NewAlarm, Role, User

log = logging.getLogger("gateway.alarm")
routes = web.RouteTableDef()
IDEMPOTENCY_HEADER = "Idempotency-Key"
STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)  # who may take and work an alarm


@routes.post("/api/v1/alarms")
async def create_alarm(request: web.Request) -> web.Response:
    started = time.perf_counter()
    metrics = request.app[METRICS]
    try:
        device = await require_device(request)
        body = await parse_json(request, AlarmIn)
    except ApiError as exc:
        metrics.alarm_requests_rejected.labels(exc.code).inc()
        raise
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= 128:
        raise Invalid(f"{IDEMPOTENCY_HEADER} must be 1 to 128 characters, got {len(key)}")
    loc = body.location
    new = NewAlarm(
        device_id=device.id,
        alarm_type=body.type,
        occurred_at=body.occurred_at,
        position=Position(loc.lat, loc.lon, loc.accuracy_m) if loc else None,
        battery_pct=body.battery_pct,
        channel="http",
        idempotency_key=key,
        request_hash=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
    )
    try:
        alarm, created = await request.app[STORE].raise_alarm(new, request.app[CLOCK]())
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    voice = request.app[SETTINGS].voice
    answer = AlarmCreated(
        id=alarm.id,
        state=alarm.state,
        voice=VoiceAttach(
            sip_uri=request.app[VOICE].sip_uri or voice.sip_uri,
            headers={voice.alarm_id_header: alarm.id},
        ),
        alarm=AlarmOut.of(alarm, with_timeline=True),
    )
    headers = {"Location": f"/api/v1/alarms/{alarm.id}"}
    if created:
        metrics.alarms_received.labels(alarm.alarm_type.value, "http").inc()
        metrics.alarm_accept_seconds.observe(time.perf_counter() - started)
        log.info(
            "alarm raised",
            extra={
                "alarm_id": alarm.id,
                "device_id": device.id,
                "alarm_type": alarm.alarm_type.value,
            },
        )
        request.app[BUS].publish(alarm_message(alarm))  # raised by the phone: tell consoles
    else:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(answer.model_dump(mode="json"), status=201, headers=headers)


async def _device_event(request: web.Request, event: AlarmEvent) -> web.Response:
    device = await require_device(request)
    alarm_id = request.match_info["alarm_id"]
    store = request.app[STORE]
    alarm = await store.get_alarm(alarm_id)
    if alarm is None or alarm.device_id != device.id:
        raise NotFoundError(f"no alarm {alarm_id!r} for this device")
    return await apply(request, alarm_id, event, f"device:{device.id}")


async def apply(request: web.Request, alarm_id: str, event: AlarmEvent, actor: str) -> web.Response:
    try:
        await request.app[JOURNAL].record(alarm_id, event, actor)
    except AlarmProtocolError as exc:
        raise ConflictError(str(exc)) from None
    alarm = await request.app[STORE].get_alarm(alarm_id)  # the answer shows the whole timeline
    if alarm is None:
        raise NotFoundError(f"no alarm {alarm_id!r}")
    return web.json_response(AlarmOut.of(alarm, with_timeline=True).model_dump(mode="json"))


@routes.post("/api/v1/alarms/{alarm_id}/location")
async def update_location(request: web.Request) -> web.Response:
    body = await parse_json(request, LocationIn)
    loc = body.location
    return await _device_event(request, LocationUpdated(Position(loc.lat, loc.lon, loc.accuracy_m)))


@routes.post("/api/v1/alarms/{alarm_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    await read_body(request)  # bounded even when ignored
    return await _device_event(request, CancelledByAgent())


async def _staff_event(request: web.Request, event: AlarmEvent, user: User) -> web.Response:
    alarm_id = request.match_info["alarm_id"]
    await scoped_alarm(request, alarm_id)  # another tenant's alarm: as if it did not exist
    try:
        return await apply(request, alarm_id, event, user.name)
    except NotFound:
        raise NotFoundError(f"no alarm {alarm_id!r}") from None


@routes.post("/api/v1/alarms/{alarm_id}/accept")
async def accept(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    await read_body(request)
    return await _staff_event(request, Accepted(user.name), user)


@routes.post("/api/v1/alarms/{alarm_id}/release")
async def release(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, ReleaseIn)
    return await _staff_event(request, Released(user.name, body.reason), user)


@routes.post("/api/v1/alarms/{alarm_id}/escalate")
async def escalate(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, EscalateIn)
    return await _staff_event(request, Escalated(body.target, body.reference), user)


@routes.post("/api/v1/alarms/{alarm_id}/notes")
async def note(request: web.Request) -> web.Response:
    user = await require_user(request, *STAFF)
    body = await parse_json(request, NoteIn)
    return await _staff_event(request, Noted("note", body.text), user)


@routes.post("/api/v1/alarms/{alarm_id}/close")
async def close(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, CloseIn)
    return await _staff_event(request, Closed(body.outcome, body.comment), user)


@routes.get("/api/v1/alarms")
async def list_alarms(request: web.Request) -> web.Response:
    await require_user(request, *STAFF)
    states: list[AlarmState] = []
    for raw in request.query.getall("state", []):
        try:
            states.append(AlarmState(raw))
        except ValueError:
            allowed = ", ".join(s.value for s in AlarmState)
            raise Invalid(f"unknown state {raw!r}; expected one of {allowed}") from None
    try:
        limit = int(request.query.get("limit", "100"))
        before = request.query.get("before")
        received_before = datetime.fromisoformat(before) if before else None
    except ValueError as exc:
        raise Invalid(f"bad query parameter: {exc}") from None
    if not 1 <= limit <= 1000:
        raise Invalid(f"limit must be between 1 and 1000, got {limit}")
    if received_before is not None and received_before.tzinfo is None:
        raise Invalid("before must carry a UTC offset, e.g. 2026-01-31T12:00:00+00:00")
    alarms = await request.app[STORE].list_alarms(
        states=states,
        limit=limit,
        received_before=received_before,
        tenant_names=tenant_scope(request).tenants,
    )
    body = AlarmList(alarms=[AlarmOut.of(a, with_timeline=False) for a in alarms])
    return web.json_response(body.model_dump(mode="json"))


@routes.get("/api/v1/alarms/{alarm_id}")
async def get_alarm(request: web.Request) -> web.Response:
    await require_user(request, *STAFF)
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    return web.json_response(AlarmOut.of(alarm, with_timeline=True).model_dump(mode="json"))
