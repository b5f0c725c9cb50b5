"""Reading requests safely: bounded bodies, strict JSON, and who is asking."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.api.errors import (
    BadJson,
    Forbidden,
    TooLarge,
    Unauthorized,
    UnsupportedMediaType,
    invalid_from,
)
from gateway.api.keys import CLOCK, SETTINGS, STORE
from gateway.auth import token_hash
from gateway.store.records import Device, Role, User

M = TypeVar("M", bound=BaseModel)
USER = web.RequestKey("user", User)
SESSION_COOKIE = "gw_session"
CSRF_COOKIE = "gw_csrf"
CSRF_HEADER = "X-CSRF-Token"


async def read_body(request: web.Request) -> bytes:
    limit = request.app[SETTINGS].http.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"request body is {request.content_length} bytes; the limit is {limit}")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise TooLarge(f"request body exceeds the limit of {limit} bytes")
    return body


async def parse_json(request: web.Request, model: type[M]) -> M:
    """The body as ``model``, or an ApiError naming exactly what is wrong."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.content_type or 'none'}"
        )
    body = await read_body(request)
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadJson("request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadJson(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise BadJson(f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from None


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def require_device(request: web.Request) -> Device:
    token = bearer(request)
    if token is None:
        raise Unauthorized("missing device token: send 'Authorization: Bearer <token>'")
    device = await request.app[STORE].device_by_token_hash(token_hash(token))
    if device is None or device.revoked_at is not None:
        raise Unauthorized("device token is not valid (unknown or revoked)")
    return device


def csrf_token(session_token: str) -> str:
    """The anti-forgery token of a session: derived, so nothing more is stored."""
    return hashlib.sha256(f"csrf:{session_token}".encode()).hexdigest()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def require_user(request: web.Request, *roles: Role) -> User:
    """The logged-in staff member, checked against ``roles`` (any role when none given).

    A browser authenticates with the session cookie; its state-changing requests
    must also echo the CSRF token in ``X-CSRF-Token`` (a forged cross-site form
    cannot read it). API clients send the session token as a Bearer header.
    """
    token = bearer(request)
    if token is None:
        token = request.cookies.get(SESSION_COOKIE)
        if token is not None and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, csrf_token(token)):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header (cross-site request?)")
    if token is None:
        raise Unauthorized("login required: send a session token ('Authorization: Bearer ...')")
    user = await request.app[STORE].session_user(token_hash(token), request.app[CLOCK]())
    if user is None:
        raise Unauthorized("session is not valid (unknown or expired): log in again")
    if roles and user.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise Forbidden(f"this needs the role {allowed}; you are {user.role.value}")
    request[USER] = user  # for tenant_scope(): the tenants came with the session lookup
    return user
