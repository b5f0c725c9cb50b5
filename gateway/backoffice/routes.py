"""Back office routes: admins keep instructions, contacts, tokens; operators read briefings."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from gateway.api.errors import ConflictError, NotFoundError
from gateway.api.keys import CLOCK, STORE
from gateway.api.request import parse_json, read_body, require_user
from gateway.auth import token_hash
from gateway.backoffice.rules import AlarmContext, applicable_contacts, applicable_instructions
from gateway.backoffice.schemas import (
    AgentOut,
    BriefingContact,
    BriefingOut,
    ContactIn,
    ContactList,
    ContactOut,
    InstructionIn,
    InstructionList,
    InstructionOut,
    TokenOut,
)
from gateway.ids import new_secret
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Role

routes = web.RouteTableDef()
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


@routes.post("/api/v1/instructions")
async def add_instruction(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    body = await parse_json(request, InstructionIn)
    store = request.app[STORE]
    try:
        added = await store.add_instruction(
            body.scope(), body.text, frozenset(body.alarm_types), request.app[CLOCK]()
        )
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    return _json(InstructionOut.of(added), 201)


@routes.get("/api/v1/instructions")
async def list_instructions(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    found = await request.app[STORE].instructions()
    return _json(InstructionList(instructions=[InstructionOut.of(i) for i in found]))


@routes.delete(r"/api/v1/instructions/{instruction_id:\d+}")
async def delete_instruction(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    try:
        await request.app[STORE].delete_instruction(int(request.match_info["instruction_id"]))
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    return web.Response(status=204)


@routes.post("/api/v1/contacts")
async def add_contact(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    body = await parse_json(request, ContactIn)
    try:
        added = await request.app[STORE].add_contact(body.contact(), request.app[CLOCK]())
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    return _json(ContactOut.of(added), 201)


@routes.get("/api/v1/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    found = await request.app[STORE].contacts()
    return _json(ContactList(contacts=[ContactOut.of(c) for c in found]))


@routes.delete(r"/api/v1/contacts/{contact_id:\d+}")
async def delete_contact(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    try:
        await request.app[STORE].delete_contact(int(request.match_info["contact_id"]))
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    return web.Response(status=204)


@routes.get("/api/v1/alarms/{alarm_id}/briefing")
async def briefing(request: web.Request) -> web.Response:
    await require_user(request, *HANDLERS)
    store = request.app[STORE]
    alarm_id = request.match_info["alarm_id"]
    alarm = await store.get_alarm(alarm_id)
    device = None if alarm is None else await store.device_by_id(alarm.device_id)
    if alarm is None or device is None:
        raise NotFoundError(f"no alarm {alarm_id!r}")
    # where the agent was when the alarm was raised, not where they are now
    context = AlarmContext(
        alarm.device_id, alarm.alarm_type, alarm.tenant, alarm.site, alarm.agent_group
    )
    instructions = applicable_instructions(await store.instructions(), context)
    contacts = applicable_contacts(await store.contacts(), context, request.app[CLOCK]())
    return _json(
        BriefingOut(
            alarm_id=alarm.id,
            agent=AgentOut.of(device),
            instructions=[InstructionOut.of(i) for i in instructions],
            contacts=[BriefingContact.chosen(c) for c in contacts],
        )
    )


@routes.post("/api/v1/devices/{device_id}/rotate")
async def rotate_token(request: web.Request) -> web.Response:
    """A new token for the device; the old one is refused from this answer on."""
    await require_user(request, Role.ADMIN)
    await read_body(request)
    device_id = request.match_info["device_id"]
    token = new_secret()
    try:
        await request.app[STORE].rotate_device_token(device_id, token_hash(token))
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    return _json(TokenOut(device_id=device_id, token=token))


@routes.post("/api/v1/devices/{device_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    """Refuse the device's alarms and calls from now on (a lost or stolen phone)."""
    await require_user(request, Role.ADMIN)
    await read_body(request)
    try:
        await request.app[STORE].revoke_device(
            request.match_info["device_id"], request.app[CLOCK]()
        )
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    return web.Response(status=204)
