"""Staff log in with name and password and get a session token (also set as a cookie)."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta

from aiohttp import web

from gateway.api.errors import Unauthorized
from gateway.api.keys import CLOCK, STORE
from gateway.api.request import CSRF_COOKIE, SESSION_COOKIE, bearer, csrf_token, parse_json
from gateway.api.schemas import LoginIn, SessionOut
from gateway.auth import hash_password, token_hash, verify_password
from gateway.ids import new_secret

log = logging.getLogger("gateway.auth")
routes = web.RouteTableDef()
SESSION_LIFETIME = timedelta(hours=12)  # one operator shift


@functools.cache
def _dummy_hash() -> str:
    """Checked when the name is unknown, so both refusals take the same time."""
    return hash_password(new_secret())


@routes.post("/api/v1/sessions")
async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, LoginIn)
    store = request.app[STORE]
    user = await store.user_by_name(body.name)
    stored = user.password_hash if user else _dummy_hash()
    ok = await asyncio.to_thread(verify_password, stored, body.password)
    if user is None or not ok:
        log.warning("login refused", extra={"user": body.name, "remote": request.remote})
        raise Unauthorized("wrong name or password")
    token = new_secret()
    now = request.app[CLOCK]()
    expires = now + SESSION_LIFETIME
    await store.add_session(token_hash(token), user.id, now, expires)
    log.info("login", extra={"user": user.name, "role": user.role.value, "remote": request.remote})
    answer = SessionOut(token=token, role=user.role.value, expires_at=expires)
    response = web.json_response(answer.model_dump(mode="json"), status=201)
    response.set_cookie(  # readable by the page's script, which echoes it as a header
        CSRF_COOKIE,
        csrf_token(token),
        httponly=False,
        samesite="Strict",
        secure=request.secure,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
    )
    return response


@routes.delete("/api/v1/sessions/current")
async def logout(request: web.Request) -> web.Response:
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    if token is not None:
        await request.app[STORE].delete_session(token_hash(token))
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response
