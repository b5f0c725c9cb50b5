"""OpenAPI entries of the back office routes, merged into the gateway's document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

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
)
_STAFF: list[dict[str, list[str]]] = [{"sessionToken": []}, {"sessionCookie": []}]


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"content": {"application/json": {"schema": ref}}}


def backoffice_paths(errors: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The paths; ``errors(*statuses)`` renders the gateway's shared error responses."""

    def collection(
        noun: str, model_in: type[BaseModel], model_out: type[BaseModel], listing: type[BaseModel]
    ) -> dict[str, Any]:
        return {
            f"/api/v1/{noun}s": {
                "post": {
                    "summary": f"Add a {noun} (admin)",
                    "security": _STAFF,
                    "requestBody": {"required": True, **_json(model_in)},
                    "responses": {
                        "201": {"description": "Added", **_json(model_out)},
                        **errors(400, 401, 403, 409, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": f"Every {noun} (admin)",
                    "security": _STAFF,
                    "responses": {
                        "200": {"description": "All, oldest first", **_json(listing)},
                        **errors(401, 403),
                    },
                },
            },
            f"/api/v1/{noun}s/{{{noun}_id}}": {
                "delete": {
                    "summary": f"Delete a {noun} (admin)",
                    "security": _STAFF,
                    "parameters": [
                        {**_path(f"{noun}_id"), "schema": {"type": "integer", "minimum": 0}}
                    ],
                    "responses": {"204": {"description": "Deleted"}, **errors(401, 403, 404)},
                }
            },
        }

    device_action = {
        "security": _STAFF,
        "parameters": [_path("device_id")],
    }
    return {
        **collection("instruction", InstructionIn, InstructionOut, InstructionList),
        **collection("contact", ContactIn, ContactOut, ContactList),
        "/api/v1/alarms/{alarm_id}/briefing": {
            "get": {
                "summary": "The agent, the safety instructions and whom to call (operator, "
                "supervisor)",
                "security": _STAFF,
                "parameters": [_path("alarm_id")],
                "responses": {
                    "200": {"description": "Briefing", **_json(BriefingOut)},
                    **errors(401, 403, 404),
                },
            }
        },
        "/api/v1/devices/{device_id}/rotate": {
            "post": {
                "summary": "New device token, shown once; the old one is refused at once (admin)",
                **device_action,
                "responses": {
                    "200": {"description": "The new token", **_json(TokenOut)},
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
