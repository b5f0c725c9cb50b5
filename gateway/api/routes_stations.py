"""Operator SIP stations joined to an alarm's call: listen, talk, or barge in.

The gateway calls the station (auto-answer headers) and bridges it into the
phone's conference on the same SIP worker. ``listen``: the station hears the
phone and the phone hears nothing; ``talk``: both ways; a supervisor who joined
to listen barges in by switching to ``talk``.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field

from gateway.alarm.events import AlarmEvent, ListenEnded, ListenStarted, Noted
from gateway.alarm.types import AlarmState
from gateway.api.errors import ConflictError, Forbidden, NotFoundError, Unavailable
from gateway.api.keys import JOURNAL, VOICE
from gateway.api.request import parse_json, require_user
from gateway.api.schemas import Body
from gateway.api.tenancy import scoped_alarm
from gateway.audit.record import audit
from gateway.sip.bridge import LegMode
from gateway.sip.errors import CallFailedError, NoCapacityError, UnknownCallError
from gateway.sip.events import CallKind
from gateway.sip.supervisor import SipSupervisor
from gateway.store.records import AlarmRecord, Role, User

log = logging.getLogger("gateway.voice")
routes = web.RouteTableDef()
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)


class StationIn(Body):
    uri: str = Field(pattern=r"^sips?:[^\s]+$", max_length=255, description="The station's SIP URI")
    mode: LegMode = LegMode.LISTEN


class ModeIn(Body):
    mode: LegMode


class StationOut(Body):
    leg_id: str
    mode: LegMode


def _supervisor(request: web.Request) -> SipSupervisor:
    supervisor = request.app[VOICE].supervisor
    if supervisor is None:
        raise Unavailable("the SIP voice channel is not running on this gateway")
    return supervisor


async def _alarm_for(request: web.Request, user: User) -> AlarmRecord:
    """Only inside a live alarm, and only its handler may talk (supervisors may barge)."""
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    if alarm.state is AlarmState.CLOSED:
        raise ConflictError("the alarm is closed: there is no call to listen to")
    if user.role is Role.OPERATOR and alarm.handler != user.name:
        raise Forbidden("accept the alarm before joining its call")
    return alarm


def _station_leg(request: web.Request, alarm_id: str) -> tuple[SipSupervisor, str]:
    """The URL's leg if it is a station leg of this alarm; 404 otherwise.

    Without this, a leg id of another alarm (or tenant), or the phone's own call
    id, would reach the supervisor through an alarm the user may see.
    """
    supervisor = _supervisor(request)
    leg_id = request.match_info["leg_id"]
    ref = next((c for c in supervisor.calls() if c.call_id == leg_id), None)
    if ref is None or ref.kind is not CallKind.OPERATOR or ref.alarm_id != alarm_id:
        raise NotFoundError(f"no station leg {leg_id!r} in alarm {alarm_id!r}")
    return supervisor, leg_id


async def _record(request: web.Request, alarm_id: str, event: AlarmEvent, user: User) -> None:
    await request.app[JOURNAL].record(alarm_id, event, user.name)


@routes.post("/api/v1/alarms/{alarm_id}/stations")
async def join(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, StationIn)
    alarm = await _alarm_for(request, user)
    supervisor = _supervisor(request)
    phone_call = request.app[VOICE].phone_call(alarm.id)
    if phone_call is None:
        raise ConflictError("the alarm has no live call to join (call the phone back first)")
    try:
        leg = await supervisor.call_operator(phone_call, body.uri, body.mode)
    except NoCapacityError as exc:
        raise Unavailable(str(exc)) from None
    except (CallFailedError, UnknownCallError) as exc:
        raise ConflictError(f"the station could not be joined: {exc}") from None
    await _record(request, alarm.id, ListenStarted(user.name, "sip", body.mode.value), user)
    await audit(
        request,
        "talk.start" if body.mode is LegMode.TALK else "listen.start",
        target=alarm.id,
        tenant=alarm.tenant,
        details={
            "channel": "sip",
            "mode": body.mode.value,
            "station": body.uri,
            "leg": leg.call_id,
        },
    )
    log.info(
        "station joined",
        extra={
            "alarm_id": alarm.id,
            "leg": leg.call_id,
            "mode": body.mode.value,
            "user": user.name,
        },
    )
    answer = StationOut(leg_id=leg.call_id, mode=body.mode)
    return web.json_response(answer.model_dump(mode="json"), status=201)


@routes.post("/api/v1/alarms/{alarm_id}/stations/{leg_id}/mode")
async def set_mode(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, ModeIn)
    alarm = await _alarm_for(request, user)
    supervisor, leg_id = _station_leg(request, alarm.id)
    try:
        await supervisor.set_mode(leg_id, body.mode)
    except UnknownCallError as exc:
        raise NotFoundError(f"no station leg {leg_id!r}: {exc}") from None
    await _record(request, alarm.id, Noted("audio.mode", f"station {leg_id}: {body.mode}"), user)
    await audit(
        request,
        "talk.start" if body.mode is LegMode.TALK else "talk.stop",
        target=alarm.id,
        tenant=alarm.tenant,
        details={"channel": "sip", "mode": body.mode.value, "leg": leg_id},
    )
    return web.json_response(StationOut(leg_id=leg_id, mode=body.mode).model_dump(mode="json"))


@routes.delete("/api/v1/alarms/{alarm_id}/stations/{leg_id}")
async def leave(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    supervisor, leg_id = _station_leg(request, alarm.id)
    try:
        await supervisor.hangup(leg_id, 200)
    except UnknownCallError:
        raise NotFoundError(f"no station leg {leg_id!r}") from None
    await _record(request, alarm.id, ListenEnded(user.name, "sip"), user)
    details = {"channel": "sip", "leg": leg_id}
    await audit(request, "listen.stop", target=alarm.id, tenant=alarm.tenant, details=details)
    return web.Response(status=204)
