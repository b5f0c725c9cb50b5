"""A real phone call through the console: SIP phone -> gateway -> WebRTC -> Chromium, and back.

The phone simulator (its own pjsua2 process) raises an SOS alarm and plays a
400 Hz tone on its call; the operator accepts in the browser, hears the tone
(energy measured in the page), talks with the fake microphone's 700 Hz tone,
and the alarm call's recording holds the phone on the left channel and the
operator's voice on the right; the phone itself records what it heard: the
operator's tone, only while talking.
"""

from __future__ import annotations

import asyncio
import sys
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Browser, expect

from gateway.api.keys import RECORDER, STORE
from gateway.auth import token_hash
from gateway.config.schema import (
    DialplanSection,
    GatewaySection,
    Settings,
    SpeechSection,
    VoiceSection,
)
from gateway.media.pcm import to_pcm
from gateway.sip.config import SipConfig
from gateway.web.live import HUB
from tests.sip.conftest import rtp_base
from tests.web.conftest import MIC_HZ, Gateway
from tests.web.test_browser import dominant_hz, level, log_in

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_ice")]
PHONE_HZ = 400.0
PHONE_URI = "sip:phone9@127.0.0.1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The voice channel on (one SIP worker on free ports), no speech analysis or dialplan."""
    return Settings(
        gateway=GatewaySection(data_dir=tmp_path / "data"),
        voice=VoiceSection(enabled=True),
        sip=SipConfig(workers=1, base_port=0, rtp_base_port=rtp_base()),
        speech=SpeechSection(enabled=False),
        dialplan=DialplanSection(enabled=False),
    )


@pytest.fixture
def phone_wav(tmp_path: Path) -> Path:
    path = tmp_path / "phone.wav"
    t = np.arange(8000 * 8) / 8000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(to_pcm(0.4 * np.sin(2 * np.pi * PHONE_HZ * t)))
    return path


@pytest.fixture
async def phone(gateway: Gateway, phone_wav: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """The phone simulator: raises an SOS alarm, calls, plays the tone, holds 2 s, hangs up."""
    await gateway.app[STORE].add_device(
        "phone-9", token_hash("device-token-9"), datetime.now(UTC), sip_uri=PHONE_URI
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "phone", "raise", "--url", gateway.url,
        "--token", "device-token-9", "--type", "sos", "--sip-uri", PHONE_URI,
        "--wav", str(phone_wav), "--hold", "2", "--rtp-port", str(rtp_base()),
        "--record", str(phone_wav.with_name("heard-by-phone.wav")),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def channels(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    return data[:, 0] / 32768.0, data[:, 1] / 32768.0, rate


async def test_the_operator_hears_the_phone_and_is_heard_only_while_talking(
    gateway: Gateway, browser: Browser, phone: asyncio.subprocess.Process, phone_wav: Path
) -> None:
    errors: list[str] = []
    page = await log_in(browser, gateway, "operator-1", "/console", errors)
    store = gateway.app[STORE]
    alarm_id = ""
    for _ in range(200):  # the phone raises its alarm, then its call is attached
        alarms = await store.list_alarms()
        alarm = await store.get_alarm(alarms[0].id) if alarms else None
        if alarm is not None and any(e.kind == "voice_connected" for e in alarm.timeline):
            alarm_id = alarm.id
            break
        await asyncio.sleep(0.05)
    assert alarm_id, "the phone's call never reached its alarm"
    await page.locator(f'#queue li[data-id="{alarm_id}"] button.accept').click()
    await page.click("#listen")
    for _ in range(50):
        if await level(page) > 0.02:
            break
        await asyncio.sleep(0.1)
    assert await level(page) > 0.02  # the phone's tone, through SIP, the gateway and WebRTC
    leg = gateway.app[HUB].leg(alarm_id, "operator-1")
    assert leg is not None and leg.frames_sent == 0
    await page.click("#talk")
    await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "true")
    await asyncio.sleep(1.5)
    await page.click("#talk")
    await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "false")
    talked = leg.frames_sent
    assert talked >= 40

    async with asyncio.timeout(30):
        await phone.wait()  # the phone hangs up after its tone and hold
    for _ in range(100):
        if gateway.app[HUB].legs(alarm_id) == []:
            break
        await asyncio.sleep(0.05)
    assert gateway.app[HUB].legs(alarm_id) == []  # the call's end hung the browser up
    [recording] = gateway.app[RECORDER].recordings(alarm_id)
    left, right, rate = channels(recording)
    assert abs(dominant_hz(to_pcm(left), rate) - PHONE_HZ) < 15
    loud = np.flatnonzero(np.abs(right) > 0.05)
    talk = right[loud[0] : loud[-1]]  # silent before and after, by construction
    assert 1.0 < len(talk) / rate < 2.5  # the operator is on the record only while talking
    assert abs(dominant_hz(to_pcm(talk), rate) - MIC_HZ) < 15
    # and the phone itself heard the operator: the 700 Hz tone in what it received
    with wave.open(str(phone_wav.with_name("heard-by-phone.wav"))) as heard:
        phone_rate = heard.getframerate()
        received = np.frombuffer(heard.readframes(heard.getnframes()), "<i2") / 32768.0
    loud = np.flatnonzero(np.abs(received) > 0.02)
    heard_talk = received[loud[0] : loud[-1]]  # silent before and after the talk
    assert 1.0 < len(heard_talk) / phone_rate < 2.5
    assert abs(dominant_hz(to_pcm(heard_talk), phone_rate) - MIC_HZ) < 15
    await page.context.close()
    assert errors == []
