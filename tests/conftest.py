"""Fixtures shared by the whole suite: settings in a temporary directory, an app, credentials."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import hash_password, token_hash
from gateway.config.schema import (
    DatabaseSection,
    DialplanSection,
    GatewaySection,
    Settings,
    SpeechSection,
    VoiceSection,
)
from gateway.store.records import Role

# postgres_server, database_backend and database_url; each database test on its backend(s)
pytest_plugins = ["tests.postgres"]
Client = TestClient[web.Request, web.Application]
AiohttpClient = Callable[..., Awaitable[Client]]
PASSWORD = "correct horse battery"


def free_port() -> int:
    """A TCP port nobody listens on now (loopback only)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail after ``within`` seconds.

    For state that another process or peer changes, where no event can be awaited.
    """
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Defaults in a temporary directory, without dialplans: API tests see only their own steps."""
    return Settings(
        gateway=GatewaySection(data_dir=tmp_path / "data"),
        database=DatabaseSection(url=database_url),
        voice=VoiceSection(enabled=False),
        speech=SpeechSection(enabled=False),
        dialplan=DialplanSection(enabled=False),
    )


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Api:
    """A running app with one device and one user of each role."""

    client: Client
    device_token: str
    other_device_token: str
    sessions: dict[Role, str]

    def device(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.device_token}"}

    def staff(self, role: Role = Role.OPERATOR) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sessions[role]}"}


@pytest.fixture
async def api(settings: Settings, aiohttp_client: AiohttpClient) -> AsyncIterator[Api]:
    app = make_app(settings)
    client: Client = await aiohttp_client(app)
    store = app[STORE]
    now = datetime.now(UTC)
    await store.add_device("phone-1", token_hash("device-token-1"), now, sip_uri="sip:p1@127.0.0.1")
    await store.add_device("phone-2", token_hash("device-token-2"), now)
    sessions = {}
    for role in Role:
        await store.add_user(f"{role.value}-1", role, password_hash(), now)
        user = await store.user_by_name(f"{role.value}-1")
        assert user is not None
        sessions[role] = f"session-{role.value}"
        await store.add_session(token_hash(sessions[role]), user.id, now, now + timedelta(hours=1))
    yield Api(client, "device-token-1", "device-token-2", sessions)
