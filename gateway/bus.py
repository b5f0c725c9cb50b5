"""In-process fan-out of live events to consoles (WebSocket clients).

A slow subscriber never slows the gateway: its queue is bounded, and once it
overflows the subscriber is told it missed events and must reload. With several
instances on one database, a relay (PostgreSQL NOTIFY) carries each message to
the other instances, which hand it to their consoles and remote listeners.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

Message = Mapping[str, Any]
OVERFLOW: Message = {"type": "overflow", "message": "events were dropped; reload the alarm list"}


class Subscription:
    def __init__(self, bus: EventBus, size: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Message] = asyncio.Queue(size)
        self.overflowed = False

    def close(self) -> None:
        self._bus._subscribers.discard(self)


class EventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[Subscription] = set()
        self._listeners: list[Callable[[Message], None]] = []
        self._remote_listeners: list[Callable[[Message], None]] = []
        self._relay: Callable[[Message], None] | None = None
        self._size = queue_size

    def add_listener(self, listener: Callable[[Message], None]) -> None:
        """An in-process consumer, called synchronously for every message; never dropped."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Message], None]) -> None:
        self._listeners.remove(listener)

    def add_remote_listener(self, listener: Callable[[Message], None]) -> None:
        """Called for every message published by another instance (the owner of an alarm
        hears what happened to it elsewhere)."""
        self._remote_listeners.append(listener)

    def remove_remote_listener(self, listener: Callable[[Message], None]) -> None:
        self._remote_listeners.remove(listener)

    def set_relay(self, relay: Callable[[Message], None] | None) -> None:
        """What carries this instance's messages to the other instances; None: alone."""
        self._relay = relay

    def subscribe(self) -> Subscription:
        sub = Subscription(self, self._size)
        self._subscribers.add(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, message: Message) -> None:
        for listener in self._listeners:
            listener(message)
        if self._relay is not None:
            self._relay(message)
        self._fan_out(message)

    def publish_remote(self, message: Message) -> None:
        """A message another instance published: to the consoles and remote listeners."""
        for listener in self._remote_listeners:
            listener(message)
        self._fan_out(message)

    def _fan_out(self, message: Message) -> None:
        for sub in tuple(self._subscribers):
            if sub.overflowed:
                continue
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:
                sub.overflowed = True
