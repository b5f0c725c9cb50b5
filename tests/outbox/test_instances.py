"""Two instances on one database: each outbox event reaches the receiver once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from gateway.alarm.types import AlarmType
from gateway.bus import EventBus
from gateway.cluster import Cluster
from gateway.journal import Journal
from gateway.metrics import Metrics
from gateway.outbox.events import OutboxEvent
from gateway.outbox.runner import OutboxRunner
from gateway.store.records import NewAlarm
from gateway.store.store import Store
from tests.conftest import eventually


class SharedReceiver:
    """One monitoring centre both instances deliver to."""

    def __init__(self) -> None:
        self.received: list[int] = []

    async def deliver(self, event: OutboxEvent) -> None:
        self.received.append(event.id)


class Instance:
    def __init__(self, store: Store, name: str, receiver: SharedReceiver) -> None:
        self.store = store
        journal = Journal(store, EventBus(), lambda: datetime.now(UTC))
        self.cluster = Cluster(journal, name, heartbeat_s=0.2, takeover_after_s=1.0)
        self.runner = OutboxRunner(
            store, {"dc09": receiver}, Metrics(), poll_s=0.05, lease=self.cluster.lease
        )

    async def raise_alarm(self) -> None:
        now = datetime.now(UTC)
        await self.store.raise_alarm(
            NewAlarm("phone-1", AlarmType.SOS, now, None, None, "http"), now
        )


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    a = await Store.open(database_url, reference_base="http://gw")
    b = await Store.open(database_url, reference_base="http://gw")
    await a.add_device("phone-1", "x" * 64, datetime.now(UTC))
    yield a, b
    await a.close()
    await b.close()


async def test_each_event_is_delivered_once_and_a_dead_instances_sink_is_taken_over(
    stores: tuple[Store, Store], database_url: str
) -> None:
    receiver = SharedReceiver()
    a, b = (Instance(store, name, receiver) for store, name in zip(stores, "ab", strict=True))
    await a.cluster.start(database_url)
    await a.runner.start()
    await a.raise_alarm()
    await eventually(lambda: len(receiver.received) == 1)  # a holds the sink's lease
    await b.cluster.start(database_url)
    await b.runner.start()
    for _ in range(10):
        await a.raise_alarm()
        await b.raise_alarm()
    await eventually(lambda: len(receiver.received) >= 21)

    await a.runner.stop()  # a dies while holding the lease: b waits for it to run out
    for _ in range(5):
        await b.raise_alarm()
    await eventually(lambda: len(receiver.received) >= 26, within=10)
    await b.runner.stop()
    await b.cluster.stop()
    await a.cluster.stop()
    assert [n for n in Counter(receiver.received).values() if n > 1] == []
    assert receiver.received == sorted(receiver.received)
