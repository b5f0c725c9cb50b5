"""A manager acknowledges a notification by following its link (no login: the link's
HMAC token names one alarm, one trigger and one contact)."""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field

from gateway.api.errors import Forbidden, Unavailable
from gateway.api.keys import DIALPLANS, SETTINGS
from gateway.api.request import parse_json
from gateway.api.schemas import Body
from gateway.dialplan.events import ManagerAcknowledged
from gateway.dialplan.model import Trigger
from gateway.managers import valid_ack

log = logging.getLogger("gateway.dialplan")
routes = web.RouteTableDef()


class AcknowledgementIn(Body):
    alarm_id: str = Field(min_length=1, max_length=64)
    trigger: Trigger
    contact: str = Field(min_length=1, max_length=200)
    token: str = Field(min_length=64, max_length=64)


@routes.post("/api/v1/acknowledgements")
async def acknowledge(request: web.Request) -> web.Response:
    body = await parse_json(request, AcknowledgementIn)
    secret = request.app[SETTINGS].dialplan.manager_webhook_secret
    runner = request.app.get(DIALPLANS)
    if secret is None or runner is None:
        raise Unavailable("manager acknowledgements are not enabled on this gateway")
    key = secret.get_secret_value().encode()
    if not valid_ack(key, body.alarm_id, body.trigger.value, body.contact, body.token):
        raise Forbidden("this acknowledgement link is not valid")
    runner.feed(body.alarm_id, ManagerAcknowledged(body.trigger, body.contact))
    log.info(
        "manager acknowledged",
        extra={"alarm_id": body.alarm_id, "contact": body.contact, "remote": request.remote},
    )
    return web.json_response({"acknowledged": True}, status=202)
