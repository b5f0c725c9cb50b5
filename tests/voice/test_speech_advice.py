"""End to end: a phone's SIP call speaking distress gives a distress cue in the alarm and
on the live event stream (real SIP worker, sipp, Whisper tiny.en, Silero VAD)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.alarm.types import AlarmType
from gateway.api.keys import BUS, STORE
from gateway.store.records import NewAlarm
from tests.conftest import eventually
from tests.sip.conftest import RunSipp, Speech
from tests.voice.conftest import StartGateway, sip_target

pytestmark = pytest.mark.integration


async def test_distress_in_the_call_reaches_the_alarm_and_the_consoles(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    app = (await voice_gateway(speech=True)).app
    store = app[STORE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    live: list[dict[str, Any]] = []
    app[BUS].add_listener(lambda message: live.append(dict(message)))
    phone = await sipp(
        "uac_alarm.xml",
        sip_target(app),
        keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": str(int(speech.seconds * 1000) + 3000)},
    )
    assert await phone.wait() == 0
    await eventually(  # recognition runs after each utterance ends
        lambda: any(m["type"] == "assessment" and m["assessment"] == "distress" for m in live),
        within=30,
    )
    transcripts = [m["text"] for m in live if m["type"] == "transcript" and m["final"]]
    # espeak through G.711 and tiny.en: "help" may come out as "hell"; the rest is heard
    assert any("get up" in text.lower() for text in transcripts), transcripts
    async with asyncio.timeout(10):
        while True:
            stored = await store.get_alarm(alarm.id)
            assert stored is not None
            kinds = [e.kind for e in stored.timeline]
            if "assessed" in kinds:
                break
            await asyncio.sleep(0.1)
    assessed = [e for e in stored.timeline if e.kind == "assessed"]
    assert assessed[0].data["cue"] == "distress"
    assert "transcribed" in kinds
    assert "cue_heard" in kinds
    told = [e.kind.value for e in await store.outbox_after(0)]
    assert told.count("cue.detected") == 1  # the monitoring centre hears of the distress
    assert told.index("voice.connected") < told.index("cue.detected")


async def test_a_french_agent_without_a_french_model_is_still_heard_and_told_why(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    """The device's language picks the model; a missing one degrades advice, not the alarm."""
    app = (await voice_gateway(speech=True, language="fr")).app
    store = app[STORE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.SOS, now, None, None, "http"), now
    )
    phone = await sipp(
        "uac_alarm.xml", sip_target(app), keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "1000"},
    )  # fmt: skip
    assert await phone.wait() == 0
    notes: list[str] = []
    kinds: list[str] = []
    async with asyncio.timeout(20):
        while not notes:
            await asyncio.sleep(0.1)
            stored = await store.get_alarm(alarm.id)
            assert stored is not None
            kinds = [e.kind for e in stored.timeline]
            notes = [
                str(e.data["text"])
                for e in stored.timeline
                if e.data.get("kind") == "speech.degraded"
            ]
    assert "fr" in notes[0]
    assert "voice_connected" in kinds
