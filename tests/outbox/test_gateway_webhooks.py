"""A configured webhook receives every alarm event, signed, through the gateway's outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import token_hash
from gateway.config.schema import Settings
from gateway.webhook.config import WebhookConfig
from tests.api.test_alarms import ALARM
from tests.conftest import AiohttpClient, eventually
from tests.webhook.test_sender import SECRET, Endpoint, endpoint

pytestmark = pytest.mark.integration
__all__ = ["endpoint"]  # fixture used by name


async def test_alarm_events_reach_the_webhook_signed_and_in_order(
    settings: Settings, aiohttp_client: AiohttpClient, endpoint: tuple[Endpoint, str]
) -> None:
    target, url = endpoint
    hook = WebhookConfig.model_validate({"url": url, "secret": SECRET})
    client = await aiohttp_client(make_app(settings.model_copy(update={"webhooks": [hook]})))

    await client.app[STORE].add_device("phone-1", token_hash("tok"), datetime.now(UTC))
    auth = {"Authorization": "Bearer tok"}
    created = await (await client.post("/api/v1/alarms", json=ALARM, headers=auth)).json()
    await client.post(f"/api/v1/alarms/{created['id']}/cancel", headers=auth)
    await eventually(lambda: len(target.bodies) == 2)
    events: list[dict[str, Any]] = [json.loads(body) for body in target.bodies]
    assert [(e["alarm_id"], e["seq"], e["kind"]) for e in events] == [
        (created["id"], 1, "alarm.raised"),
        (created["id"], 2, "alarm.cancelled"),
    ]
    assert events[0]["payload"]["lat"] == ALARM["location"]["lat"]
