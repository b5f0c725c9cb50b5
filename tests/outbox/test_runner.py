"""The outbox runner with a real store (SQLite and PostgreSQL) and scripted sinks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from gateway.alarm.events import CancelledByAgent
from gateway.alarm.types import AlarmType
from gateway.dc09.errors import MessageRejectedError, ReceiverUnreachableError
from gateway.metrics import Metrics
from gateway.outbox.events import EventKind, OutboxEvent
from gateway.outbox.policy import RetryPolicy
from gateway.outbox.runner import OutboxRunner, Sink
from gateway.store.records import NewAlarm
from gateway.store.store import Store
from tests.conftest import eventually

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(first_delay_s=0.01, max_delay_s=0.05, max_refusals=3)


class ScriptedSink:
    """Fails while ``fail`` says so; records what it acknowledged."""

    def __init__(self, fail: Callable[[OutboxEvent, int], Exception | None] | None = None):
        self.fail = fail or (lambda _event, _attempt: None)
        self.attempts: dict[int, int] = {}
        self.delivered: list[OutboxEvent] = []
        self.arrived = asyncio.Event()

    async def deliver(self, event: OutboxEvent) -> None:
        attempt = self.attempts[event.id] = self.attempts.get(event.id, 0) + 1
        error = self.fail(event, attempt)
        if error is not None:
            raise error
        self.delivered.append(event)
        self.arrived.set()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url, reference_base="http://gw")
    await opened.add_device("phone-1", "t" * 64, NOW)
    yield opened
    await opened.close()


async def raise_alarm(store: Store) -> str:
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.SOS, NOW, None, None, "http"), NOW
    )
    return alarm.id


async def run(
    store: Store,
    sinks: dict[str, Sink],
    wants: Callable[[str, OutboxEvent], bool] | None = None,
) -> OutboxRunner:
    runner = OutboxRunner(store, sinks, Metrics(), policy=FAST, poll_s=0.05, wants=wants)
    await runner.start()
    return runner


async def test_delivers_every_event_in_order_as_soon_as_it_is_written(store: Store) -> None:
    sink = ScriptedSink()
    runner = await run(store, {"dc09": sink})
    first = await raise_alarm(store)
    second = await raise_alarm(store)
    await store.apply(first, CancelledByAgent(), "device:phone-1", NOW)
    await eventually(lambda: len(sink.delivered) == 3)
    await runner.stop()
    assert [(e.alarm_id, e.kind) for e in sink.delivered] == [
        (first, EventKind.ALARM_RAISED),
        (second, EventKind.ALARM_RAISED),
        (first, EventKind.ALARM_CANCELLED),
    ]
    assert await store.cursor("dc09") == sink.delivered[-1].id


async def test_unreachable_receiver_is_retried_until_it_answers(store: Store) -> None:
    down = ReceiverUnreachableError("cannot connect")
    sink = ScriptedSink(lambda event, attempt: down if attempt <= 4 else None)
    runner = await run(store, {"dc09": sink})
    alarm_ids = [await raise_alarm(store) for _ in range(3)]
    await eventually(lambda: len(sink.delivered) == 3)
    await runner.stop()
    assert [e.alarm_id for e in sink.delivered] == alarm_ids
    assert all(attempts == 5 for attempts in sink.attempts.values())


async def test_an_event_the_receiver_keeps_refusing_is_set_aside(store: Store) -> None:
    duh = MessageRejectedError("receiver answered DUH")
    first = await raise_alarm(store)
    sink = ScriptedSink(lambda event, _attempt: duh if event.alarm_id == first else None)
    runner = await run(store, {"dc09": sink})
    second = await raise_alarm(store)
    await eventually(lambda: len(sink.delivered) == 1)
    await runner.stop()
    assert [e.alarm_id for e in sink.delivered] == [second]
    [(event_id, reason)] = await store.dead_letters("dc09")
    assert reason == "MessageRejectedError: receiver answered DUH"
    assert sink.attempts[event_id] == FAST.max_refusals


async def test_restart_resumes_from_the_cursor(store: Store) -> None:
    sink = ScriptedSink()
    runner = await run(store, {"dc09": sink})
    await raise_alarm(store)
    await eventually(lambda: len(sink.delivered) == 1)
    await runner.stop()
    for _ in range(2):
        await raise_alarm(store)
    restarted = ScriptedSink()
    runner = await run(store, {"dc09": restarted})
    await eventually(lambda: len(restarted.delivered) == 2)
    await runner.stop()
    assert {e.id for e in restarted.delivered}.isdisjoint({e.id for e in sink.delivered})


async def test_sinks_are_independent_and_filtered(store: Store) -> None:
    dc09, hook = ScriptedSink(), ScriptedSink()
    runner = await run(
        store,
        {"dc09": dc09, "webhook:1": hook},
        wants=lambda name, event: name != "dc09" or event.kind is EventKind.ALARM_RAISED,
    )
    alarm_id = await raise_alarm(store)
    await store.apply(alarm_id, CancelledByAgent(), "device:phone-1", NOW)
    await eventually(lambda: len(hook.delivered) == 2 and len(dc09.delivered) == 1)
    async with asyncio.timeout(5):  # dc09 then passes over the cancellation, sending nothing
        while await store.cursor("dc09") != await store.cursor("webhook:1"):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await runner.stop()
    assert len(dc09.delivered) == 1
