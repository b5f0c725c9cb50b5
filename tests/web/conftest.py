"""Fixtures of the console tests: loopback ICE, a gateway on a real port, headless Chromium."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright

from gateway.api.keys import STORE
from gateway.app import make_app
from gateway.auth import hash_password, token_hash
from gateway.config.schema import Settings
from gateway.media.pcm import to_pcm
from gateway.store.records import Role
from tests.conftest import PASSWORD, free_port
from tests.webrtc.conftest import loopback_ice

__all__ = ["CHROMIUM", "MIC_HZ", "Gateway", "browser", "chromium_args", "gateway", "loopback_ice"]

CHROMIUM = "/usr/bin/chromium"
MIC_HZ = 700.0


@dataclass
class Gateway:
    url: str
    app: web.Application


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    app = make_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    store, now = app[STORE], datetime.now(UTC)
    await store.add_device("phone-1", token_hash("device-token-1"), now)
    hashed = hash_password(PASSWORD)
    for role in (Role.OPERATOR, Role.SUPERVISOR):
        await store.add_user(f"{role.value}-1", role, hashed, now)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
def chromium_args(tmp_path: Path) -> list[str]:
    """Chromium's flags, with a fake microphone playing a steady MIC_HZ tone."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    mic = tmp_path / "mic.wav"
    t = np.arange(48000 * 2) / 48000
    with wave.open(str(mic), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(to_pcm(0.3 * np.sin(2 * np.pi * MIC_HZ * t)))
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={mic}",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--autoplay-policy=no-user-gesture-required",
    ]


@pytest.fixture
async def browser(chromium_args: list[str]) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=CHROMIUM, args=chromium_args, timeout=30_000
        )
        try:
            yield launched
        finally:
            await launched.close()
