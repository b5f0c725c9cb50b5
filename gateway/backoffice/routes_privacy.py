"""Personal data of one agent (admin): export it, erase it; both audited."""

from __future__ import annotations

from aiohttp import web

from gateway.api.errors import NotFoundError
from gateway.api.keys import CLOCK, SETTINGS, STORE
from gateway.api.request import read_body, require_user
from gateway.api.tenancy import tenant_scope
from gateway.audit.record import audit
from gateway.backoffice.personal import erase_personal_data, export_personal_data
from gateway.store.errors import NotFound
from gateway.store.records import Role

routes = web.RouteTableDef()


async def _agent_tenant(request: web.Request) -> tuple[str, str | None]:
    """The URL's agent id and tenant, if the admin may see the agent; 404 otherwise."""
    await require_user(request, Role.ADMIN)
    agent_id = request.match_info["agent_id"]
    agent = await request.app[STORE].agent(agent_id)
    if agent is None or not tenant_scope(request).allows(agent.tenant):
        raise NotFoundError(f"no agent {agent_id!r}")
    return agent_id, agent.tenant


@routes.get("/api/v1/agents/{agent_id}/personal-data")
async def export(request: web.Request) -> web.Response:
    """Everything held about the agent, as JSON (right of access)."""
    agent_id, tenant = await _agent_tenant(request)
    data_dir = request.app[SETTINGS].gateway.data_dir
    found = await export_personal_data(request.app[STORE], data_dir, agent_id)
    if found is None:
        raise NotFoundError(f"no agent {agent_id!r}")
    details = {"alarms": len(found.alarms), "devices": len(found.devices)}
    await audit(request, "privacy.export", target=agent_id, tenant=tenant, details=details)
    return web.json_response(found.model_dump(mode="json"))


@routes.post("/api/v1/agents/{agent_id}/erase")
async def erase(request: web.Request) -> web.Response:
    """Remove the agent's personal data; their alarms stay as anonymous statistics."""
    agent_id, tenant = await _agent_tenant(request)
    await read_body(request)
    data_dir = request.app[SETTINGS].gateway.data_dir
    try:
        done = await erase_personal_data(
            request.app[STORE], data_dir, agent_id, request.app[CLOCK]()
        )
    except NotFound as exc:
        raise NotFoundError(str(exc)) from None
    details = {"alarms": len(done.alarms), "recordings": len(done.recordings_removed)}
    await audit(request, "privacy.erase", target=agent_id, tenant=tenant, details=details)
    return web.json_response(done.model_dump(mode="json"))
