"""Take-over: the survivor records it and calls back a phone whose call died with its instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.alarm.events import VoiceConnected
from gateway.alarm.types import AlarmType
from gateway.bus import EventBus, Message
from gateway.cluster import Cluster
from gateway.journal import Journal
from gateway.store.records import NewAlarm
from gateway.store.store import Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, reference_base="http://gw")
    await opened.add_device("phone-1", "x" * 64, datetime.now(UTC))
    yield opened
    await opened.close()


async def test_the_survivor_notes_the_take_over_marks_the_call_lost_and_calls_back(
    store: Store, database_url: str
) -> None:
    start = datetime.now(UTC)
    clock = [start]
    bus = EventBus()
    seen: list[Message] = []
    bus.add_listener(seen.append)
    journal = Journal(store, bus, lambda: clock[0])
    called_back: list[str] = []

    async def callback(alarm_id: str) -> None:
        called_back.append(alarm_id)

    dead = Cluster(journal, "a", takeover_after_s=10)
    await dead.start(database_url)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.SOS, start, None, None, "http"), start
    )
    await store.apply(alarm.id, VoiceConnected("sip", "call-7"), "sip", start)

    survivor = Cluster(journal, "b", takeover_after_s=10, voice_callback=callback)
    await survivor.start(database_url)
    clock[0] = start + timedelta(seconds=5)
    assert await survivor.take_over() == []  # a is only 5 s silent
    clock[0] = start + timedelta(seconds=11)
    assert await survivor.take_over() == [alarm.id]
    assert await survivor.take_over() == []

    stored = await store.get_alarm(alarm.id)
    assert stored is not None
    assert [(e.kind, e.data.get("kind")) for e in stored.timeline[-2:]] == [
        ("noted", "instance.takeover"),
        ("voice_lost", None),
    ]
    assert stored.timeline[-1].data["call_id"] == "call-7"
    assert called_back == [alarm.id]
    assert [m["entry"]["kind"] for m in seen] == ["noted", "voice_lost"]
    await survivor.stop()
    await dead.stop()
