"""Pieces every part of the OpenAPI document is built from (API, console, back office)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

REF = "#/components/schemas/{model}"
STAFF: list[dict[str, list[str]]] = [{"sessionToken": []}, {"sessionCookie": []}]
"""Security of the routes staff reach with a session token or the session cookie."""

_ERRORS = {
    400: "Malformed JSON",
    401: "Missing or invalid credentials",
    403: "Role not allowed",
    404: "Not found; the message names what",
    409: "Conflicting request or state",
    413: "Body too large",
    415: "Not JSON",
    422: "A field is invalid; the message names it",
    503: "A subsystem it needs is not running (the SIP voice channel), or the database cannot"
    " take the request now (locked, disk full); nothing was stored, retry",
}


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": ref(model)}}}


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def errors(*statuses: int) -> dict[str, Any]:
    """The JSON error answers (``ErrorOut``) a route may give."""
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}}}
    return {str(s): {"description": _ERRORS[s], **error} for s in statuses}
