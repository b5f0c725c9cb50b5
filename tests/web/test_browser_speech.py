"""A real SIP call speaking distress: the operator's console shows the transcript and
the cue as the agent speaks (phone simulator -> SIP worker -> Whisper -> WebSocket -> page)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from gateway.api.keys import STORE
from gateway.auth import token_hash
from gateway.config.schema import (
    DialplanSection,
    GatewaySection,
    Settings,
    SpeechSection,
    VoiceSection,
)
from gateway.sip.config import SipConfig
from tests.sip.conftest import rtp_base
from tests.web.conftest import Gateway
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_ice")]
PHONE_URI = "sip:phone8@127.0.0.1"
SPEECH = "Help me! I have fallen and I cannot get up. Please send someone."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Voice and English speech analysis on; no dialplan."""
    return Settings(
        gateway=GatewaySection(data_dir=tmp_path / "data"),
        voice=VoiceSection(enabled=True),
        sip=SipConfig(workers=1, base_port=0, rtp_base_port=rtp_base()),
        speech=SpeechSection(enabled=True, language="en"),
        dialplan=DialplanSection(enabled=False),
    )


@pytest.fixture
async def phone(gateway: Gateway) -> AsyncIterator[asyncio.subprocess.Process]:
    """The phone simulator raises a fall alarm and says it cannot get up."""
    await gateway.app[STORE].add_device(
        "phone-8", token_hash("device-token-8"), datetime.now(UTC), sip_uri=PHONE_URI
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "phone", "raise", "--url", gateway.url,
        "--token", "device-token-8", "--type", "fall", "--sip-uri", PHONE_URI,
        "--say", SPEECH, "--hold", "8", "--rtp-port", str(rtp_base()),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def test_the_console_shows_what_the_agent_says_and_the_distress_cue(
    gateway: Gateway, browser: Browser, phone: asyncio.subprocess.Process
) -> None:
    errors: list[str] = []
    page = await log_in(browser, gateway, "operator-1", "/console", errors)
    row = page.locator("#queue li").first
    await expect(row).to_be_visible(timeout=20_000)
    await row.locator("button.accept").click()
    transcript = page.locator("#transcript")
    # the utterance is transcribed once the agent pauses: seconds, not minutes
    await expect(transcript).to_contain_text("get up", timeout=30_000, ignore_case=True)
    await expect(transcript.locator("li.cue").first).to_be_visible(timeout=10_000)
    cues = await transcript.locator("li.cue").all_inner_texts()
    assert any("fall" in cue.lower() or "help" in cue.lower() for cue in cues), cues
    await page.context.close()
    assert errors == []
