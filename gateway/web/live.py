"""Recording console actions and releasing the alarms of operators whose console is gone.

``ConsoleWatch`` is the asyncio adapter around the pure :class:`Presence`: it
owns the one timer, and when an operator's grace runs out it applies
``Released(operator, "console disconnected")`` to every alarm they handle, so
the alarm goes back to the queue for another operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.alarm.events import AlarmEvent, Released
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState
from gateway.api.keys import BUS, CLOCK, STORE
from gateway.api.schemas import alarm_message
from gateway.store.errors import NotFound
from gateway.store.records import AlarmRecord
from gateway.web.access import may_hear
from gateway.web.presence import DEFAULT_GRACE_S, Presence
from gateway.webrtc.leg import AudioHub

log = logging.getLogger("gateway.console")
DISCONNECTED = "console disconnected"
#: Timeline actor of releases the gateway makes on its own (the operator did not act).
GATEWAY_ACTOR = "gateway"
HANDLED_STATES = (AlarmState.ACCEPTED, AlarmState.ESCALATED)

HUB = web.AppKey("audio_hub", AudioHub)


async def record(app: web.Application, alarm_id: str, event: AlarmEvent, actor: str) -> AlarmRecord:
    """Apply ``event`` through the store (one transaction) and tell live consoles.

    Raises NotFound or AlarmProtocolError, as the store does.
    """
    alarm = await app[STORE].apply(alarm_id, event, actor, app[CLOCK]())
    app[BUS].publish(alarm_message(alarm))
    return alarm


async def release_abandoned(app: web.Application, operator: str) -> list[str]:
    """Give back every alarm ``operator`` handles; returns their ids."""
    handled = await app[STORE].list_alarms(states=HANDLED_STATES, limit=1000)
    released = []
    for alarm in handled:
        if alarm.handler != operator:
            continue
        try:
            await record(app, alarm.id, Released(operator, DISCONNECTED), GATEWAY_ACTOR)
        except (AlarmProtocolError, NotFound) as exc:  # closed or taken meanwhile
            log.info("release skipped: %s", exc, extra={"alarm_id": alarm.id})
            continue
        log.warning(
            "alarm released: console disconnected",
            extra={"alarm_id": alarm.id, "operator": operator},
        )
        released.append(alarm.id)
    return released


class ConsoleWatch:
    """Tracks console sockets and releases alarms when an operator's console is gone."""

    def __init__(self, app: web.Application, grace_s: float = DEFAULT_GRACE_S) -> None:
        self._app = app
        self.presence = Presence(grace_s)
        self._changed = asyncio.Event()

    def opened(self, user: str) -> None:
        self.presence.opened(user)
        self._changed.set()

    def closed(self, user: str) -> None:
        self.presence.closed(user, asyncio.get_running_loop().time())
        self._changed.set()

    async def run(self) -> None:
        """Sleep until the next deadline (or a change), then release what is due."""
        loop = asyncio.get_running_loop()
        while True:
            deadline = self.presence.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            self._changed.clear()
            for user in self.presence.handle_timeout(loop.time()):
                try:
                    await release_abandoned(self._app, user)
                except Exception:  # the watch must outlive any one failure
                    log.exception("releasing the alarms of %s failed", user)


WATCH = web.AppKey("console_watch", ConsoleWatch)


async def hang_up_unauthorised(app: web.Application) -> None:
    """Follow alarm changes on the bus: hang up legs whose operator may no longer hear.

    A closed alarm loses every leg; a released or taken-over one loses its former
    handler's leg (supervisors monitoring stay until it closes).
    """
    hub = app[HUB]
    while True:
        subscription = app[BUS].subscribe()
        try:
            while not (subscription.overflowed and subscription.queue.empty()):
                message = await subscription.queue.get()
                if message.get("type") != "alarm":
                    continue
                alarm = message["alarm"]
                state, handler = AlarmState(alarm["state"]), alarm["handler"]
                for leg in hub.legs(alarm["id"]):
                    if not may_hear(state, handler, leg.operator, leg.monitor):
                        await hub.close_leg(leg.alarm_id, leg.operator, only=leg)
        finally:
            subscription.close()
        log.warning("console watch missed alarm events; resubscribing")


async def console_ctx(app: web.Application) -> AsyncIterator[None]:
    """Audio hub and console watch: started with the app, legs hung up at shutdown."""
    app[HUB] = AudioHub()
    watch = ConsoleWatch(app)
    app[WATCH] = watch
    tasks = (
        asyncio.create_task(watch.run(), name="console-watch"),
        asyncio.create_task(hang_up_unauthorised(app), name="console-hangup"),
    )
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app[HUB].close()
