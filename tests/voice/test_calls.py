"""Phones' calls reach their alarms through a real gateway app, real SIP workers and sipp."""

from __future__ import annotations

import asyncio
import wave
from datetime import UTC, datetime

import numpy as np
import pytest

from gateway.alarm.types import AlarmState, AlarmType
from gateway.api.keys import RECORDER, STORE, VOICE
from gateway.store.records import AlarmRecord, NewAlarm
from gateway.store.store import Store
from tests.conftest import eventually
from tests.sip.conftest import RunSipp, Speech, matching_share
from tests.voice.conftest import StartGateway, sip_target

pytestmark = pytest.mark.integration


async def reload(store: Store, alarm_id: str) -> AlarmRecord:
    alarm = await store.get_alarm(alarm_id)
    assert alarm is not None
    return alarm


async def test_call_with_x_alarm_id_is_answered_and_its_voice_reaches_the_alarm(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    app = (await voice_gateway(media_timeout=1.0)).app
    store = app[STORE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    heard = bytearray()
    app[VOICE].add_audio_listener(
        lambda alarm_id, pcm, rate: heard.extend(pcm) if alarm_id == alarm.id else None
    )
    phone = await sipp(
        "uac_alarm.xml",
        sip_target(app),
        keys={"alarm_id": alarm.id, "codecs": "0 8"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": str(int(speech.seconds * 1000) + 2500)},
    )
    assert await phone.wait() == 0
    kinds: list[str] = []
    async with asyncio.timeout(10):  # the hang-up is recorded just after sipp's BYE
        while "voice_lost" not in kinds:
            await asyncio.sleep(0.05)
            stored = await reload(store, alarm.id)
            kinds = [e.kind for e in stored.timeline]
    assert kinds.index("voice_connected") < kinds.index("voice_lost")
    # each voiced 250 ms window aligned on its own: a jitter buffer under load may add or
    # drop a frame, which spoils a window or two but not the rest
    # (unrelated audio matches in no window at all)
    share = matching_share(speech.reference, heard, at_least=0.9)
    assert share >= 0.8, f"only {share:.0%} of the caller's audio matched"
    # the call was recorded: the phone on the left channel
    [recording] = app[RECORDER].recordings(alarm.id)
    await eventually(lambda: recording.stat().st_size > 44 + speech.seconds * 16000 * 4 * 0.9)
    with wave.open(str(recording)) as wav:
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    left = stereo[:, 0].astype("<i2").tobytes()
    assert matching_share(speech.reference, left, at_least=0.9) >= 0.8
    assert stored.alarm_type is AlarmType.FALL


async def test_known_phone_without_alarm_id_opens_an_sos_alarm(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    app = (await voice_gateway()).app
    phone = await sipp(
        "uac_alarm.xml",
        sip_target(app),
        keys={"alarm_id": "", "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "1500"},
    )
    assert await phone.wait() == 0
    store = app[STORE]
    [alarm] = await store.list_alarms()
    assert alarm.alarm_type is AlarmType.SOS
    assert alarm.channel == "sip"
    assert alarm.device_id == "phone-1"
    assert alarm.state is not AlarmState.CLOSED


async def test_unknown_caller_is_refused_with_403(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    app = (await voice_gateway(phone=False)).app  # nobody registered with phone-1's identity
    store = app[STORE]
    phone = await sipp(
        "uac_alarm.xml",
        sip_target(app),
        keys={"alarm_id": "01UNKNOWN", "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "500"},
    )
    await phone.wait()
    assert "SIP/2.0 403" in phone.log()
    assert await store.list_alarms() == []
