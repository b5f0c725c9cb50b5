"""The dialplan runner drives real escalation machines over a real store and bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.alarm.events import Accepted, Escalated, Transcribed, VoiceConnected
from gateway.alarm.types import AlarmType
from gateway.api.schemas import alarm_message
from gateway.bus import EventBus, Message
from gateway.dialplan.library import DialplanLibrary
from gateway.dialplan.runner import DialplanRunner
from gateway.journal import Journal
from gateway.store.records import AlarmRecord, NewAlarm
from gateway.store.store import Store
from tests.conftest import eventually

PLAN = """
timezone: Europe/Paris
operator_groups:
  first: {members: [ana, ben], strategy: all_at_once}
  second: {members: [carla], strategy: all_at_once}
contact_lists:
  managers:
    ack_timeout: 0.3
    rounds: 1
    contacts:
      - {name: Site manager, role: site manager, sip: "sip:manager@127.0.0.1"}
routes:
  - name: everything
    steps:
      - {offer: first, timeout: 0.3}
      - {offer: second, timeout: 30}
    triggers:
      dispatch: {notify: managers, message: "Alarm {alarm_type} for {agent}: dispatched."}
"""


@dataclass
class FakeVoice:
    """Stands in for the SIP workers: records calls, acknowledges as told."""

    acknowledge: bool
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    async def callback_phone(self, alarm_id: str) -> None:
        raise RuntimeError("phone unreachable")

    async def call_manager(
        self, alarm_id: str, uri: str, message: str, ack_digit: str, ack_timeout: float
    ) -> bool:
        self.calls.append((alarm_id, uri, ack_digit))
        return self.acknowledge

    async def ring_station(self, alarm_id: str, uri: str, ring_timeout: float) -> str:
        raise RuntimeError("no station in this test")

    async def hang_up(self, call_id: str) -> None:
        raise RuntimeError("no call in this test")


@dataclass
class Rig:
    store: Store
    bus: EventBus
    messages: list[Message]

    async def raise_alarm(self) -> AlarmRecord:
        now = datetime.now(UTC)
        alarm, _ = await self.store.raise_alarm(
            NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
        )
        self.bus.publish(
            {
                "type": "alarm",
                "alarm": {
                    "id": alarm.id,
                    "device_id": "phone-1",
                    "type": "fall",
                    "state": "received",
                },
                "entry": {"kind": "raised", "actor": "device:phone-1", "data": {}},
            }
        )
        return alarm

    async def apply(self, alarm_id: str, event: Any, actor: str) -> None:
        alarm = await self.store.apply(alarm_id, event, actor, datetime.now(UTC))
        entry = alarm.timeline[-1]
        self.bus.publish(
            {
                "type": "alarm",
                "alarm": {"id": alarm_id},
                "entry": {"kind": entry.kind, "actor": entry.actor, "data": dict(entry.data)},
            }
        )

    def of(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m["type"] == kind]


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    store = await Store.open(database_url, reference_base="http://gw")
    await store.add_device("phone-1", "x" * 64, datetime.now(UTC))
    bus = EventBus()
    messages: list[Message] = []
    bus.add_listener(messages.append)
    yield Rig(store, bus, messages)
    await store.close()


async def start(rig: Rig, tmp_path: Path, voice: FakeVoice) -> DialplanRunner:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "test.yaml").write_text(PLAN)
    journal = Journal(rig.store, rig.bus, lambda: datetime.now(UTC))
    runner = DialplanRunner(DialplanLibrary(tmp_path / "plans"), journal, voice=voice)
    await runner.start()
    return runner


async def timeline(rig: Rig, alarm_id: str) -> list[tuple[str, Any]]:
    alarm = await rig.store.get_alarm(alarm_id)
    assert alarm is not None
    return [(e.kind, e.data.get("text")) for e in alarm.timeline]


async def test_alarm_nobody_accepts_overflows_after_the_timeout(rig: Rig, tmp_path: Path) -> None:
    runner = await start(rig, tmp_path, FakeVoice(acknowledge=True))
    alarm = await rig.raise_alarm()
    await eventually(lambda: len(rig.of("offer")) == 2, within=5)
    await runner.stop()
    assert [(m["group"], m["members"]) for m in rig.of("offer")] == [
        ("first", ["ana", "ben"]),
        ("second", ["carla"]),
    ]
    kinds = [kind for kind, _ in await timeline(rig, alarm.id)]
    assert kinds[:2] == ["raised", "noted"]  # routed, with its reason
    assert kinds.count("offered") == 2
    texts = [text for _, text in await timeline(rig, alarm.id) if text]
    assert any("first" in text for text in texts)


async def test_accepting_stops_the_offers(rig: Rig, tmp_path: Path) -> None:
    runner = await start(rig, tmp_path, FakeVoice(acknowledge=True))
    alarm = await rig.raise_alarm()
    await eventually(lambda: len(rig.of("offer")) == 1)
    await rig.apply(alarm.id, Accepted("ana"), "ana")
    await eventually(lambda: len(rig.of("offer_cancelled")) >= 1)
    await asyncio.sleep(0.5)  # past the first step's time-out: no overflow now
    await runner.stop()
    assert len(rig.of("offer")) == 1


async def test_manager_acknowledges_and_the_chain_stops(rig: Rig, tmp_path: Path) -> None:
    voice = FakeVoice(acknowledge=True)
    runner = await start(rig, tmp_path, voice)
    alarm = await rig.raise_alarm()
    await rig.apply(alarm.id, Accepted("ana"), "ana")
    await rig.apply(alarm.id, Escalated("samu", "15-1"), "ana")
    await eventually(lambda: len(voice.calls) == 1)
    await asyncio.sleep(0.6)  # past the ack time-out: nobody else is called
    await runner.stop()
    assert voice.calls == [(alarm.id, "sip:manager@127.0.0.1", "1")]
    assert rig.of("alert") == []


async def test_unacknowledged_chain_raises_the_supervisor(rig: Rig, tmp_path: Path) -> None:
    voice = FakeVoice(acknowledge=False)
    runner = await start(rig, tmp_path, voice)
    alarm = await rig.raise_alarm()
    await rig.apply(alarm.id, Accepted("ana"), "ana")
    await rig.apply(alarm.id, Escalated("police", "17-9"), "ana")
    await eventually(lambda: any(m["alert"] == "supervisor" for m in rig.of("alert")), within=5)
    await runner.stop()
    texts = " | ".join(str(text) for _, text in await timeline(rig, alarm.id))
    assert "the call ended without acknowledgement" in texts


SITE_PLAN = """
timezone: Europe/Paris
operator_groups:
  north-team: {members: [nina], strategy: all_at_once}
  everyone: {members: [ana], strategy: all_at_once}
routes:
  - name: north
    match: {tenants: [dgfip-59], sites: [lille], agent_groups: [bailiffs]}
    steps:
      - {offer: north-team, timeout: 30}
  - name: default
    steps:
      - {offer: everyone, timeout: 30}
"""


async def test_routes_match_the_devices_tenant_site_and_group(rig: Rig, tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(SITE_PLAN)
    journal = Journal(rig.store, rig.bus, lambda: datetime.now(UTC))
    runner = DialplanRunner(DialplanLibrary(tmp_path / "plans"), journal)
    await runner.start()
    now = datetime.now(UTC)
    await rig.store.add_tenant("dgfip-59", now)
    await rig.store.add_device(
        "phone-59", "5" * 64, now, tenant="dgfip-59", site="lille", agent_group="bailiffs"
    )
    for device in ("phone-59", "phone-1"):
        alarm, _ = await rig.store.raise_alarm(
            NewAlarm(device, AlarmType.SOS, now, None, None, "http"), now
        )
        rig.bus.publish(alarm_message(alarm))  # as the API does
    await eventually(lambda: len(rig.of("offer")) == 2)
    await runner.stop()
    assert [m["group"] for m in rig.of("offer")] == ["north-team", "everyone"]


SILENCE_PLAN = """
timezone: Europe/Paris
operator_groups:
  first: {members: [ana], strategy: all_at_once}
routes:
  - name: everything
    steps:
      - {offer: first, timeout: 30}
    no_response: {after: 0.8}
"""


async def test_the_callers_words_hold_off_the_no_response_procedure(
    rig: Rig, tmp_path: Path
) -> None:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "test.yaml").write_text(SILENCE_PLAN)
    journal = Journal(rig.store, rig.bus, lambda: datetime.now(UTC))
    runner = DialplanRunner(DialplanLibrary(tmp_path / "plans"), journal)
    await runner.start()
    alarm = await rig.raise_alarm()
    await rig.apply(alarm.id, Accepted("ana"), "ana")
    await rig.apply(alarm.id, VoiceConnected("sip", "c1"), "voice")
    for second in range(4):  # talking for 2 s, past the 0.8 s of silence allowed
        await asyncio.sleep(0.5)
        await rig.apply(alarm.id, Transcribed("help me", second, second + 0.4, "w", 0.9), "speech")
    assert not [m for m in rig.of("alert") if m["alert"] == "no_response"]
    await eventually(lambda: any(m["alert"] == "no_response" for m in rig.of("alert")), within=3)
    await runner.stop()
