"""End to end: a phone's SIP call speaking distress gives a distress cue in the alarm and
on the live event stream (real SIP worker, sipp, Whisper tiny.en, Silero VAD)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.alarm.types import AlarmType
from gateway.api.keys import BUS, STORE, VOICE
from gateway.app import make_app
from gateway.auth import token_hash
from gateway.config.schema import Settings, SpeechSection, VoiceSection
from gateway.sip.config import SipConfig
from gateway.store.records import NewAlarm
from tests.conftest import AiohttpClient, eventually
from tests.sip.conftest import TAP_RATE, RunSipp, Speech, rtp_base, sipp, speech

pytestmark = pytest.mark.integration
__all__ = ["sipp", "speech"]  # fixtures used by name below


async def test_distress_in_the_call_reaches_the_alarm_and_the_consoles(
    settings: Settings, aiohttp_client: AiohttpClient, sipp: RunSipp, speech: Speech
) -> None:
    configured = settings.model_copy(
        update={
            "voice": VoiceSection(enabled=True),
            "speech": SpeechSection(enabled=True, language="en"),
            "sip": SipConfig(
                workers=1,
                base_port=0,
                rtp_base_port=rtp_base(),
                rtp_ports_per_worker=40,
                tap_rate=TAP_RATE,
            ),
        }
    )
    client = await aiohttp_client(make_app(configured))
    app = client.app
    store = app[STORE]
    now = datetime.now(UTC)
    await store.add_device("phone-1", token_hash("t"), now, sip_uri="sip:phone-1@127.0.0.1")
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    live: list[dict[str, Any]] = []
    app[BUS].add_listener(lambda message: live.append(dict(message)))
    supervisor = app[VOICE].supervisor
    assert supervisor is not None
    phone = await sipp(
        "uac_alarm.xml",
        f"127.0.0.1:{supervisor.worker_ports()[0]}",
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
