"""OpenAPI entries of the tenant, agent, device and import routes (``routes_agents``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.api.openapi_parts import REF, STAFF, errors, json_body, path_param, ref
from gateway.backoffice.agents import COLUMNS
from gateway.backoffice.routes_agents import IMPORT_MODES
from gateway.backoffice.schemas import (
    AgentDetail,
    AgentIn,
    AgentList,
    AgentPatch,
    DeviceCreated,
    DeviceIn,
    DeviceList,
    ImportOut,
    SipCredentialsOut,
    TenantIn,
    TenantList,
    TenantOut,
    TenantPatch,
)

AGENT_MODELS: tuple[type[BaseModel], ...] = (
    TenantIn,
    TenantPatch,
    TenantOut,
    TenantList,
    AgentIn,
    AgentPatch,
    AgentDetail,
    AgentList,
    DeviceIn,
    DeviceCreated,
    DeviceList,
    SipCredentialsOut,
    ImportOut,
)
_WRITE_ERRORS = (400, 401, 403, 413, 415, 422)


def _op(summary: str, answer: tuple[int, str, type[BaseModel] | None], *statuses: int) -> Any:
    status, description, model = answer
    body = {} if model is None else json_body(model)
    return {
        "summary": f"{summary} (admin)",
        "security": STAFF,
        "responses": {str(status): {"description": description, **body}, **errors(*statuses)},
    }


def _with_body(operation: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    return {**operation, "requestBody": {"required": True, **json_body(model)}}


def _with_path(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return {**operation, "parameters": [path_param(name)]}


def agent_paths() -> dict[str, Any]:
    """The paths of tenants, agents, devices and the CSV import."""
    csv_columns = ", ".join(COLUMNS)
    import_op = _op(
        "Import agents and devices from CSV; every row checked first",
        (200, "Imported, or checked (mode=validate); new devices' secrets shown once", ImportOut),
        401,
        403,
        413,
        415,
    )
    import_op["responses"]["422"] = {
        "description": "Bad rows (mode=all): each by line, column and reason, nothing imported;"
        " or a bad query parameter (an error naming it)",
        "content": {
            "application/json": {
                "schema": {"oneOf": [ref(ImportOut), {"$ref": REF.format(model="ErrorOut")}]}
            }
        },
    }
    import_op["parameters"] = [
        {
            "name": "mode",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(IMPORT_MODES), "default": "all"},
            "description": "all: any bad row refuses the file; partial: import the good rows; "
            "validate: check only",
        }
    ]
    import_op["requestBody"] = {
        "required": True,
        "description": f"UTF-8 CSV with a header row; columns: {csv_columns}",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
    return {
        "/api/v1/tenants": {
            "get": _op("Tenants with licences in use", (200, "By name", TenantList), 401, 403),
            "post": _with_body(
                _op("Add a tenant (centre-wide)", (201, "Added", TenantOut), 409, *_WRITE_ERRORS),
                TenantIn,
            ),
        },
        "/api/v1/tenants/{name}": {
            "get": _with_path(
                _op(
                    "A tenant, its licences in use, sites and groups",
                    (200, "Found", TenantOut),
                    401,
                    403,
                    404,
                ),
                "name",
            ),
            "patch": _with_path(
                _with_body(
                    _op(
                        "Change a tenant's licences or pilot flag (centre-wide)",
                        (200, "Changed", TenantOut),
                        404,
                        409,
                        *_WRITE_ERRORS,
                    ),
                    TenantPatch,
                ),
                "name",
            ),
        },
        "/api/v1/agents": {
            "get": _op("Agents with their devices", (200, "By id", AgentList), 401, 403),
            "post": _with_body(
                _op("Add an agent", (201, "Added", AgentDetail), 409, *_WRITE_ERRORS), AgentIn
            ),
        },
        "/api/v1/agents/{agent_id}": {
            "get": _with_path(
                _op("An agent and their devices", (200, "Found", AgentDetail), 401, 403, 404),
                "agent_id",
            ),
            "patch": _with_path(
                _with_body(
                    _op("Change an agent", (200, "Changed", AgentDetail), 404, *_WRITE_ERRORS),
                    AgentPatch,
                ),
                "agent_id",
            ),
            "delete": _with_path(
                _op(
                    "Delete an agent; their devices stay, with no agent",
                    (204, "Deleted", None),
                    401,
                    403,
                    404,
                ),
                "agent_id",
            ),
        },
        "/api/v1/devices": {
            "get": _op("Devices", (200, "By id", DeviceList), 401, 403),
            "post": _with_body(
                _op(
                    "Give an agent a device; token and SIP password shown once; 409 when the "
                    "tenant's licences are all in use",
                    (201, "Added", DeviceCreated),
                    409,
                    *_WRITE_ERRORS,
                ),
                DeviceIn,
            ),
        },
        "/api/v1/devices/{device_id}/sip-credentials": {
            "post": _with_path(
                _op(
                    "New SIP password for the phone, shown once; the old one stops working",
                    (200, "The new credentials", SipCredentialsOut),
                    401,
                    403,
                    404,
                    409,
                    413,
                ),
                "device_id",
            )
        },
        "/api/v1/imports/agents": {"post": import_op},
    }
