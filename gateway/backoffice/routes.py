"""Back office routes: admins keep instructions, contacts, tokens; operators read briefings."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from gateway.api.errors import ConflictError, Forbidden, NotFoundError
from gateway.api.keys import CLOCK, STORE
from gateway.api.request import parse_json, read_body, require_user
from gateway.api.tenancy import scoped_alarm, scoped_device, tenant_scope
from gateway.audit.record import audit
from gateway.auth import token_hash
from gateway.backoffice.rules import (
    AlarmContext,
    Contact,
    Instruction,
    Scope,
    applicable_contacts,
    applicable_instructions,
)
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
from gateway.store.store import Store

routes = web.RouteTableDef()
E = TypeVar("E", Instruction, Contact)
HANDLERS = (Role.OPERATOR, Role.SUPERVISOR)


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


async def _entry_tenant(store: Store, scope: Scope) -> str | None:
    """The tenant an entry belongs to: its own, else its device's; None: centre-wide."""
    if scope.tenant is not None or scope.device_id is None:
        return scope.tenant
    device = await store.device_by_id(scope.device_id)
    return None if device is None else device.tenant


async def _visible(request: web.Request, entries: list[E]) -> list[E]:
    """The entries the admin may see: a tenant admin, only their tenants' (not global ones)."""
    scope = tenant_scope(request)
    if scope.centre_wide:
        return entries
    store = request.app[STORE]
    return [e for e in entries if scope.allows(await _entry_tenant(store, e.scope))]


async def _scoped_entry(request: web.Request, entries: list[E], entry_id: int, what: str) -> E:
    """The entry; 404 unless it exists and the admin may see it."""
    for entry in await _visible(request, entries):
        if entry.id == entry_id:
            return entry
    raise NotFoundError(f"no {what} {entry_id}")


async def _audit_entry(request: web.Request, action: str, entry: Instruction | Contact) -> None:
    """Audit an instruction or contact change: its id and scope (no names nor numbers)."""
    scope = entry.scope
    details = {"site": scope.site, "agent_group": scope.agent_group, "device_id": scope.device_id}
    await audit(
        request,
        action,
        target=str(entry.id),
        tenant=await _entry_tenant(request.app[STORE], scope),
        details={k: v for k, v in details.items() if v is not None},
    )


async def _check_scope(request: web.Request, scope: Scope) -> None:
    """A tenant admin may only add entries within their tenants (409 for a device not theirs)."""
    allowed = tenant_scope(request)
    if allowed.centre_wide:
        return
    if scope.device_id is not None:
        device = await request.app[STORE].device_by_id(scope.device_id)
        if device is None or not allowed.allows(device.tenant):
            raise ConflictError(f"no device {scope.device_id!r} to attach the entry to")
    tenant = await _entry_tenant(request.app[STORE], scope)
    if not allowed.allows(tenant):
        mine = ", ".join(sorted(allowed.tenants or ()))
        raise Forbidden(f"tenant: you may only add entries for your tenants ({mine})")


@routes.post("/api/v1/instructions")
async def add_instruction(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    body = await parse_json(request, InstructionIn)
    await _check_scope(request, body.scope())
    store = request.app[STORE]
    try:
        added = await store.add_instruction(
            body.scope(), body.text, frozenset(body.alarm_types), request.app[CLOCK]()
        )
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    await _audit_entry(request, "admin.instruction.create", added)
    return _json(InstructionOut.of(added), 201)


@routes.get("/api/v1/instructions")
async def list_instructions(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    found = await _visible(request, await request.app[STORE].instructions())
    return _json(InstructionList(instructions=[InstructionOut.of(i) for i in found]))


@routes.delete(r"/api/v1/instructions/{instruction_id:\d+}")
async def delete_instruction(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    instruction_id = int(request.match_info["instruction_id"])
    entry = await _scoped_entry(
        request, await request.app[STORE].instructions(), instruction_id, "instruction"
    )
    try:
        await request.app[STORE].delete_instruction(instruction_id)
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    await _audit_entry(request, "admin.instruction.delete", entry)
    return web.Response(status=204)


@routes.post("/api/v1/contacts")
async def add_contact(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    body = await parse_json(request, ContactIn)
    await _check_scope(request, body.scope())
    try:
        added = await request.app[STORE].add_contact(body.contact(), request.app[CLOCK]())
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    await _audit_entry(request, "admin.contact.create", added)
    return _json(ContactOut.of(added), 201)


@routes.get("/api/v1/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    found = await _visible(request, await request.app[STORE].contacts())
    return _json(ContactList(contacts=[ContactOut.of(c) for c in found]))


@routes.delete(r"/api/v1/contacts/{contact_id:\d+}")
async def delete_contact(request: web.Request) -> web.Response:
    await require_user(request, Role.ADMIN)
    contact_id = int(request.match_info["contact_id"])
    entry = await _scoped_entry(request, await request.app[STORE].contacts(), contact_id, "contact")
    try:
        await request.app[STORE].delete_contact(contact_id)
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    await _audit_entry(request, "admin.contact.delete", entry)
    return web.Response(status=204)


@routes.get("/api/v1/alarms/{alarm_id}/briefing")
async def briefing(request: web.Request) -> web.Response:
    await require_user(request, *HANDLERS)
    store = request.app[STORE]
    alarm = await scoped_alarm(request, request.match_info["alarm_id"])
    device = await store.device_by_id(alarm.device_id)
    if device is None:
        raise NotFoundError(f"no alarm {alarm.id!r}")
    # where the agent was when the alarm was raised, not where they are now
    context = AlarmContext(
        alarm.device_id, alarm.alarm_type, alarm.tenant, alarm.site, alarm.agent_group
    )
    instructions = applicable_instructions(await store.instructions(), context)
    contacts = applicable_contacts(await store.contacts(), context, request.app[CLOCK]())
    agent = None if device.agent_id is None else await store.agent(device.agent_id)
    return _json(
        BriefingOut(
            alarm_id=alarm.id,
            agent=AgentOut.of(device, agent),
            instructions=[InstructionOut.of(i) for i in instructions],
            contacts=[BriefingContact.chosen(c) for c in contacts],
        )
    )


@routes.post("/api/v1/devices/{device_id}/rotate")
async def rotate_token(request: web.Request) -> web.Response:
    """A new token for the device; the old one is refused from this answer on."""
    await require_user(request, Role.ADMIN)
    await read_body(request)
    device = await scoped_device(request, request.match_info["device_id"])
    device_id = device.id
    token = new_secret()
    try:
        await request.app[STORE].rotate_device_token(device_id, token_hash(token))
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    await audit(request, "admin.device.rotate", target=device_id, tenant=device.tenant)
    return _json(TokenOut(device_id=device_id, token=token))


@routes.post("/api/v1/devices/{device_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    """Refuse the device's alarms and calls from now on (a lost or stolen phone)."""
    await require_user(request, Role.ADMIN)
    await read_body(request)
    device = await scoped_device(request, request.match_info["device_id"])
    try:
        await request.app[STORE].revoke_device(device.id, request.app[CLOCK]())
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    await audit(request, "admin.device.revoke", target=device.id, tenant=device.tenant)
    return web.Response(status=204)
