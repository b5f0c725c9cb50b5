"""The speech worker is killed (SIGKILL) in the middle of an alarm call: the call goes
on, its audio still reaches the alarm's listeners, the timeline keeps every entry and
says analysis stopped, and a new worker takes the next calls."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from datetime import UTC, datetime

import pytest

from gateway.alarm.types import AlarmState, AlarmType
from gateway.api.keys import STORE, VOICE
from gateway.store.records import NewAlarm
from tests.conftest import eventually
from tests.sip.conftest import RunSipp, Speech
from tests.voice.conftest import StartGateway, sip_target

pytestmark = pytest.mark.integration


def speech_workers() -> list[int]:
    """The speech workers are this process's multiprocessing children (SIP workers are not)."""
    return [p.pid for p in multiprocessing.active_children() if p.pid is not None]


async def test_speech_worker_killed_mid_call_the_call_and_the_alarm_go_on(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    app = (await voice_gateway(speech=True)).app
    store, voice = app[STORE], app[VOICE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    frames = 0

    def count(alarm_id: str, pcm: bytes, rate: int) -> None:
        nonlocal frames
        frames += alarm_id == alarm.id

    voice.add_audio_listener(count)
    phone = await sipp(
        "uac_alarm.xml", sip_target(app), keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": str(int(speech.seconds * 1000) + 4000)},
    )  # fmt: skip
    await eventually(lambda: frames > 50 and bool(speech_workers()), within=20)
    (killed,) = speech_workers()
    os.kill(killed, signal.SIGKILL)
    at_kill = frames
    notes: list[str] = []
    async with asyncio.timeout(20):
        while not notes:
            await asyncio.sleep(0.1)
            stored = await store.get_alarm(alarm.id)
            assert stored is not None
            notes = [
                str(e.data["text"])
                for e in stored.timeline
                if e.data.get("kind") == "speech.degraded"
            ]
    assert notes == ["speech worker exited (code -9); this call goes on without analysis"]
    await eventually(lambda: frames > at_kill + 50, within=10)  # the caller is still heard
    assert voice.phone_call(alarm.id) is not None
    await eventually(lambda: speech_workers() not in ([], [killed]), within=30)  # replaced
    assert await phone.wait() == 0  # the phone's call ran to its own hang-up
    kinds: list[str] = []
    async with asyncio.timeout(10):
        while "voice_lost" not in kinds:
            await asyncio.sleep(0.1)
            final = await store.get_alarm(alarm.id)
            assert final is not None
            kinds = [e.kind for e in final.timeline]
    assert kinds[:2] == ["raised", "voice_connected"]
    assert kinds.index("noted") < kinds.index("voice_lost")
    assert kinds.count("voice_lost") == 1
    assert final is not None
    assert final.state is AlarmState.RECEIVED
