"""Recording an audit entry from an HTTP handler: who (the logged-in user), when, from where.

Handlers call :func:`audit` once they have authorised the request and before
they answer, so a listen, talk, playback, export or admin change that was
served always has its entry. If the entry cannot be written the request fails:
an unaudited listen is worse than a refused one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from gateway.api.keys import CLOCK, STORE
from gateway.api.request import SESSION_COOKIE, USER, bearer
from gateway.auth import token_hash

log = logging.getLogger("gateway.audit")

SYSTEM = "system"
"""The actor of entries no person or device caused (timers, the gateway itself)."""


async def audit(
    request: web.Request,
    action: str,
    *,
    target: str | None = None,
    tenant: str | None = None,
    details: Mapping[str, object] | None = None,
) -> None:
    """Append an entry for ``action`` (a dotted name, see docs/backoffice.md) to the audit log.

    The actor is the staff user whose session the request carries, else the
    device whose token it carries (``device:<id>``), else ``system``; the
    source is the client's address (the gateway trusts no proxy, so never
    X-Forwarded-For). Raises ValueError if ``details`` is not plain JSON.
    """
    actor = await actor_of(request)
    entry = await request.app[STORE].append_audit(
        request.app[CLOCK](),
        actor,
        action,
        source=request.remote,
        target=target,
        tenant=tenant,
        details=details,
    )
    log.info("audit %s by %s", action, actor, extra={"audit_id": entry.id, "target": target})


async def actor_of(request: web.Request) -> str:
    """Who the request acts for: the user ``require_user`` found, else from the token sent."""
    if USER in request:
        return request[USER].name
    store = request.app[STORE]
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    if token is None:
        return SYSTEM
    digest = token_hash(token)
    session = await store.session_user(digest, request.app[CLOCK]())
    if session is not None:
        return session.name
    device = await store.device_by_token_hash(digest)
    return SYSTEM if device is None else f"device:{device.id}"
