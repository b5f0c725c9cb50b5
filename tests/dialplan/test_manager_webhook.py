"""A manager told by webhook follows the acknowledgement link: the chain stops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import token_hash
from gateway.config.schema import DialplanSection, Settings
from gateway.store.records import Role
from gateway.webhook.signing import verify_signature
from tests.api.test_alarms import ALARM
from tests.conftest import AiohttpClient, eventually

pytestmark = pytest.mark.integration
SECRET = "manager-webhook-secret-0123456789"
PLAN = """timezone: Europe/Paris
operator_groups:
  duty: {{members: [ana], strategy: all_at_once}}
contact_lists:
  managers:
    ack_timeout: 30
    rounds: 1
    contacts:
      - {{name: Site manager, role: site manager, webhook: "{url}"}}
routes:
  - name: everything
    steps:
      - {{offer: duty, timeout: 300}}
    triggers:
      dispatch: {{notify: managers, message: "Alarm {{alarm_type}}: help is on its way."}}
"""


@pytest.fixture
async def manager_phone() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    """The manager's webhook endpoint: checks the signature, keeps what it got."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        verify_signature(SECRET.encode(), request.headers, body, now=time.time())
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/manager", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield received, f"http://127.0.0.1:{runner.addresses[0][1]}/manager"
    await runner.cleanup()


async def test_acknowledged_webhook_stops_the_chain(
    settings: Settings,
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    manager_phone: tuple[list[dict[str, Any]], str],
) -> None:
    received, url = manager_phone
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN.format(url=url))
    configured = settings.model_copy(
        update={
            "dialplan": DialplanSection(
                directory=tmp_path / "plans", manager_webhook_secret=SecretStr(SECRET)
            )
        }
    )
    client = await aiohttp_client(make_app(configured))
    store = client.app[STORE]
    now = datetime.now(UTC)
    await store.add_device("phone-1", token_hash("tok"), now)
    await store.add_user("ana", Role.OPERATOR, "x", now)
    ana = await store.user_by_name("ana")
    assert ana is not None
    await store.add_session(token_hash("ana"), ana.id, now, now + timedelta(hours=1))
    staff = {"Authorization": "Bearer ana"}
    created = await (
        await client.post("/api/v1/alarms", json=ALARM, headers={"Authorization": "Bearer tok"})
    ).json()
    base = f"/api/v1/alarms/{created['id']}"
    assert (await client.post(f"{base}/accept", headers=staff)).status == 200
    await client.post(f"{base}/escalate", json={"target": "samu"}, headers=staff)
    await eventually(lambda: len(received) == 1)
    [note] = received
    assert note["message"] == "Alarm fall: help is on its way."
    forged = {**note["acknowledge"]["body"], "contact": "Someone else"}
    assert (await client.post("/api/v1/acknowledgements", json=forged)).status == 403
    answer = await client.post("/api/v1/acknowledgements", json=note["acknowledge"]["body"])
    assert answer.status == 202

    texts: list[str] = []
    async with asyncio.timeout(5):
        while not any("acknowledged" in text for text in texts):
            await asyncio.sleep(0.05)
            alarm = await store.get_alarm(created["id"])
            assert alarm is not None
            texts = [str(e.data.get("text", "")) for e in alarm.timeline]
    assert len(received) == 1  # nobody else was bothered
