"""Console endpoints: presence socket, WebRTC audio signalling, doubt removal."""

from __future__ import annotations

import logging

from aiohttp import WSMsgType, web

from gateway.alarm.events import Noted
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState
from gateway.api.errors import ConflictError, Forbidden, Invalid, NotFoundError
from gateway.api.keys import STORE
from gateway.api.request import parse_json, require_user
from gateway.api.schemas import AlarmOut
from gateway.review.figures import AUDIO_NOTE, DOUBT_REMOVED
from gateway.store.errors import NotFound
from gateway.store.records import AlarmRecord, Role, User
from gateway.web.access import may_hear
from gateway.web.live import HUB, WATCH, record
from gateway.web.schemas import AnswerOut, DoubtIn, OfferIn, TalkIn, TalkOut
from gateway.webrtc.leg import SignallingError

log = logging.getLogger("gateway.console")
routes = web.RouteTableDef()
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)


@routes.get("/api/v1/console/presence")
async def presence(request: web.Request) -> web.WebSocketResponse:
    """Open while the console is: when a handler's last one closes, their alarms go back."""
    user = await require_user(request, *HANDLERS)
    ws = web.WebSocketResponse(heartbeat=5)  # a dead browser is noticed within ~10 s
    await ws.prepare(request)
    watch = request.app[WATCH]
    watch.opened(user.name)
    try:
        await ws.send_json({"type": "presence", "user": user.name})
        async for msg in ws:
            if msg.type is WSMsgType.ERROR:
                break
    finally:
        watch.closed(user.name)
    return ws


async def _alarm_for_audio(request: web.Request, user: User) -> AlarmRecord:
    """The alarm, if ``user`` may hear it: its handler, or any supervisor (silent monitoring)."""
    alarm_id = request.match_info["alarm_id"]
    alarm = await request.app[STORE].get_alarm(alarm_id)
    if alarm is None:
        raise NotFoundError(f"no alarm {alarm_id!r}")
    if alarm.state is AlarmState.CLOSED:
        raise ConflictError("the alarm is closed: there is no call to listen to")
    if not may_hear(alarm.state, alarm.handler, user.name, user.role is Role.SUPERVISOR):
        raise Forbidden("only the operator handling the alarm, or a supervisor, may listen")
    return alarm


async def _note(
    request: web.Request, alarm_id: str, kind: str, text: str, user: User
) -> AlarmRecord:
    try:
        return await record(request.app, alarm_id, Noted(kind, text), user.name)
    except NotFound:
        raise NotFoundError(f"no alarm {alarm_id!r}") from None
    except AlarmProtocolError as exc:
        raise ConflictError(str(exc)) from None


@routes.post("/api/v1/alarms/{alarm_id}/audio/offer")
async def audio_offer(request: web.Request) -> web.Response:
    """WebRTC signalling: the browser's offer in, the gateway's answer out (listen mode)."""
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, OfferIn)
    alarm = await _alarm_for_audio(request, user)
    try:
        sdp = await request.app[HUB].open_leg(
            alarm.id, user.name, body.sdp, monitor=alarm.handler != user.name
        )
    except SignallingError as exc:
        raise Invalid(str(exc)) from None
    await _note(request, alarm.id, AUDIO_NOTE, "listening", user)
    return web.json_response(AnswerOut(type="answer", sdp=sdp).model_dump())


@routes.post("/api/v1/alarms/{alarm_id}/audio/mode")
async def audio_mode(request: web.Request) -> web.Response:
    """Switch this operator's leg between listening (silent) and talking to the agent."""
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, TalkIn)
    alarm = await _alarm_for_audio(request, user)
    leg = request.app[HUB].leg(alarm.id, user.name)
    if leg is None:
        raise ConflictError("no audio connection: send an offer first")
    if leg.talking != body.talk:
        request.app[HUB].set_talking(alarm.id, user.name, body.talk)
        await _note(request, alarm.id, AUDIO_NOTE, "talking" if body.talk else "listening", user)
    return web.json_response(TalkOut(talk=body.talk).model_dump())


@routes.delete("/api/v1/alarms/{alarm_id}/audio")
async def audio_hangup(request: web.Request) -> web.Response:
    user = await require_user(request, *HANDLERS)
    alarm_id = request.match_info["alarm_id"]
    if await request.app[HUB].close_leg(alarm_id, user.name):
        await _note(request, alarm_id, AUDIO_NOTE, "stopped listening", user)
    return web.Response(status=204)


@routes.post("/api/v1/alarms/{alarm_id}/doubt-removed")
async def doubt_removed(request: web.Request) -> web.Response:
    """Record the result of doubt removal; only the handling operator may."""
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, DoubtIn)
    alarm_id = request.match_info["alarm_id"]
    alarm = await request.app[STORE].get_alarm(alarm_id)
    if alarm is None:
        raise NotFoundError(f"no alarm {alarm_id!r}")
    if alarm.handler != user.name:
        raise ConflictError("only the operator handling the alarm may record doubt removal")
    text = body.verdict if body.comment is None else f"{body.verdict}: {body.comment}"
    alarm = await _note(request, alarm_id, DOUBT_REMOVED, text, user)
    return web.json_response(AlarmOut.of(alarm, with_timeline=True).model_dump(mode="json"))
