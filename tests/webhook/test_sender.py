"""The webhook sender against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from gateway.dc09.errors import SenderClosedError
from gateway.outbox.events import EventKind, OutboxEvent
from gateway.webhook.config import WebhookConfig
from gateway.webhook.sender import WebhookRejectedError, WebhookSender, WebhookUnreachableError
from gateway.webhook.signing import EVENT_ID_HEADER, event_body, verify_signature
from tests.conftest import free_port

pytestmark = pytest.mark.integration

SECRET = "a-webhook-secret-of-some-length"
EVENT = OutboxEvent(
    9, "alarm-1", 2, EventKind.ALARM_RAISED, datetime.now(UTC), {"alarm_type": "sos"}, None
)


class Endpoint:
    """A receiving web app that verifies signatures and answers a chosen status."""

    def __init__(self) -> None:
        self.status = 204
        self.delay = 0.0
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify_signature(SECRET.encode(), request.headers, body, now=time.time())
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text="" if self.status < 300 else "go away")


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[Endpoint, str]]:
    target = Endpoint()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield target, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


def config(url: str, **options: Any) -> WebhookConfig:
    return WebhookConfig.model_validate({"url": url, "secret": SECRET, **options})


async def test_delivers_signed_body(endpoint: tuple[Endpoint, str]) -> None:
    target, url = endpoint
    async with WebhookSender(config(url)) as sender:
        await sender.deliver(EVENT)
    assert target.bodies == [event_body(EVENT)]
    assert target.headers[0][EVENT_ID_HEADER] == "9"
    assert target.headers[0]["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("status", "permanent"), [(500, False), (503, False), (429, False), (400, True), (404, True)]
)
async def test_non_2xx_raises(endpoint: tuple[Endpoint, str], status: int, permanent: bool) -> None:
    target, url = endpoint
    target.status = status
    async with WebhookSender(config(url)) as sender:
        with pytest.raises(WebhookRejectedError) as info:
            await sender.deliver(EVENT)
    assert str(info.value) == f"{url} answered {status}: go away"
    assert (info.value.status, info.value.permanent) == (status, permanent)


async def test_redirect_is_not_followed(endpoint: tuple[Endpoint, str]) -> None:
    target, url = endpoint
    target.status = 302
    async with WebhookSender(config(url)) as sender:
        with pytest.raises(WebhookRejectedError, match="answered 302"):
            await sender.deliver(EVENT)


async def test_timeout(endpoint: tuple[Endpoint, str]) -> None:
    target, url = endpoint
    target.delay = 2.0
    async with WebhookSender(config(url, timeout_s=0.2)) as sender:
        with pytest.raises(WebhookUnreachableError) as info:
            await sender.deliver(EVENT)
    assert str(info.value) == f"{url}: no answer within 0.2 s"


async def test_connection_refused() -> None:
    port = free_port()
    async with WebhookSender(config(f"http://127.0.0.1:{port}/hook")) as sender:
        with pytest.raises(WebhookUnreachableError, match=f"127.0.0.1:{port}"):
            await sender.deliver(EVENT)


async def test_kind_filter_and_lifecycle(endpoint: tuple[Endpoint, str]) -> None:
    target, url = endpoint
    sender = WebhookSender(config(url, kinds=["alarm.closed"]))
    with pytest.raises(SenderClosedError, match=r"^the webhook sender is not started$"):
        await sender.deliver(OutboxEvent(1, "a", 1, EventKind.ALARM_CLOSED, datetime.now(UTC)))
    async with sender:
        await sender.deliver(EVENT)  # not subscribed: nothing sent
    assert target.bodies == []


def test_config_refusals() -> None:
    with pytest.raises(ValueError, match="secret must be at least 16 characters, got 5"):
        WebhookConfig.model_validate({"url": "http://x/hook", "secret": "short"})
    with pytest.raises(ValueError, match="URL scheme should be 'http' or 'https'"):
        WebhookConfig.model_validate({"url": "ftp://x/hook", "secret": SECRET})
