"""OpenAPI entries of the back office routes, merged into the gateway's document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.api.openapi_parts import STAFF, errors, json_body, path_param
from gateway.backoffice.openapi_agents import AGENT_MODELS, agent_paths
from gateway.backoffice.openapi_users import USER_MODELS, user_paths
from gateway.backoffice.schemas import (
    BriefingOut,
    ContactIn,
    ContactList,
    ContactOut,
    InstructionIn,
    InstructionList,
    InstructionOut,
    TokenOut,
)

BACKOFFICE_MODELS: tuple[type[BaseModel], ...] = (
    InstructionIn,
    InstructionOut,
    InstructionList,
    ContactIn,
    ContactOut,
    ContactList,
    BriefingOut,
    TokenOut,
    *AGENT_MODELS,
    *USER_MODELS,
)


def backoffice_paths() -> dict[str, Any]:
    """The back office's paths in the gateway's OpenAPI document."""

    def collection(
        noun: str, model_in: type[BaseModel], model_out: type[BaseModel], listing: type[BaseModel]
    ) -> dict[str, Any]:
        return {
            f"/api/v1/{noun}s": {
                "post": {
                    "summary": f"Add a {noun} (admin)",
                    "security": STAFF,
                    "requestBody": {"required": True, **json_body(model_in)},
                    "responses": {
                        "201": {"description": "Added", **json_body(model_out)},
                        **errors(400, 401, 403, 409, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": f"Every {noun} (admin)",
                    "security": STAFF,
                    "responses": {
                        "200": {"description": "All, oldest first", **json_body(listing)},
                        **errors(401, 403),
                    },
                },
            },
            f"/api/v1/{noun}s/{{{noun}_id}}": {
                "delete": {
                    "summary": f"Delete a {noun} (admin)",
                    "security": STAFF,
                    "parameters": [
                        {**path_param(f"{noun}_id"), "schema": {"type": "integer", "minimum": 0}}
                    ],
                    "responses": {"204": {"description": "Deleted"}, **errors(401, 403, 404)},
                }
            },
        }

    device_action = {
        "security": STAFF,
        "parameters": [path_param("device_id")],
    }
    return {
        **collection("instruction", InstructionIn, InstructionOut, InstructionList),
        **collection("contact", ContactIn, ContactOut, ContactList),
        **agent_paths(),
        **user_paths(),
        "/api/v1/alarms/{alarm_id}/briefing": {
            "get": {
                "summary": "The agent, the safety instructions and whom to call (operator, "
                "supervisor)",
                "security": STAFF,
                "parameters": [path_param("alarm_id")],
                "responses": {
                    "200": {"description": "Briefing", **json_body(BriefingOut)},
                    **errors(401, 403, 404),
                },
            }
        },
        "/api/v1/devices/{device_id}/rotate": {
            "post": {
                "summary": "New device token, shown once; the old one is refused at once (admin)",
                **device_action,
                "responses": {
                    "200": {"description": "The new token", **json_body(TokenOut)},
                    **errors(401, 403, 404, 409, 413),
                },
            }
        },
        "/api/v1/devices/{device_id}/revoke": {
            "post": {
                "summary": "Refuse the device's alarms and calls from now on (admin)",
                **device_action,
                "responses": {"204": {"description": "Revoked"}, **errors(401, 403, 404, 413)},
            }
        },
    }
