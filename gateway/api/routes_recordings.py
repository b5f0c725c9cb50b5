"""Call recordings of an alarm, for supervisors' review (every access logged)."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.api.errors import NotFoundError
from gateway.api.keys import RECORDER
from gateway.api.request import require_user
from gateway.api.schemas import Body
from gateway.api.tenancy import scoped_alarm
from gateway.audit.record import audit
from gateway.store.records import Role

log = logging.getLogger("gateway.audit")
routes = web.RouteTableDef()
REVIEWERS = (Role.SUPERVISOR, Role.ADMIN)


class RecordingList(Body):
    recordings: list[str]


@routes.get("/api/v1/alarms/{alarm_id}/recordings")
async def list_recordings(request: web.Request) -> web.Response:
    await require_user(request, *REVIEWERS)
    recorder = request.app.get(RECORDER)
    alarm_id = (await scoped_alarm(request, request.match_info["alarm_id"])).id
    names = [p.name for p in recorder.recordings(alarm_id)] if recorder is not None else []
    return web.json_response(RecordingList(recordings=names).model_dump())


@routes.get("/api/v1/alarms/{alarm_id}/recordings/{name}")
async def play(request: web.Request) -> web.StreamResponse:
    user = await require_user(request, *REVIEWERS)
    recorder = request.app.get(RECORDER)
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    alarm_id, name = alarm.id, request.match_info["name"]
    found = {p.name: p for p in recorder.recordings(alarm_id)} if recorder is not None else {}
    if name not in found:  # names come from the listing only: no path is built from input
        raise NotFoundError(f"no recording {name!r} for alarm {alarm_id!r}")
    log.info(
        "recording played",
        extra={"alarm_id": alarm_id, "file": name, "user": user.name, "remote": request.remote},
    )
    await audit(
        request, "recording.play", target=alarm_id, tenant=alarm.tenant, details={"file": name}
    )
    return web.FileResponse(found[name], headers={"Content-Type": "audio/wav"})
