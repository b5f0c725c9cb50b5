"""The phone's RTP stops mid-call without a BYE (coverage lost, battery pulled): the
gateway notices within the media timeout, marks the alarm and calls the phone back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.alarm.types import AlarmType
from gateway.api.keys import BUS, STORE, VOICE
from gateway.api.schemas import alarm_message
from gateway.store.records import NewAlarm
from tests.conftest import eventually
from tests.sip.conftest import RunSipp, Speech, free_udp_port
from tests.voice.conftest import StartGateway, called_back, sip_target
from tests.voice.test_worker_loss import PLAN

pytestmark = pytest.mark.integration


async def test_rtp_stopping_mid_call_is_noticed_and_the_phone_called_back(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech, tmp_path: Path
) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN)
    app = (await voice_gateway(dialplans=tmp_path / "plans", media_timeout=1.0)).app
    store, voice = app[STORE], app[VOICE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    app[BUS].publish(alarm_message(alarm))
    phone_port = free_udp_port()
    caller = await sipp(
        "uac_alarm.xml", sip_target(app), port=phone_port,
        keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "30000"},
    )  # fmt: skip
    await eventually(lambda: voice.phone_call(alarm.id) is not None, within=10)
    await asyncio.sleep(1.0)  # some audio flows
    caller.process.kill()  # the phone vanishes: no more RTP, no BYE
    await caller.process.wait()
    answering = await sipp("uas_phone.xml", "", port=phone_port, fill={"AUDIO": str(speech.ulaw)})
    timeline = await called_back(store, answering, alarm.id)
    [lost, *_] = [e for e in timeline if e.kind == "voice_lost"]
    assert str(lost.data["reason"]).startswith("no audio from the phone for ")
