"""One call for the composition root: the console's routes and its lifecycle."""

from __future__ import annotations

from aiohttp import web

from gateway.web import routes_console, routes_pages, routes_review
from gateway.web.live import console_ctx


def install(app: web.Application) -> None:
    """Serve the console and review pages and their endpoints from ``app``."""
    app.cleanup_ctx.append(console_ctx)
    for module in (routes_pages, routes_console, routes_review):
        app.add_routes(module.routes)
