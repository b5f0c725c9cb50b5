"""Escalation survives a restart: the machine is rebuilt from the stored timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.alarm.events import Accepted
from gateway.alarm.types import AlarmType
from gateway.api.schemas import alarm_message
from gateway.bus import EventBus, Message
from gateway.dialplan.library import DialplanLibrary
from gateway.dialplan.runner import DialplanRunner
from gateway.journal import Journal
from gateway.store.records import NewAlarm
from gateway.store.store import Store
from tests.conftest import eventually

PLAN = """
timezone: Europe/Paris
operator_groups:
  first: {members: [ana], strategy: all_at_once}
  second: {members: [carla], strategy: all_at_once}
routes:
  - name: everything
    steps:
      - {offer: first, timeout: 30}
      - {offer: second, timeout: 30}
"""


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, reference_base="http://gw")
    await opened.add_device("phone-1", "x" * 64, datetime.now(UTC))
    yield opened
    await opened.close()


def runner(store: Store, plans: Path, bus: EventBus, shift: timedelta) -> DialplanRunner:
    """A runner whose wall clock is ``shift`` ahead (the time the gateway was down)."""
    journal = Journal(store, bus, lambda: datetime.now(UTC) + shift)
    return DialplanRunner(DialplanLibrary(plans), journal)


def offers(messages: list[Message]) -> list[str]:
    return [str(m["group"]) for m in messages if m["type"] == "offer"]


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "plan.yaml").write_text(PLAN)
    return tmp_path / "plans"


async def raise_on(bus: EventBus, store: Store) -> str:
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    bus.publish(alarm_message(alarm))
    return alarm.id


async def test_a_time_out_due_during_the_restart_fires_at_once(store: Store, plans: Path) -> None:
    before, after = EventBus(), EventBus()
    seen_before: list[Message] = []
    seen_after: list[Message] = []
    before.add_listener(seen_before.append)
    after.add_listener(seen_after.append)
    first = runner(store, plans, before, timedelta(0))
    await first.start()
    alarm_id = await raise_on(before, store)
    await eventually(lambda: offers(seen_before) == ["first"])
    await first.stop()

    # 45 s later (past the first step's 30 s): the second group is offered at once
    restarted = runner(store, plans, after, timedelta(seconds=45))
    await restarted.start()
    await restarted.adopt([alarm_id])
    await eventually(lambda: offers(seen_after) == ["second"])
    await restarted.stop()
    stored = await store.get_alarm(alarm_id)
    assert stored is not None
    assert [e.kind for e in stored.timeline].count("offered") == 2


async def test_an_alarm_accepted_before_the_restart_is_not_offered_again(
    store: Store, plans: Path
) -> None:
    bus = EventBus()
    first = runner(store, plans, bus, timedelta(0))
    await first.start()
    alarm_id = await raise_on(bus, store)
    alarm = await store.apply(alarm_id, Accepted("ana"), "ana", datetime.now(UTC))
    bus.publish(alarm_message(alarm))
    await eventually(lambda: first.machine(alarm_id) is not None)
    await first.stop()

    after = EventBus()
    seen: list[Message] = []
    after.add_listener(seen.append)
    restarted = runner(store, plans, after, timedelta(seconds=45))
    await restarted.start()
    await restarted.adopt([alarm_id])
    machine = restarted.machine(alarm_id)
    assert machine is not None
    assert machine.next_deadline() is None  # accepted: no offer is timing out
    await restarted.stop()
    assert offers(seen) == []
