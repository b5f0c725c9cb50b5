"""Console endpoints: presence socket, WebRTC audio signalling, doubt removal."""

from __future__ import annotations

import logging

from aiohttp import WSMsgType, web

from gateway.alarm.events import AlarmEvent, ListenStarted, Noted
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState
from gateway.api.errors import ConflictError, Forbidden, Invalid, NotFoundError, Unavailable
from gateway.api.keys import JOURNAL, VOICE
from gateway.api.request import parse_json, read_body, require_user
from gateway.api.schemas import AlarmOut
from gateway.api.tenancy import scoped_alarm
from gateway.audit.record import audit
from gateway.review.figures import DOUBT_REMOVED
from gateway.store.errors import NotFound
from gateway.store.records import AlarmRecord, Role, User
from gateway.web.access import may_hear
from gateway.web.live import CALLBACKS, HUB, WATCH, WEBRTC, CallBacks
from gateway.web.schemas import AnswerOut, DoubtIn, OfferIn, TalkIn, TalkOut
from gateway.webrtc.leg import SignallingError

log = logging.getLogger("gateway.console")
routes = web.RouteTableDef()
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)
#: Note kind of a listen/talk switch (the SIP stations write the same).
AUDIO_MODE = "audio.mode"


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
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    if alarm.state is AlarmState.CLOSED:
        raise ConflictError("the alarm is closed: there is no call to listen to")
    if not may_hear(alarm.state, alarm.handler, user.name, user.role is Role.SUPERVISOR):
        raise Forbidden("only the operator handling the alarm, or a supervisor, may listen")
    return alarm


async def _record(
    request: web.Request, alarm_id: str, event: AlarmEvent, user: User
) -> AlarmRecord:
    try:
        return await request.app[JOURNAL].record(alarm_id, event, user.name)
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
    await _record(request, alarm.id, ListenStarted(user.name, WEBRTC, "listen"), user)
    details = {"channel": WEBRTC, "monitor": alarm.handler != user.name}
    await audit(request, "listen.start", target=alarm.id, tenant=alarm.tenant, details=details)
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
        mode = "talk" if body.talk else "listen"
        await _record(request, alarm.id, Noted(AUDIO_MODE, f"{WEBRTC}: {mode}"), user)
        action = "talk.start" if body.talk else "talk.stop"
        details = {"channel": WEBRTC}
        await audit(request, action, target=alarm.id, tenant=alarm.tenant, details=details)
    return web.json_response(TalkOut(talk=body.talk).model_dump())


@routes.delete("/api/v1/alarms/{alarm_id}/audio")
async def audio_hangup(request: web.Request) -> web.Response:
    """Hang up this operator's leg (the hub records ``listen_ended``)."""
    user = await require_user(request, *HANDLERS)
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    await request.app[HUB].close_leg(alarm.id, user.name)
    details = {"channel": WEBRTC}
    await audit(request, "listen.stop", target=alarm.id, tenant=alarm.tenant, details=details)
    return web.Response(status=204)


@routes.post("/api/v1/alarms/{alarm_id}/callback")
async def call_back(request: web.Request) -> web.Response:
    """Call the alarm's phone back (handling operator); progress shows in the timeline."""
    user = await require_user(request, *HANDLERS)
    await read_body(request)
    alarm = await _handled_by(request, user, "call the phone back")
    voice = request.app[VOICE]
    if voice.supervisor is None:
        raise Unavailable("the SIP voice channel is not running on this gateway")
    if voice.phone_call(alarm.id) is not None:
        raise ConflictError("the phone is already on a call for this alarm")
    await _record(request, alarm.id, Noted(CallBacks.CALLBACK_NOTE, "call back requested"), user)
    request.app[CALLBACKS].start(voice, alarm.id)
    return web.json_response({"status": "calling"}, status=202)


async def _handled_by(request: web.Request, user: User, action: str) -> AlarmRecord:
    """The open alarm of the URL, which ``user`` must be handling to ``action``."""
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    if alarm.handler != user.name:
        raise ConflictError(f"only the operator handling the alarm may {action}")
    return alarm


@routes.post("/api/v1/alarms/{alarm_id}/doubt-removed")
async def doubt_removed(request: web.Request) -> web.Response:
    """Record the result of doubt removal; only the handling operator may."""
    user = await require_user(request, *HANDLERS)
    body = await parse_json(request, DoubtIn)
    alarm = await _handled_by(request, user, "record doubt removal")
    text = body.verdict if body.comment is None else f"{body.verdict}: {body.comment}"
    alarm = await _record(request, alarm.id, Noted(DOUBT_REMOVED, text), user)
    return web.json_response(AlarmOut.of(alarm, with_timeline=True).model_dump(mode="json"))
