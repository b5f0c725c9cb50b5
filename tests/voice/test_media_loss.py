"""The phone's RTP stops mid-call without a BYE (coverage lost, battery pulled): the
gateway notices within the media timeout, marks the alarm and calls the phone back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.api.keys import STORE
from tests.sip.conftest import RunSipp, Speech
from tests.voice.conftest import StartGateway, alarm_call, called_back
from tests.voice.test_worker_loss import PLAN

pytestmark = pytest.mark.integration


async def test_rtp_stopping_mid_call_is_noticed_and_the_phone_called_back(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech, tmp_path: Path
) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN)
    app = (await voice_gateway(dialplans=tmp_path / "plans", media_timeout=1.0)).app
    alarm_id, phone_port, caller = await alarm_call(app, sipp, speech)
    await asyncio.sleep(1.0)  # some audio flows
    caller.process.kill()  # the phone vanishes: no more RTP, no BYE
    await caller.process.wait()
    answering = await sipp("uas_phone.xml", "", port=phone_port, fill={"AUDIO": str(speech.ulaw)})
    timeline = await called_back(app[STORE], answering, alarm_id)
    [lost, *_] = [e for e in timeline if e.kind == "voice_lost"]
    assert str(lost.data["reason"]).startswith("no audio from the phone for ")
