"""Instances sharing one database: a dead instance's alarms are claimed once, sinks leased."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection

from gateway.alarm.events import Closed
from gateway.alarm.types import AlarmType, Outcome
from gateway.store import instances
from gateway.store.records import NewAlarm
from gateway.store.store import Store

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DEAD_AFTER = timedelta(seconds=10)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, reference_base="http://gw")
    await opened.add_device("phone-1", "x" * 64, T0)
    yield opened
    await opened.close()


async def register(store: Store, *names: str) -> None:
    def work(conn: Connection) -> None:
        for name in names:
            instances.register(conn, name, "host", T0)

    await store.transaction(work)


async def raise_as(store: Store, instance_id: str) -> str:
    store.instance_id = instance_id
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.SOS, T0, None, None, "http"), T0
    )
    return alarm.id


async def test_a_dead_instances_open_alarms_are_claimed_once(store: Store) -> None:
    await register(store, "a", "b", "c")
    open_alarm = await raise_as(store, "a")
    closed_alarm = await raise_as(store, "a")
    await store.apply(closed_alarm, Closed(Outcome.FALSE_ALARM), "op", T0)
    b_alarm = await raise_as(store, "b")
    later = T0 + timedelta(seconds=20)  # b and c beat, a fell silent at T0

    def beat_and_claim(name: str) -> Callable[[Connection], list[str]]:
        def work(conn: Connection) -> list[str]:
            instances.heartbeat(conn, name, later)
            return instances.claim_orphans(conn, name, later - DEAD_AFTER)

        return work

    assert await store.transaction(beat_and_claim("b")) == [open_alarm]
    assert await store.transaction(beat_and_claim("c")) == []  # b was first
    owned = await store.transaction(lambda conn: instances.owned_open_alarms(conn, "b"))
    assert set(owned) == {b_alarm, open_alarm}


async def test_a_live_instances_alarms_stay_its_own(store: Store) -> None:
    await register(store, "a", "b")
    await raise_as(store, "a")
    soon = T0 + timedelta(seconds=5)
    claimed = await store.transaction(
        lambda conn: instances.claim_orphans(conn, "b", soon - DEAD_AFTER)
    )
    assert claimed == []


async def test_an_instance_counted_dead_while_slow_is_alive_again_at_its_next_beat(
    store: Store,
) -> None:
    await register(store, "a", "b")
    later = T0 + timedelta(seconds=20)  # a took longer than the take-over time to start
    await store.transaction(lambda conn: instances.claim_orphans(conn, "b", later - DEAD_AFTER))
    await store.transaction(lambda conn: instances.heartbeat(conn, "a", later))
    a_alarm = await raise_as(store, "a")
    claimed = await store.transaction(
        lambda conn: instances.claim_orphans(conn, "b", later - DEAD_AFTER)
    )
    assert claimed == []
    owned = await store.transaction(lambda conn: instances.owned_open_alarms(conn, "a"))
    assert owned == [a_alarm]


async def test_a_sink_is_leased_to_one_instance_until_its_lease_runs_out(store: Store) -> None:
    await store.ensure_cursor("dc09")

    async def lease(name: str, at: datetime) -> bool:
        return await store.transaction(
            lambda conn: instances.lease_sink(conn, "dc09", name, at, at + DEAD_AFTER)
        )

    assert await lease("a", T0)
    assert not await lease("b", T0 + timedelta(seconds=1))
    assert await lease("a", T0 + timedelta(seconds=5))  # renewed until T0 + 15 s
    assert not await lease("b", T0 + timedelta(seconds=12))
    assert await lease("b", T0 + timedelta(seconds=16))  # a went silent: b takes over
    assert not await lease("a", T0 + timedelta(seconds=17))
    await store.transaction(lambda conn: instances.leave(conn, "b"))
    assert await lease("a", T0 + timedelta(seconds=18))  # a clean stop frees it at once
