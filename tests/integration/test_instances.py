"""Two gateway processes on one PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.gateway_process import GatewayProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_backend", ["postgresql"]),
]
TAKEOVER_S = 3.0


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    gateways = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        gateway = GatewayProcess(tmp_path / name, database_url=database_url)
        gateway.config.write_text(
            gateway.config.read_text().replace(
                "[database]\n", f"[database]\nheartbeat_s = 0.5\ntakeover_after_s = {TAKEOVER_S}\n"
            )
        )
        gateways.append(gateway)
    yield gateways[0], gateways[1]
    for gateway in gateways:
        gateway.stop()


async def next_alarm_entry(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next live message whose timeline entry is of ``kind``."""
    while True:
        message: dict[str, Any] = await ws.receive_json()
        if message.get("type") == "alarm" and (message.get("entry") or {}).get("kind") == kind:
            return message


async def test_an_alarm_raised_on_one_shows_on_the_other_which_takes_it_over_after_a_kill(
    pair: tuple[GatewayProcess, GatewayProcess],
) -> None:
    a, b = pair
    token = a.cli("device", "add", "phone-1")
    a.cli(
        "user", "add", "sup", "--role", "supervisor", "--password-stdin", stdin="a long password\n"
    )
    a.start()
    b.start()
    async with aiohttp.ClientSession() as http:
        login = {"name": "sup", "password": "a long password"}
        async with http.post(f"{b.url}/api/v1/sessions", json=login) as answer:
            staff = {"Authorization": f"Bearer {(await answer.json())['token']}"}
        async with http.ws_connect(f"{b.url}/api/v1/events", headers=staff) as ws:
            assert (await ws.receive_json())["type"] == "hello"
            alarm = {"type": "sos", "occurred_at": "2026-12-04T08:00:00Z"}
            device = {"Authorization": f"Bearer {token}"}
            async with http.post(f"{a.url}/api/v1/alarms", json=alarm, headers=device) as answer:
                assert answer.status == 201
                alarm_id = (await answer.json())["id"]
            async with asyncio.timeout(5):
                raised = await next_alarm_entry(ws, "raised")
            assert raised["alarm"]["id"] == alarm_id

            a.kill()
            async with asyncio.timeout(TAKEOVER_S + 10):
                noted = await next_alarm_entry(ws, "noted")
                while noted["entry"]["data"].get("kind") != "instance.takeover":
                    noted = await next_alarm_entry(ws, "noted")
        assert noted["alarm"]["id"] == alarm_id
        async with http.get(f"{b.url}/api/v1/alarms/{alarm_id}", headers=staff) as answer:
            stored = await answer.json()
    kinds = [(e["kind"], e["data"].get("kind")) for e in stored["timeline"]]
    assert ("noted", "instance.takeover") in kinds
