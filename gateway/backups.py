"""Backup monitoring centres: an alarm nobody here accepted is handed over over DC-09.

The backup receives exactly the alarm event the primary received (same code,
account, position and reference), so both centres speak of the same alarm.
"""

from __future__ import annotations

import logging

from gateway.dc09.config import Dc09Config
from gateway.dc09.sender import Dc09Sender
from gateway.outbox.events import EventKind
from gateway.store.store import Store

log = logging.getLogger("gateway.dc09")


class BackupCentres:
    """One DC-09 sender per configured backup centre; implements ``BackupForwarder``."""

    def __init__(self, store: Store, configs: dict[str, Dc09Config]) -> None:
        self._store = store
        self._senders = {name: Dc09Sender(config) for name, config in configs.items()}

    async def start(self) -> None:
        for sender in self._senders.values():
            await sender.start()

    async def stop(self) -> None:
        for sender in self._senders.values():
            await sender.stop()

    async def forward(self, alarm_id: str, receiver: str) -> None:
        sender = self._senders.get(receiver)
        if sender is None:
            known = ", ".join(sorted(self._senders)) or "none"
            raise RuntimeError(f"no backup DC-09 receiver {receiver!r} configured ({known})")
        raised = await self._store.alarm_event(alarm_id, EventKind.ALARM_RAISED)
        if raised is None:
            raise RuntimeError(f"alarm {alarm_id!r} has no raised event to forward")
        await sender.deliver(raised)
        log.info("alarm handed over to backup centre %s", receiver, extra={"alarm_id": alarm_id})
