"""The console's lifecycle: audio hub wiring, console presence, and releasing abandoned alarms.

``ConsoleWatch`` is the asyncio adapter around the pure :class:`Presence`: it
owns the one timer, and when an operator's grace runs out it applies
``Released(operator, "console disconnected")`` to every alarm they handle, so
the alarm goes back to the queue for another operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.alarm.events import ListenEnded, Noted, Released
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState
from gateway.api.keys import BUS, JOURNAL, RECORDER, STORE, VOICE
from gateway.sip.errors import SipError
from gateway.store.errors import NotFound
from gateway.voice import VoiceService
from gateway.web.access import may_hear
from gateway.web.presence import DEFAULT_GRACE_S, Presence
from gateway.webrtc.leg import AudioHub, Leg

log = logging.getLogger("gateway.console")
DISCONNECTED = "console disconnected"
#: Timeline actor of releases the gateway makes on its own (the operator did not act).
GATEWAY_ACTOR = "gateway"
#: The ``channel`` of ListenStarted/ListenEnded for browser legs.
WEBRTC = "webrtc"
HANDLED_STATES = (AlarmState.ACCEPTED, AlarmState.ESCALATED)

HUB = web.AppKey("audio_hub", AudioHub)


async def release_abandoned(app: web.Application, operator: str) -> list[str]:
    """Give back every alarm ``operator`` handles; returns their ids."""
    handled = await app[STORE].list_alarms(states=HANDLED_STATES, limit=1000)
    released = []
    for alarm in handled:
        if alarm.handler != operator:
            continue
        try:
            await app[JOURNAL].record(alarm.id, Released(operator, DISCONNECTED), GATEWAY_ACTOR)
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


class CallBacks:
    """Phone call-backs asked for from the console: they ring for up to a minute, so
    they run in the background and a failure is written to the timeline."""

    CALLBACK_NOTE = "callback"

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, voice: VoiceService, alarm_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._call(voice, alarm_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, voice: VoiceService, alarm_id: str) -> None:
        try:
            await voice.callback_phone(alarm_id)
        except Exception as exc:  # every failure must reach the operator, never vanish
            log.warning("call back failed: %s", exc, extra={"alarm_id": alarm_id})
            note = Noted(self.CALLBACK_NOTE, f"call back failed: {exc}")
            await self._app[JOURNAL].try_record(alarm_id, note, GATEWAY_ACTOR)

    async def close(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


CALLBACKS = web.AppKey("console_callbacks", CallBacks)


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


def talk_to_phone(voice: VoiceService) -> Callable[[str, bytes, int], None]:
    """Operator speech to the alarm's live phone call, if there is one."""

    def send(alarm_id: str, pcm: bytes, rate: int) -> None:
        call_id = voice.phone_call(alarm_id)
        if call_id is None or voice.supervisor is None:
            return
        try:
            voice.supervisor.send_audio(call_id, pcm, rate)
        except SipError:  # the call ended between the lookup and the send
            log.debug("operator audio for a call that ended", extra={"alarm_id": alarm_id})

    return send


async def console_ctx(app: web.Application) -> AsyncIterator[None]:
    """Audio hub wired to the voice channel and recorder, console watch; legs hung up at the end."""
    journal = app[JOURNAL]

    def leg_closed(leg: Leg) -> None:
        journal.record_soon(leg.alarm_id, ListenEnded(leg.operator, WEBRTC), leg.operator)

    hub = AudioHub(on_closed=leg_closed)
    app[HUB] = hub
    voice = app.get(VOICE)
    if voice is not None:
        voice.add_audio_listener(hub.feed, ended=hub.call_ended)
        hub.add_talk_listener(talk_to_phone(voice))
    recorder = app.get(RECORDER)
    if recorder is not None:
        hub.add_talk_listener(recorder.operator_audio)
    watch = ConsoleWatch(app)
    app[WATCH] = watch
    app[CALLBACKS] = CallBacks(app)
    tasks = (
        asyncio.create_task(watch.run(), name="console-watch"),
        asyncio.create_task(hang_up_unauthorised(app), name="console-hangup"),
    )
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await app[CALLBACKS].close()
    await hub.close()
