"""A dialplan offers the alarm to a group with a SIP desk phone: the desk rings with the
alarm's call, and answering it takes the alarm (the desk then listens)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.alarm.machine import TimelineEntry
from gateway.alarm.types import AlarmState, AlarmType
from gateway.api.keys import BUS, STORE, VOICE
from gateway.api.schemas import alarm_message
from gateway.store.records import NewAlarm
from tests.conftest import eventually
from tests.sip.conftest import RunSipp, Speech, free_udp_port
from tests.voice.conftest import StartGateway, sip_target

pytestmark = pytest.mark.integration

PLAN = """timezone: Europe/Paris
operator_groups:
  desks: {{members: [ana, "sip:desk@127.0.0.1:{port}"], strategy: all_at_once}}
routes:
  - name: everything
    steps:
      - {{offer: desks, timeout: 60}}
"""


async def test_a_desk_phone_in_the_group_rings_and_answering_takes_the_alarm(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech, tmp_path: Path
) -> None:
    desk_port = free_udp_port()
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN.format(port=desk_port))
    desk = await sipp("uas_phone.xml", "", port=desk_port, fill={"AUDIO": str(speech.ulaw)})
    await asyncio.sleep(0.3)  # sipp binds its port
    app = (await voice_gateway(dialplans=tmp_path / "plans")).app
    store, voice = app[STORE], app[VOICE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.SOS, now, None, None, "http"), now
    )
    phone = await sipp(
        "uac_alarm.xml", sip_target(app), keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "15000"},
    )  # fmt: skip
    await eventually(lambda: voice.phone_call(alarm.id) is not None, within=10)
    app[BUS].publish(alarm_message(alarm))  # as the API does: the dialplan takes it up
    timeline: tuple[TimelineEntry, ...] = ()
    async with asyncio.timeout(20):
        while not any(e.kind == "accepted" for e in timeline):
            await asyncio.sleep(0.1)
            stored = await store.get_alarm(alarm.id)
            assert stored is not None
            timeline = stored.timeline
    accepted = next(e for e in timeline if e.kind == "accepted")
    assert accepted.data["operator"] == f"sip:desk@127.0.0.1:{desk_port}"
    now_stored = await store.get_alarm(alarm.id)
    assert now_stored is not None
    assert now_stored.handler == accepted.data["operator"]
    assert now_stored.state is AlarmState.ACCEPTED
    assert any(e.kind == "listen_started" for e in timeline)
    invite = desk.log().split("INVITE sip:", 1)[1].split("\n----", 1)[0]
    assert f"X-Alarm-Id: {alarm.id}" in invite
    assert "Answer-Mode" not in invite  # a desk phone rings for a person to answer
    phone.process.kill()
