"""The console's pages and static assets: plain files, served with a strict CSP.

The pages load nothing from outside the gateway (no CDN, no map tiles): the
Content-Security-Policy says so, and the browser enforces it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from aiohttp import web

from gateway.api.errors import NotFoundError, Unauthorized
from gateway.api.request import require_user
from gateway.store.records import Role
from gateway.web.routes_review import REVIEWERS

routes = web.RouteTableDef()
STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self' blob:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@functools.cache
def _asset(name: str) -> bytes | None:
    path = STATIC / name
    if path.suffix not in TYPES or path.parent != STATIC or not path.is_file():
        return None
    return path.read_bytes()


def _serve(name: str) -> web.Response:
    body = _asset(name)
    if body is None:
        raise NotFoundError(f"no console file {name!r}")
    return web.Response(
        body=body,
        content_type=TYPES[Path(name).suffix],
        charset="utf-8",
        headers=SECURITY_HEADERS,
    )


async def _page(request: web.Request, name: str, *roles: Role) -> web.Response:
    try:
        await require_user(request, *roles)
    except Unauthorized:
        raise web.HTTPSeeOther(f"/?next={request.path}") from None
    return _serve(name)


@routes.get("/")
async def login_page(request: web.Request) -> web.Response:
    return _serve("login.html")


@routes.get("/console")
async def console_page(request: web.Request) -> web.Response:
    return await _page(request, "console.html", Role.OPERATOR, Role.SUPERVISOR)


@routes.get("/review")
async def review_page(request: web.Request) -> web.Response:
    return await _page(request, "review.html", *REVIEWERS)


@routes.get("/admin")
async def admin_page(request: web.Request) -> web.Response:
    """The back office pages; their API refuses other roles too, the page only says so first."""
    return await _page(request, "admin.html", Role.ADMIN)


@routes.get("/static/{name}")
async def static(request: web.Request) -> web.Response:
    return _serve(request.match_info["name"])
