"""Live event stream over WebSocket, for consoles."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from gateway.api.keys import BUS, METRICS, STORE
from gateway.api.request import require_user
from gateway.api.tenancy import EventFilter, tenant_scope
from gateway.bus import OVERFLOW

routes = web.RouteTableDef()


@routes.get("/api/v1/events")
async def events(request: web.Request) -> web.WebSocketResponse:
    user = await require_user(request)
    visible = EventFilter(request.app[STORE], tenant_scope(request))
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    subscription = request.app[BUS].subscribe()
    gauge = request.app[METRICS].event_stream_clients
    gauge.inc()
    await ws.send_json({"type": "hello", "user": user.name, "role": user.role.value})

    async def pump() -> None:
        while True:
            message = await subscription.queue.get()
            if await visible.allows(message):  # other tenants' alarms never leave the gateway
                await ws.send_json(message)
            if subscription.overflowed and subscription.queue.empty():
                await ws.send_json(dict(OVERFLOW))
                return

    sender = asyncio.create_task(pump())
    try:
        async for msg in ws:  # clients only send pings; reading detects a closed socket
            if msg.type is WSMsgType.ERROR:
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        subscription.close()
        gauge.dec()
    return ws
