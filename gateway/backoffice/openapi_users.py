"""OpenAPI entries of the staff account and personal data routes (``routes_users``,
``routes_privacy``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.api.openapi_parts import STAFF, errors, json_body, path_param
from gateway.backoffice.personal import ErasureOut, PersonalDataOut
from gateway.backoffice.routes_users import TenantsIn, UserIn, UserList, UserOut

USER_MODELS: tuple[type[BaseModel], ...] = (
    UserIn,
    TenantsIn,
    UserOut,
    UserList,
    PersonalDataOut,
    ErasureOut,
)


def user_paths() -> dict[str, Any]:
    """The staff account paths in the gateway's OpenAPI document."""
    named = {"security": STAFF, "parameters": [path_param("name")]}
    agent = {"security": STAFF, "parameters": [path_param("agent_id")]}
    return {
        "/api/v1/agents/{agent_id}/personal-data": {
            "get": {
                "summary": "Everything held about the agent: record, devices, alarms with "
                "positions and timelines, recording files (admin; audited)",
                **agent,
                "responses": {
                    "200": {"description": "Personal data", **json_body(PersonalDataOut)},
                    **errors(401, 403, 404),
                },
            }
        },
        "/api/v1/agents/{agent_id}/erase": {
            "post": {
                "summary": "Erase the agent's name, phone, notes, positions, transcripts and "
                "recordings; alarms stay as anonymous statistics (admin; idempotent; audited)",
                **agent,
                "responses": {
                    "200": {"description": "Erased", **json_body(ErasureOut)},
                    **errors(401, 403, 404, 413),
                },
            }
        },
        "/api/v1/users": {
            "get": {
                "summary": "Staff accounts the admin manages (a tenant admin: their tenants')",
                "security": STAFF,
                "responses": {
                    "200": {"description": "By name", **json_body(UserList)},
                    **errors(401, 403),
                },
            },
            "post": {
                "summary": "Add a staff account; tenants empty: centre-wide (admin)",
                "security": STAFF,
                "requestBody": {"required": True, **json_body(UserIn)},
                "responses": {
                    "201": {"description": "Added", **json_body(UserOut)},
                    **errors(400, 401, 403, 409, 413, 415, 422),
                },
            },
        },
        "/api/v1/users/{name}/tenants": {
            "put": {
                "summary": "Replace the tenants a staff member sees (admin)",
                **named,
                "requestBody": {"required": True, **json_body(TenantsIn)},
                "responses": {
                    "200": {"description": "Changed", **json_body(UserOut)},
                    **errors(400, 401, 403, 404, 409, 413, 415, 422),
                },
            }
        },
        "/api/v1/users/{name}/disable": {
            "post": {
                "summary": "Refuse the account's logins and end its sessions (admin)",
                **named,
                "responses": {
                    "204": {"description": "Disabled"},
                    **errors(401, 403, 404, 409, 413),
                },
            }
        },
    }
