"""Recording what happens to an alarm: store the event, then tell the consoles.

Every part that changes an alarm (API, voice channel, speech advisor,
dialplans) goes through one ``Journal`` so the timeline and the live event
stream can never disagree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from gateway.alarm.events import AlarmEvent
from gateway.alarm.machine import AlarmProtocolError
from gateway.api.schemas import alarm_message
from gateway.bus import EventBus
from gateway.store.errors import NotFound, StoreError
from gateway.store.records import AlarmRecord
from gateway.store.store import Store

log = logging.getLogger("gateway.alarm")


class Journal:
    def __init__(self, store: Store, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    async def record(self, alarm_id: str, event: AlarmEvent, actor: str) -> AlarmRecord:
        """Apply ``event`` to the alarm and publish the change.

        Returns the alarm with only the new entry in its timeline. Raises NotFound
        or AlarmProtocolError (nothing stored, nothing published).
        """
        return await self.record_all(alarm_id, (event,), actor)

    async def record_all(
        self, alarm_id: str, events: Sequence[AlarmEvent], actor: str
    ) -> AlarmRecord:
        """Several events in one transaction (all or none), one live message each."""
        alarm = await self.store.apply_all(alarm_id, events, actor, self.clock())
        for entry in alarm.timeline:
            self.bus.publish(alarm_message(alarm, entry))
        return alarm

    async def try_record(self, alarm_id: str, event: AlarmEvent, actor: str) -> None:
        """Record a finding that may arrive too late (alarm closed meanwhile): log, never raise."""
        await self.try_record_all(alarm_id, (event,), actor)

    async def try_record_all(self, alarm_id: str, events: Sequence[AlarmEvent], actor: str) -> None:
        try:
            await self.record_all(alarm_id, events, actor)
        except (AlarmProtocolError, NotFound, StoreError) as exc:
            names = ", ".join(type(e).__name__ for e in events)
            log.info(
                "%s not recorded: %s", names, exc, extra={"alarm_id": alarm_id, "actor": actor}
            )

    def record_soon(self, alarm_id: str, event: AlarmEvent, actor: str) -> None:
        """``try_record`` from a synchronous callback; the task is kept until it ends."""
        task = asyncio.get_running_loop().create_task(self.try_record(alarm_id, event, actor))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
