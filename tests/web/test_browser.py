"""The console in real headless Chromium against a gateway on loopback.

An operator logs in, sees an alarm raised by a phone appear, accepts it,
hears the caller's test audio over WebRTC (energy measured in the page with
WebAudio), talks (the fake microphone's tone reaches the server-side sink only
while talking), removes doubt and closes; a supervisor then finds the alarm
and its figures in the review page.

Set GW_SCREENSHOTS=<dir> to keep 1920x1080 screenshots of both views.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from playwright.async_api import Browser, Page, expect

from gateway.api.keys import BUS, STORE
from gateway.media.pcm import to_samples
from gateway.web.live import HUB, WATCH
from tests.conftest import PASSWORD
from tests.web.conftest import MIC_HZ, Gateway
from tests.webrtc.test_leg import frames_of, signal

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_ice")]
MISSING_STRINGS = """() => {
  const keys = (o) => Object.keys(o).sort().join(",");
  const en = STRINGS.en, fr = STRINGS.fr;
  const gaps = Object.keys(en).filter((k) =>
    !(k in fr) || (typeof en[k] === "object" && keys(en[k]) !== keys(fr[k])));
  const used = [...document.querySelectorAll("[data-i18n],[data-i18n-title],[data-i18n-label]")]
    .map((e) => e.dataset.i18n || e.dataset.i18nTitle || e.dataset.i18nLabel);
  return [...gaps, ...used.filter((k) => !(k in STRINGS.en) || !(k in STRINGS.fr))];
}"""


async def log_in(browser: Browser, gw: Gateway, name: str, path: str, errors: list[str]) -> Page:
    """A fresh profile logged in as ``name``; page errors (CSP included) go to ``errors``."""
    context = await browser.new_context(viewport={"width": 1920, "height": 1080}, locale="en-GB")
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.set_default_timeout(10_000)
    await page.goto(f"{gw.url}{path}")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{gw.url}{path}")
    return page


async def raise_alarm(gw: Gateway, alarm_type: str, lat: float = 45.764) -> str:
    body = {
        "type": alarm_type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "location": {"lat": lat, "lon": 4.8357, "accuracy_m": 8},
        "battery_pct": 71,
    }
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{gw.url}/api/v1/alarms",
            json=body,
            headers={"Authorization": "Bearer device-token-1"},
        )
        assert answer.status == 201, await answer.text()
        return str((await answer.json())["id"])


async def feed_caller(gw: Gateway, alarm_id: str, stop: asyncio.Event) -> None:
    """The phone's side: 16 kHz caller audio in real-time 20 ms frames."""
    frames = frames_of(signal(16000, 2.0), 16000)
    started, i = time.monotonic(), 0
    while not stop.is_set():
        gw.app[HUB].feed(alarm_id, frames[i % len(frames)], 16000)
        i += 1
        await asyncio.sleep(max(0.0, started + i * 0.02 - time.monotonic()))


async def level(page: Page) -> float:
    return float(await page.evaluate("window.gwAudioLevel || 0"))


def dominant_hz(pcm: bytes, rate: int) -> float:
    samples = to_samples(pcm)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


async def test_operator_handles_an_alarm_and_supervisor_reviews_it(
    gateway: Gateway, browser: Browser
) -> None:
    gw = gateway
    errors: list[str] = []
    page = await log_in(browser, gw, "operator-1", "/console", errors)
    await expect(page.locator("#user")).to_have_text("operator-1 (operator)")
    assert await page.evaluate(MISSING_STRINGS) == []  # every text in both languages
    await raise_alarm(gw, "low_battery", lat=45.75)
    alarm_id = await raise_alarm(gw, "fall")
    item = page.locator(f'#queue li[data-id="{alarm_id}"]')
    await expect(item).to_be_visible()
    await expect(page.locator("#announce")).to_have_text("New alarm: Fall, phone-1")
    bus = gw.app[BUS]
    bus.publish(
        {
            "type": "offer",
            "alarm_id": alarm_id,
            "group": "duty",
            "members": ["operator-1"],
            "mode": "all_at_once",
        }
    )
    await expect(item.locator(".ring")).to_have_text("offered to you")
    bus.publish(
        {
            "type": "alert",
            "alarm_id": alarm_id,
            "alert": "supervisor",
            "reason": "nobody accepted within 60 s",
        }
    )
    await expect(page.locator("#alerts")).to_contain_text("Supervisor needed")
    await page.locator("#alerts button").click()
    await expect(page.locator("#alerts li")).to_have_count(0)
    bus.publish({"type": "system", "dc09_link_up": False, "reason": "connection refused"})
    await expect(page.locator("#system")).to_contain_text("receiver lost: connection refused")
    bus.publish({"type": "system", "dc09_link_up": True, "reason": "connected"})
    await expect(page.locator("#system")).to_be_hidden()
    await expect(page.locator("#queue li.alarm").first).to_have_attribute("data-id", alarm_id)
    await expect(item).to_have_class("alarm sev-1 overdue", timeout=15_000)  # 10 s target missed
    await item.locator("button.accept").click()
    await expect(page.locator("#facts")).to_contain_text("45.76400, 4.83570 (accuracy ± 8 m)")

    hub = gw.app[HUB]
    sink: list[bytes] = []
    hub.add_talk_listener(lambda alarm, pcm, rate: sink.append(pcm) if alarm == alarm_id else None)
    await page.click("#listen")
    await expect(page.locator("#audio-state")).to_have_text("Listening silently")
    leg = hub.leg(alarm_id, "operator-1")
    assert leg is not None
    for _ in range(200):
        if leg.pc.connectionState == "connected":
            break
        await asyncio.sleep(0.05)
    assert leg.pc.connectionState == "connected"
    await asyncio.sleep(1.0)
    quiet = await level(page)
    stop = asyncio.Event()
    feeder = asyncio.create_task(feed_caller(gw, alarm_id, stop))
    try:
        for _ in range(50):  # the page's CSP forbids wait_for_function's eval
            if await level(page) > 0.02:
                break
            await asyncio.sleep(0.1)
        heard = await level(page)
        assert quiet < 0.002 < 0.02 < heard, (quiet, heard)
        assert sink == [] and leg.frames_muted > 0  # listening: the agent hears nothing

        gw.app[BUS].publish(
            {
                "type": "transcript",
                "alarm_id": alarm_id,
                "speaker": "caller",
                "text": "I fell from the ladder, my leg hurts",
                "final": True,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        gw.app[BUS].publish(
            {
                "type": "cue",
                "alarm_id": alarm_id,
                "cue": "distress_words",
                "label": "distress words: hurts",
                "confidence": 0.82,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        gw.app[BUS].publish(
            {
                "type": "assessment",
                "alarm_id": alarm_id,
                "assessment": "distress",
                "evidence": "hurts at 2.1 s",
            }
        )
        await expect(page.locator("#transcript")).to_contain_text("my leg hurts")
        await expect(page.locator("#transcript")).to_contain_text("Assessment: distress")

        await page.click("#talk")
        await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "true")
        await expect(page.locator("#audio-state")).to_have_text("Talking: the agent hears you")
        await asyncio.sleep(1.5)
        if (shots := os.environ.get("GW_SCREENSHOTS")) is not None:
            await page.screenshot(path=str(Path(shots) / "console.png"))
        await page.click("#talk")
        await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "false")
        talked = len(sink)
        await asyncio.sleep(1.0)
        assert len(sink) == talked  # listening again: nothing more reaches the phone
    finally:
        stop.set()
        await feeder
    assert talked >= 40, talked
    speech = b"".join(sink[5:])
    assert float(np.sqrt(np.mean(to_samples(speech) ** 2))) > 0.05
    assert abs(dominant_hz(speech, hub.sink_rate) - MIC_HZ) < 15

    await page.click('[data-verdict="false_alarm"]')
    await expect(page.locator("#timeline")).to_contain_text("doubt removed \u2013 False alarm")
    await page.select_option("#close-outcome", "false_alarm")
    await page.click("#close-form button[type=submit]")
    await expect(page.locator(f'#queue li[data-id="{alarm_id}"]')).to_have_count(0)
    assert hub.legs(alarm_id) == []

    review = await log_in(browser, gw, "supervisor-1", "/review", errors)
    assert await review.evaluate(MISSING_STRINGS) == []
    row = review.locator(f'#alarms tr[data-id="{alarm_id}"]')
    await expect(row).to_contain_text("False alarm")
    await expect(row).to_contain_text("operator-1")
    await expect(review.locator("#tiles .tile").first).to_contain_text("2")
    await expect(review.locator("#tiles")).to_contain_text("False-alarm rate100.0 %")
    await row.click()
    await expect(review.locator("#detail")).to_contain_text("audio mode \u2013 webrtc: talk")
    await expect(review.locator("#detail")).to_contain_text("stopped listening")
    await expect(review.locator("#recordings")).to_contain_text("No recording.")
    if shots is not None:
        await review.screenshot(path=str(Path(shots) / "review.png"))
    await review.select_option("#lang", "fr")
    await expect(review.locator("#tiles")).to_contain_text("Taux de fausses alertes100.0 %")
    await expect(review.locator("html")).to_have_attribute("lang", "fr")
    await expect(review.locator("#detail")).to_contain_text(
        "lev\u00e9e de doute \u2013 Fausse alerte"
    )
    if shots is not None:
        await review.screenshot(path=str(Path(shots) / "review-fr.png"))
    await page.context.close()
    await review.context.close()
    assert errors == []


async def test_a_discreet_alarm_takes_a_second_click_and_a_closed_browser_releases_it(
    gateway: Gateway, browser: Browser
) -> None:
    gateway.app[WATCH].presence.grace_s = 0.5
    errors: list[str] = []
    page = await log_in(browser, gateway, "operator-1", "/console", errors)
    alarm_id = await raise_alarm(gateway, "discreet")
    await page.locator(f'#queue li[data-id="{alarm_id}"] button.accept').click()
    await expect(page.locator("#discreet-warning")).to_be_visible()
    await page.click("#listen")
    await expect(page.locator("#audio-state")).to_have_text("Listening silently")
    leg = gateway.app[HUB].leg(alarm_id, "operator-1")
    assert leg is not None
    await page.click("#talk")
    await expect(page.locator("#talk")).to_have_text("Click again to talk")
    await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "false")
    assert not leg.talking
    await page.click("#talk")
    await expect(page.locator("#talk")).to_have_attribute("aria-pressed", "true")
    assert leg.talking
    await page.context.close()  # the operator's browser goes away
    store = gateway.app[STORE]
    for _ in range(100):
        alarm = await store.get_alarm(alarm_id)
        assert alarm is not None
        if alarm.handler is None:
            break
        await asyncio.sleep(0.05)
    assert (alarm.state.value, alarm.handler) == ("offered", None)
    released = [e for e in alarm.timeline if e.kind == "released"]
    assert [e.data for e in released] == [
        {"operator": "operator-1", "reason": "console disconnected"}
    ]
    assert gateway.app[HUB].legs(alarm_id) == []
    assert errors == []
