"""A SIP worker dies mid-call: the alarm is marked and the phone is called back where it
listens, with auto-answer headers; nothing about the alarm is lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gateway.api.keys import STORE, VOICE
from tests.sip.conftest import RunSipp, Speech
from tests.voice.conftest import StartGateway, alarm_call, called_back

pytestmark = pytest.mark.integration

PLAN = """
timezone: Europe/Paris
operator_groups:
  duty: {members: [ana], strategy: all_at_once}
routes:
  - name: everything
    steps:
      - {offer: duty, timeout: 300}
    callback: {attempts: 5, spacing: 1}
"""


async def test_worker_killed_mid_call_marks_the_alarm_and_calls_the_phone_back(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech, tmp_path: Path
) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN)
    app = (await voice_gateway(dialplans=tmp_path / "plans")).app
    alarm_id, phone_port, caller = await alarm_call(app, sipp, speech)
    voice = app[VOICE]
    supervisor = voice.supervisor
    assert supervisor is not None
    pid = supervisor.worker_pid(0)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    caller.process.kill()  # the phone notices its call is gone...
    await caller.process.wait()
    # ...and listens again where its Contact said (the callback target)
    answering = await sipp("uas_phone.xml", "", port=phone_port, fill={"AUDIO": str(speech.ulaw)})
    timeline = await called_back(app[STORE], answering, alarm_id)
    lost = [e for e in timeline if e.kind == "voice_lost"]
    assert lost[0].data["reason"] == "the SIP worker carrying the call died"
