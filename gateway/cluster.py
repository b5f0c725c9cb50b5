"""Several gateway instances on one PostgreSQL database.

Each instance registers itself and writes a heartbeat; a live instance takes
over the open alarms of one whose heartbeat is older than the take-over time,
records that in their timelines, marks a call that died with the instance as
lost (so the dialplan calls the phone back) and rebuilds their escalation
machines. Outbox sinks are leased, so each event is delivered by one instance
at a time. On PostgreSQL, live messages cross instances with LISTEN/NOTIFY.
A single SQLite instance runs the same code: its restart re-owns its alarms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

import psycopg
from sqlalchemy import Connection, make_url

from gateway.alarm.events import Noted, VoiceLost
from gateway.api.schemas import alarm_message
from gateway.bus import EventBus, Message
from gateway.journal import Journal
from gateway.store import instances
from gateway.store.errors import StoreError

log = logging.getLogger("gateway.cluster")

CHANNEL = "gateway_events"
NOTIFY_LIMIT = 7900
"""PostgreSQL refuses NOTIFY payloads of 8000 bytes or more: larger messages go by id."""

Adopter = Callable[[list[str]], Awaitable[None]]


def default_instance_id(http_port: int) -> str:
    """Stable across restarts (a restarted instance owns its alarms at once), unique per port."""
    return f"{socket.gethostname()}:{http_port}"


class Cluster:
    """This instance among the others: heartbeat, take-over, sink leases."""

    def __init__(
        self,
        journal: Journal,
        instance_id: str,
        *,
        heartbeat_s: float = 2.0,
        takeover_after_s: float = 10.0,
        voice_callback: Callable[[str], Awaitable[None]] | None = None,
        live_call: Callable[[str], str | None] | None = None,
    ) -> None:
        """``live_call(alarm_id)``: the call this instance carries for the alarm, if any."""
        self.instance_id = instance_id
        self._journal = journal
        self._store = journal.store
        self._heartbeat_s = heartbeat_s
        self._takeover_after = timedelta(seconds=takeover_after_s)
        self._voice_callback = voice_callback
        self._live_call = live_call
        self._adopters: list[Adopter] = []
        self._task: asyncio.Task[None] | None = None
        self._relay: NotifyRelay | None = None

    async def start(self, database_url: str) -> None:
        now = self._journal.clock()
        host = socket.gethostname()
        await self._store.transaction(
            lambda conn: instances.register(conn, self.instance_id, host, now)
        )
        self._store.instance_id = self.instance_id
        if self._store.dialect == "postgresql":
            self._relay = NotifyRelay(database_url, self._journal, self.instance_id)
            await self._relay.start()

    async def resume(self) -> None:
        """Once every part has started: escalate the open alarms this instance owns (it
        restarted), then beat and watch the others."""
        await self._adopt(await self.own_open_alarms(), taken_over=False)
        self._task = asyncio.create_task(self._beat(), name="cluster-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._relay is not None:
            await self._relay.stop()
        with contextlib.suppress(StoreError):
            await self._store.transaction(lambda conn: instances.leave(conn, self.instance_id))

    def on_adopt(self, adopter: Adopter) -> None:
        """``adopter(alarm_ids)`` rebuilds what runs for alarms this instance now owns."""
        self._adopters.append(adopter)

    async def own_open_alarms(self) -> list[str]:
        """Open alarms this instance owns, including those stored before owners existed."""

        def claim(conn: Connection) -> list[str]:
            instances.adopt_unowned(conn, self.instance_id)
            return instances.owned_open_alarms(conn, self.instance_id)

        return await self._store.transaction(claim)

    async def lease(self, sink: str) -> bool:
        """Deliver to ``sink`` now? True while this instance holds its lease."""
        now = self._journal.clock()
        until = now + self._takeover_after
        return await self._store.transaction(
            lambda conn: instances.lease_sink(conn, sink, self.instance_id, now, until)
        )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self.take_over()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away a moment: beat again later
                log.exception("heartbeat failed; retrying")

    async def take_over(self) -> list[str]:
        """Beat, and take the open alarms of dead instances; their ids."""
        now = self._journal.clock()
        dead_before = now - self._takeover_after

        def beat(conn: Connection) -> list[str]:
            instances.heartbeat(conn, self.instance_id, now)
            return instances.claim_orphans(conn, self.instance_id, dead_before)

        taken = await self._store.transaction(beat)
        await self._adopt(taken, taken_over=True)
        return taken

    async def _adopt(self, alarm_ids: list[str], *, taken_over: bool) -> None:
        """Escalate these alarms here; a call that died with its instance is lost."""
        for adopter in self._adopters:
            await adopter(alarm_ids)
        for alarm_id in alarm_ids:
            alarm = await self._store.get_alarm(alarm_id)
            if alarm is None:
                continue
            events: list[Noted | VoiceLost] = []
            if taken_over:
                log.warning(
                    "alarm taken over from a stopped instance",
                    extra={"alarm_id": alarm_id, "instance": self.instance_id},
                )
                events.append(
                    Noted("instance.takeover", f"taken over by instance {self.instance_id}")
                )
            voice = [e for e in alarm.timeline if e.kind in ("voice_connected", "voice_lost")]
            # the phone may already have called again, through the SIP edge, to this instance
            here = self._live_call is not None and self._live_call(alarm_id) is not None
            call_died = bool(voice) and voice[-1].kind == "voice_connected" and not here
            if call_died:
                data = voice[-1].data
                events.append(
                    VoiceLost(
                        str(data.get("channel", "sip")),
                        str(data.get("call_id", "")),
                        "the instance carrying the call stopped",
                    )
                )
            if events:
                actor = f"instance:{self.instance_id}"
                await self._journal.try_record_all(alarm_id, events, actor)
            if call_died and not self._adopters and self._voice_callback is not None:
                # no dialplan to decide: call the phone back at once
                try:
                    await self._voice_callback(alarm_id)
                except Exception as exc:
                    log.error(
                        "call-back after take-over failed: %s", exc, extra={"alarm_id": alarm_id}
                    )


class NotifyRelay:
    """Live messages to and from the other instances over PostgreSQL LISTEN/NOTIFY."""

    def __init__(self, database_url: str, journal: Journal, instance_id: str) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._journal = journal
        self._bus: EventBus = journal.bus
        self._instance_id = instance_id
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="notify-listen"),
            asyncio.create_task(self._send(), name="notify-send"),
        ]
        self._bus.set_relay(self._relay)
        async with asyncio.timeout(10):
            await self._listening.wait()

    async def stop(self) -> None:
        self._bus.set_relay(None)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _relay(self, message: Message) -> None:
        payload = json.dumps({"from": self._instance_id, "message": message})
        if len(payload.encode()) > NOTIFY_LIMIT:
            alarm = message.get("alarm")
            if message.get("type") != "alarm" or not isinstance(alarm, dict):
                log.warning("live message too large for other instances: %s", message.get("type"))
                return
            payload = json.dumps({"from": self._instance_id, "alarm_id": alarm["id"]})
        self._outgoing.put_nowait(payload)

    async def _send(self) -> None:
        payload: str | None = None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    while True:
                        if payload is None:
                            payload = await self._outgoing.get()
                        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                        payload = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect; the message in hand is sent again
                log.warning("NOTIFY connection lost: %s; reconnecting", exc)
                await asyncio.sleep(1)

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    async for notify in conn.notifies():
                        await self._received(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost: %s; reconnecting", exc)
                await asyncio.sleep(1)

    async def _received(self, payload: str) -> None:
        data = json.loads(payload)
        if data.get("from") == self._instance_id:
            return
        message = data.get("message")
        if message is None:  # too large to carry: read it from the database
            alarm = await self._journal.store.get_alarm(str(data["alarm_id"]))
            if alarm is None:
                return
            message = alarm_message(alarm)
        self._bus.publish_remote(message)
