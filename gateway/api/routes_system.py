"""Health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.keys import METRICS, STORE
from gateway.api.openapi import openapi_document

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Healthy when the database answers: without it no alarm can be accepted."""
    try:
        open_alarms = await request.app[STORE].count_open_alarms()
    except Exception as exc:  # any database failure means "not healthy"
        return web.json_response({"status": "unhealthy", "database": str(exc)}, status=503)
    return web.json_response({"status": "ok", "open_alarms": open_alarms})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    m.open_alarms.set(await request.app[STORE].count_open_alarms())
    return web.Response(
        body=generate_latest(m.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
