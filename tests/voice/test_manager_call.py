"""Managers called by the dialplan: a real SIP worker rings sipp playing the manager,
speaks the message and waits for the acknowledging key (RFC 2833)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from gateway.alarm.events import Accepted, Escalated
from gateway.alarm.types import AlarmType
from gateway.api.keys import BUS, STORE, VOICE
from gateway.api.schemas import alarm_message
from gateway.bus import Message
from gateway.store.records import AlarmRecord, NewAlarm
from tests.sip.conftest import RunSipp, free_udp_port
from tests.sip.test_prompt import EVENT_PT, dtmf_pcap
from tests.voice.conftest import StartGateway

pytestmark = pytest.mark.integration

PLAN = """
timezone: Europe/Paris
operator_groups:
  duty: {members: [ana], strategy: all_at_once}
contact_lists:
  managers:
    ack_timeout: 40
    rounds: 1
    contacts:
      - {name: Site manager, role: site manager, sip: "sip:manager@127.0.0.1:@PORT@"}
routes:
  - name: everything
    steps:
      - {offer: duty, timeout: 300}
    triggers:
      dispatch: {notify: managers, message: "Alarme {alarm_type} pour {agent} : secours engagés."}
"""


async def raise_alarm(app: web.Application) -> AlarmRecord:
    now = datetime.now(UTC)
    alarm, _ = await app[STORE].raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    app[BUS].publish(alarm_message(alarm))  # as the API does: the dialplan takes it up
    return alarm


async def staff(app: web.Application, alarm_id: str, event: Accepted | Escalated) -> None:
    alarm = await app[STORE].apply(alarm_id, event, "ana", datetime.now(UTC))
    app[BUS].publish(alarm_message(alarm))


async def timeline_line(app: web.Application, alarm_id: str, part: str, within: float) -> str:
    """The first timeline text containing ``part``, once the dialplan has written it."""
    async with asyncio.timeout(within):
        while True:
            alarm = await app[STORE].get_alarm(alarm_id)
            assert alarm is not None
            lines = [str(e.data["text"]) for e in alarm.timeline if "text" in e.data]
            found = [line for line in lines if part in line]
            if found:
                return found[0]
            await asyncio.sleep(0.1)


async def test_dispatch_calls_the_manager_whose_key_stops_the_chain(
    voice_gateway: StartGateway, sipp: RunSipp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "gateway.voice")
    port = free_udp_port()
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN.replace("@PORT@", str(port)))
    app = (await voice_gateway(dialplans=tmp_path / "plans")).app
    messages: list[Message] = []
    app[BUS].add_listener(messages.append)
    fill = {"LISTEN": "2500", "DTMF": dtmf_pcap("1", tmp_path), "EVENT_PT": str(EVENT_PT)}
    manager = await sipp("uas_manager.xml", "", port=port, fill=fill)
    alarm = await raise_alarm(app)
    await staff(app, alarm.id, Accepted("ana"))
    await staff(app, alarm.id, Escalated("samu", "15-1"))
    await timeline_line(app, alarm.id, "dispatch acknowledged by Site manager", within=30)
    assert await manager.wait(10) == 0, manager.log()
    assert [m for m in messages if m["type"] == "alert"] == []
    logged = [r for r in caplog.records if r.name == "gateway.voice"]
    assert [(r.getMessage(), getattr(r, "alarm_id", None)) for r in logged] == [
        (f"manager call for alarm {alarm.id} to sip:manager@127.0.0.1:{port}: pressed 1", alarm.id)
    ]
    invite = manager.log().split("INVITE sip:", 1)[1].split("\n----", 1)[0]
    assert "Answer-Mode" not in invite and "answer-after" not in invite  # it rings normally


async def test_a_manager_hanging_up_is_no_acknowledgement(
    voice_gateway: StartGateway, sipp: RunSipp
) -> None:
    app = (await voice_gateway()).app
    port = free_udp_port()
    peer = await sipp("uas_hangs_up.xml", "", port=port, fill={"LISTEN": "1000"})
    alarm = await raise_alarm(app)
    uri = f"sip:manager@127.0.0.1:{port}"
    assert not await app[VOICE].call_manager(alarm.id, uri, "Alarm for agent seven.", "1")
    assert await peer.wait(10) == 0, peer.log()


async def test_an_unreachable_manager_is_an_error_naming_the_address(
    voice_gateway: StartGateway,
) -> None:
    app = (await voice_gateway()).app
    alarm = await raise_alarm(app)
    with pytest.raises(RuntimeError) as info:
        await app[VOICE].call_manager(alarm.id, "sip:manager@127.0.0.1 nowhere", "Alarm.", "1")
    assert str(info.value).startswith(
        "manager call to sip:manager@127.0.0.1 nowhere failed: call ma1 failed: 400 "
    ), info.value
