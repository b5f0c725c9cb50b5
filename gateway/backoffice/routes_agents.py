"""Back office routes for tenants, agents and their devices, and the CSV import (admins only).

A tenant-restricted admin sees and changes only their tenants' records; another
tenant's answers 404 as if it did not exist. Creating tenants and changing their
licences is for centre-wide admins: licences are what the centre grants.
"""

from __future__ import annotations

from typing import Literal, get_args

from aiohttp import web
from pydantic import BaseModel

from gateway.api.errors import (
    ApiError,
    ConflictError,
    Forbidden,
    Invalid,
    NotFoundError,
    TooLarge,
    UnsupportedMediaType,
)
from gateway.api.keys import CLOCK, SETTINGS, STORE
from gateway.api.request import parse_json, read_body, require_user
from gateway.api.schemas import ErrorDetail
from gateway.api.tenancy import tenant_scope
from gateway.audit.record import audit
from gateway.backoffice.agents import KEEP, Agent, DeviceSecrets, parse_csv
from gateway.backoffice.schemas import (
    AgentDetail,
    AgentIn,
    AgentList,
    AgentPatch,
    CountsOut,
    DeviceCreated,
    DeviceIn,
    DeviceList,
    DeviceOut,
    ImportErrorOut,
    ImportOut,
    NewDeviceOut,
    SipCredentialsOut,
    TenantIn,
    TenantList,
    TenantOut,
    TenantPatch,
)
from gateway.store.errors import Conflict, NotFound
from gateway.store.records import Device, Role
from gateway.tenancy import TenantScope

routes = web.RouteTableDef()
IMPORT_MAX_BYTES = 32 * 1024 * 1024
"""A CSV of 100,000 agents with their devices fits well within this."""
ImportMode = Literal["all", "partial", "validate"]
IMPORT_MODES: dict[str, ImportMode] = {m: m for m in get_args(ImportMode)}


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


async def _admin(request: web.Request) -> TenantScope:
    await require_user(request, Role.ADMIN)
    return tenant_scope(request)


def _centre_wide(scope: TenantScope, what: str) -> None:
    if not scope.centre_wide:
        raise Forbidden(f"only centre-wide admins {what}; you are limited to some tenants")


# --- tenants ---------------------------------------------------------------------------


async def _tenant_out(request: web.Request, name: str, scope: TenantScope) -> TenantOut:
    found = await request.app[STORE].tenant_uses(frozenset({name}))
    if not found or not scope.allows(name):
        raise NotFoundError(f"no tenant {name!r}")
    return TenantOut.of(found[0])


@routes.get("/api/v1/tenants")
async def list_tenants(request: web.Request) -> web.Response:
    scope = await _admin(request)
    found = await request.app[STORE].tenant_uses(scope.tenants)
    return _json(TenantList(tenants=[TenantOut.of(use) for use in found]))


@routes.post("/api/v1/tenants")
async def add_tenant(request: web.Request) -> web.Response:
    scope = await _admin(request)
    _centre_wide(scope, "create tenants")
    body = await parse_json(request, TenantIn)
    try:
        await request.app[STORE].add_tenant(
            body.name, request.app[CLOCK](), pilot=body.pilot, licences=body.licences
        )
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    details = {"pilot": body.pilot, "licences": body.licences}
    await audit(request, "admin.tenant.create", target=body.name, tenant=body.name, details=details)
    return _json(await _tenant_out(request, body.name, scope), 201)


@routes.get("/api/v1/tenants/{name}")
async def get_tenant(request: web.Request) -> web.Response:
    scope = await _admin(request)
    return _json(await _tenant_out(request, request.match_info["name"], scope))


@routes.patch("/api/v1/tenants/{name}")
async def change_tenant(request: web.Request) -> web.Response:
    scope = await _admin(request)
    _centre_wide(scope, "change tenants")
    name = request.match_info["name"]
    body = await parse_json(request, TenantPatch)
    licences = body.licences if "licences" in body.model_fields_set else KEEP
    try:
        use = await request.app[STORE].update_tenant(name, pilot=body.pilot, licences=licences)
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    details = body.model_dump(include=body.model_fields_set)
    await audit(request, "admin.tenant.update", target=name, tenant=name, details=details)
    return _json(TenantOut.of(use))


# --- agents ----------------------------------------------------------------------------


async def _scoped_agent(request: web.Request, scope: TenantScope) -> Agent:
    agent_id = request.match_info["agent_id"]
    agent = await request.app[STORE].agent(agent_id)
    if agent is None or not scope.allows(agent.tenant):
        raise NotFoundError(f"no agent {agent_id!r}")
    return agent


async def _agent_detail(request: web.Request, agent: Agent) -> AgentDetail:
    carried = await request.app[STORE].devices(agent_id=agent.id)
    return AgentDetail.of(agent, [d.id for d in carried])


@routes.get("/api/v1/agents")
async def list_agents(request: web.Request) -> web.Response:
    scope = await _admin(request)
    store = request.app[STORE]
    carried: dict[str, list[str]] = {}
    for device in await store.devices(scope.tenants):
        if device.agent_id is not None:
            carried.setdefault(device.agent_id, []).append(device.id)
    found = await store.agents(scope.tenants)
    return _json(AgentList(agents=[AgentDetail.of(a, carried.get(a.id, [])) for a in found]))


@routes.post("/api/v1/agents")
async def add_agent(request: web.Request) -> web.Response:
    scope = await _admin(request)
    agent = (await parse_json(request, AgentIn)).agent()
    if not scope.allows(agent.tenant):
        raise Forbidden(f"tenant {agent.tenant!r} is not one of your tenants")
    try:
        await request.app[STORE].add_agent(agent, request.app[CLOCK]())
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    await audit(request, "admin.agent.create", target=agent.id, tenant=agent.tenant)
    return _json(AgentDetail.of(agent, []), 201)


@routes.get("/api/v1/agents/{agent_id}")
async def get_agent(request: web.Request) -> web.Response:
    scope = await _admin(request)
    return _json(await _agent_detail(request, await _scoped_agent(request, scope)))


@routes.patch("/api/v1/agents/{agent_id}")
async def change_agent(request: web.Request) -> web.Response:
    scope = await _admin(request)
    agent = await _scoped_agent(request, scope)
    body = await parse_json(request, AgentPatch)
    changed = body.applied_to(agent)
    try:
        await request.app[STORE].update_agent(changed, request.app[CLOCK]())
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    # the field names changed, not their values: safety notes are personal data
    details = {"fields": sorted(body.model_fields_set)}
    await audit(
        request, "admin.agent.update", target=agent.id, tenant=agent.tenant, details=details
    )
    return _json(await _agent_detail(request, changed))


@routes.delete("/api/v1/agents/{agent_id}")
async def delete_agent(request: web.Request) -> web.Response:
    scope = await _admin(request)
    agent = await _scoped_agent(request, scope)
    try:
        await request.app[STORE].delete_agent(agent.id)
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    await audit(request, "admin.agent.delete", target=agent.id, tenant=agent.tenant)
    return web.Response(status=204)


# --- devices ---------------------------------------------------------------------------


def _sip_out(device_id: str, realm: str, secrets: DeviceSecrets) -> SipCredentialsOut:
    return SipCredentialsOut(
        device_id=device_id,
        realm=realm,
        sip_username=secrets.sip_username,
        sip_password=secrets.sip_password,
    )


@routes.get("/api/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    scope = await _admin(request)
    found = await request.app[STORE].devices(scope.tenants)
    return _json(DeviceList(devices=[DeviceOut.of(d) for d in found]))


@routes.post("/api/v1/devices")
async def add_device(request: web.Request) -> web.Response:
    """A device for an agent, within their tenant's licences; its secrets are shown once."""
    scope = await _admin(request)
    body = await parse_json(request, DeviceIn)
    store = request.app[STORE]
    agent = await store.agent(body.agent_id)
    if agent is None or not scope.allows(agent.tenant):
        detail = ErrorDetail(field="agent_id", message=f"no agent {body.agent_id!r}")
        raise Invalid(f"invalid request: agent_id: {detail.message}", [detail])
    realm = request.app[SETTINGS].sip.realm
    secrets = DeviceSecrets.issue(body.id, realm)
    extra = body.model_dump(include={"sip_uri", "label", "dc09_account"})
    try:
        device = await store.add_agent_device(
            body.id, agent.id, secrets, request.app[CLOCK](), **extra
        )
    except (NotFound, Conflict) as exc:  # the agent deleted meanwhile, or licences used up
        raise ConflictError(str(exc)) from None
    await audit(request, "admin.device.create", target=device.id, tenant=device.tenant)
    return _json(
        DeviceCreated(
            device=DeviceOut.of(device),
            token=secrets.token,
            sip=_sip_out(device.id, realm, secrets),
        ),
        201,
    )


async def _scoped_device(request: web.Request, scope: TenantScope) -> Device:
    device_id = request.match_info["device_id"]
    device = await request.app[STORE].device_by_id(device_id)
    if device is None or not scope.allows(device.tenant):
        raise NotFoundError(f"no device {device_id!r}")
    return device


@routes.post("/api/v1/devices/{device_id}/sip-credentials")
async def new_sip_credentials(request: web.Request) -> web.Response:
    """A new SIP password for the phone; the old one is refused from now on."""
    scope = await _admin(request)
    await read_body(request)
    device = await _scoped_device(request, scope)
    realm = request.app[SETTINGS].sip.realm
    secrets = DeviceSecrets.issue(device.sip_username or device.id, realm)
    try:
        await request.app[STORE].set_sip_credentials(
            device.id, secrets.sip_username, secrets.sip_ha1
        )
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    except Conflict as exc:
        raise ConflictError(str(exc)) from None
    await audit(request, "admin.device.sip_credentials", target=device.id, tenant=device.tenant)
    return _json(_sip_out(device.id, realm, secrets))


# --- CSV import ------------------------------------------------------------------------


async def _read_csv(request: web.Request) -> str:
    if request.content_type not in ("text/csv", "text/plain"):
        raise UnsupportedMediaType(
            f"expected Content-Type text/csv, got {request.content_type or 'none'}"
        )
    if request.content_length is not None and request.content_length > IMPORT_MAX_BYTES:
        raise TooLarge(f"CSV file exceeds the limit of {IMPORT_MAX_BYTES} bytes; split it")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):  # one read() may stop short
        size += len(chunk)
        if size > IMPORT_MAX_BYTES:
            raise TooLarge(f"CSV file exceeds the limit of {IMPORT_MAX_BYTES} bytes; split it")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(f"the file is not UTF-8 text (byte {exc.start})") from None


@routes.post("/api/v1/imports/agents")
async def import_agents(request: web.Request) -> web.Response:
    """Agents and devices from a CSV file; every row is checked before anything is written."""
    scope = await _admin(request)
    asked = request.query.get("mode", "all")
    mode = IMPORT_MODES.get(asked)
    if mode is None:
        detail = ErrorDetail(field="mode", message=f"expected one of {', '.join(IMPORT_MODES)}")
        raise Invalid(f"invalid request: mode: {detail.message}, got {asked!r}", [detail])
    parsed = parse_csv(await _read_csv(request))
    realm = request.app[SETTINGS].sip.realm
    result = await request.app[STORE].import_agents(
        parsed,
        request.app[CLOCK](),
        realm=realm,
        allows=scope.allows,
        partial=mode == "partial",
        dry_run=mode == "validate",
    )
    plan = result.plan
    if result.applied:
        details = {"mode": mode, **result.counts()}
        tenants = {a.tenant for a in (*plan.new_agents, *plan.changed_agents)}
        tenant = next(iter(tenants)) if len(tenants) == 1 else None
        await audit(request, "admin.import.agents", tenant=tenant, details=details)
    answer = ImportOut(
        mode=mode,
        applied=result.applied,
        message=result.summary(),
        rows=plan.rows,
        realm=realm,
        agents=CountsOut.of(plan.agent_counts),
        devices=CountsOut.of(plan.device_counts),
        errors=[ImportErrorOut(line=e.line, column=e.column, reason=e.reason) for e in plan.errors],
        credentials=[
            NewDeviceOut(
                device_id=device_id,
                token=secrets.token,
                sip_username=secrets.sip_username,
                sip_password=secrets.sip_password,
            )
            for device_id, secrets in result.credentials
        ],
    )
    refused = bool(plan.errors) and mode == "all"
    return _json(answer, 422 if refused else 200)
