"""Delivers the outbox to each sink (DC-09 receivers, webhooks), in order, at least once.

Each sink has a cursor in the database: the id of the last event it has dealt
with. Events are delivered one at a time in id order, so one alarm's events
arrive in order; the cursor moves only after the receiver acknowledged (or the
event was dead-lettered), so a crash re-sends, never skips. A restarted gateway
resumes from the cursor. With several instances, ``lease(sink)`` says whether
this one delivers to the sink now; the others stand by and take over when its
lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from gateway.metrics import Metrics
from gateway.outbox.errors import DeliveryError
from gateway.outbox.events import OutboxEvent
from gateway.outbox.policy import RetryPolicy
from gateway.store.store import Store

log = logging.getLogger("gateway.outbox")


class Sink(Protocol):
    """A destination; ``deliver`` returns once acknowledged, raises otherwise."""

    async def deliver(self, event: OutboxEvent) -> None: ...


def is_refusal(exc: BaseException) -> bool:
    """The receiver answered and refused this very event (``DeliveryError.permanent``).

    Not answering is never a refusal: that is retried for as long as it lasts.
    """
    return isinstance(exc, DeliveryError) and exc.permanent


class OutboxRunner:
    """One delivery loop per sink, woken as soon as the store writes an event."""

    def __init__(
        self,
        store: Store,
        sinks: dict[str, Sink],
        metrics: Metrics,
        *,
        policy: RetryPolicy | None = None,
        poll_s: float = 1.0,
        wants: Callable[[str, OutboxEvent], bool] | None = None,
        lease: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        """``wants(sink, event)`` filters events (e.g. pilot tenants skip the receiver);
        ``lease(sink)`` takes or renews the right to deliver to it (default: always)."""
        self._store = store
        self._sinks = sinks
        self._metrics = metrics
        self._policy = policy or RetryPolicy()
        self._poll_s = poll_s
        self._wants = wants or (lambda _sink, _event: True)
        self._lease = lease or _always
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for name, sink in self._sinks.items():
            await self._store.ensure_cursor(name)
            self._tasks.append(asyncio.create_task(self._loop(name, sink), name=f"outbox-{name}"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, name: str, sink: Sink) -> None:
        wake = self._store.outbox_signal()
        while True:
            try:
                if not await self._lease(name):  # another instance delivers: stand by
                    await asyncio.sleep(self._poll_s)
                    continue
                cursor = await self._store.cursor(name)
                batch = await self._store.outbox_after(cursor, limit=100)
                self._metrics.outbox_pending.labels(name).set(
                    await self._store.outbox_backlog(cursor)
                )
                if not batch:
                    # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_s):
                            await wake.wait()
                    wake.clear()
                    continue
                for event in batch:
                    if not await self._deliver(name, sink, event):
                        break
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("outbox loop error; retrying", extra={"sink": name})
                await asyncio.sleep(self._policy.max_delay_s / 10)

    async def _deliver(self, name: str, sink: Sink, event: OutboxEvent) -> bool:
        """Deliver one event, retrying until acknowledged or dead-lettered.

        False if the sink's lease was lost meanwhile (another instance goes on).
        """
        extra = {"sink": name, "event_id": event.id, "alarm_id": event.alarm_id}
        if not self._wants(name, event):
            await self._advance(name, event.id, skipped=True)
            return True
        failures = refusals = 0
        loop = asyncio.get_running_loop()
        while True:
            if not await self._lease(name):
                return False
            started = loop.time()
            try:
                await sink.deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                refused = is_refusal(exc)
                refusals += refused
                reason = type(exc).__name__
                self._metrics.outbox_failures.labels(name, reason).inc()
                await self._store.record_delivery_error(name, f"{reason}: {exc}")
                if refused and self._policy.give_up(refusals):
                    log.error(
                        "event dead-lettered after %d refusals: %s", refusals, exc, extra=extra
                    )
                    self._metrics.outbox_dead_letters.labels(name).inc()
                    await self._store.dead_letter(name, event.id, f"{reason}: {exc}")
                    return True
                delay = self._policy.delay(failures)
                log.warning("delivery failed (%s); retry in %.1f s", exc, delay, extra=extra)
                await asyncio.sleep(delay)
                continue
            self._metrics.outbox_delivery_seconds.labels(name).observe(loop.time() - started)
            await self._advance(name, event.id)
            return True

    async def _advance(self, name: str, event_id: int, *, skipped: bool = False) -> None:
        """Move the cursor, finishing even when stopped meanwhile: a clean stop re-sends nothing."""
        advance = asyncio.ensure_future(self._store.advance_cursor(name, event_id, skipped=skipped))
        try:
            await asyncio.shield(advance)
        except asyncio.CancelledError:
            await advance
            raise


async def _always(_sink: str) -> bool:
    """A lone instance always delivers."""
    return True
