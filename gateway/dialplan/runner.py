"""asyncio adapter of the dialplans: one escalation machine per open alarm.

The runner feeds the machines what happens to alarms (taken from the event
bus), owns their single timer each, and carries their actions out: offers go to
the consoles, every timeline note lands in the alarm's timeline, managers are
reached by webhook or by a SIP call. A step whose channel is missing or fails
is fed back to the machine as a failure, so the plan moves on and the timeline
says why: escalation never fails silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from gateway.alarm.events import Accepted, AlarmEvent, ListenStarted, Noted, Offered
from gateway.alarm.machine import AlarmProtocolError
from gateway.alarm.types import AlarmState, AlarmType, Outcome
from gateway.api.schemas import alarm_message
from gateway.bus import Message
from gateway.dialplan.actions import (
    CallbackPhone,
    CancelOffer,
    EscalateToSupervisor,
    EscalationAction,
    ForwardToBackup,
    NotifyManager,
    Offer,
    StartNoResponseProcedure,
    TimelineNote,
)
from gateway.dialplan.errors import DialplanError
from gateway.dialplan.evaluate import AlarmContext
from gateway.dialplan.events import (
    AlarmClosed,
    BackupAccepted,
    BackupFailed,
    CallbackFailed,
    CallDropped,
    Channel,
    CueDetected,
    EscalationEvent,
    ManagerAcknowledged,
    ManagerFailed,
    OperatorAccepted,
    OperatorDeclined,
    OperatorReleased,
    OutcomeRecorded,
    VoiceActivity,
    VoiceConnected,
)
from gateway.dialplan.library import DialplanLibrary
from gateway.dialplan.machine import EscalationMachine
from gateway.journal import Journal
from gateway.store.errors import NotFound, StoreError
from gateway.store.records import AlarmRecord

log = logging.getLogger("gateway.dialplan")


class VoiceActions(Protocol):
    """What the voice channel does for the dialplans (implemented over the SIP workers)."""

    async def callback_phone(self, alarm_id: str) -> None:
        """Call the alarm's phone back with auto-answer headers; raise if it cannot."""

    async def call_manager(
        self, alarm_id: str, uri: str, message: str, ack_digit: str, ack_timeout: float
    ) -> bool:
        """Speak ``message`` to ``uri``; True once the callee pressed ``ack_digit``
        within ``ack_timeout`` seconds."""

    async def ring_station(self, alarm_id: str, uri: str, ring_timeout: float) -> str:
        """Ring an operator's SIP station; its call leg id once answered."""

    async def hang_up(self, call_id: str) -> None:
        """End a call leg (a station that answered too late)."""


class BackupForwarder(Protocol):
    async def forward(self, alarm_id: str, receiver: str) -> None:
        """Send the alarm to the named backup centre; return once it acknowledged, else raise."""


class ManagerWebhook(Protocol):
    async def notify(self, alarm_id: str, action: NotifyManager) -> None:
        """POST the message to ``action.address``; raise if not answered 2xx."""


DEFAULT_TENANT = "default"
"""Tenant of alarms from devices registered without one."""


class DialplanRunner:
    """Drives every open alarm's escalation machine."""

    def __init__(
        self,
        library: DialplanLibrary,
        journal: Journal,
        *,
        voice: VoiceActions | None = None,
        webhook: ManagerWebhook | None = None,
        backups: BackupForwarder | None = None,
        hears_voice: bool = True,
    ) -> None:
        """``hears_voice``: speech analysis reports the agent's words (transcripts), so
        the plans' no-response timers can tell silence from talk."""
        self._library = library
        self._hears_voice = hears_voice
        self._journal = journal
        self._store = journal.store
        self._bus = journal.bus
        self._wall = journal.clock
        self._voice = voice
        self._webhook = webhook
        self._backups = backups
        self._machines: dict[str, EscalationMachine] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        # (alarm id, input); None means "the machine's timer fired"
        self._inbox: asyncio.Queue[tuple[str, EscalationEvent | Message | None]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ringing: dict[tuple[str, str], asyncio.Task[None]] = {}
        """(alarm id, station URI) -> the task ringing that SIP station."""
        self._rotation = 0

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._bus.add_listener(self._on_bus)
        self._bus.add_remote_listener(self._on_remote)
        self._worker = asyncio.create_task(self._work(), name="dialplan-runner")

    async def stop(self) -> None:
        self._bus.remove_listener(self._on_bus)
        self._bus.remove_remote_listener(self._on_remote)
        for timer in self._timers.values():
            timer.cancel()
        tasks = [t for t in (self._worker, *self._tasks, *self._ringing.values()) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def adopt(self, alarm_ids: Sequence[str]) -> None:
        """Run the escalation of alarms this instance now owns (after a restart or a take-over).

        Each machine is rebuilt from the alarm's stored timeline at the times it
        happened, so a time-out that fell due meanwhile fires at once.
        """
        for alarm_id in alarm_ids:
            if alarm_id in self._machines:
                continue
            alarm = await self._store.get_alarm(alarm_id)
            if alarm is None or alarm.state is AlarmState.CLOSED or not alarm.timeline:
                continue
            self._machines[alarm_id] = self._replay(alarm)
            self._arm(alarm_id)

    def _replay(self, alarm: AlarmRecord) -> EscalationMachine:
        """The machine as it stood after the alarm's last entry; past actions are not redone."""
        loop_now, wall_now = asyncio.get_running_loop().time(), self._wall()

        def when(at: datetime) -> float:
            return loop_now - (wall_now - at).total_seconds()

        described = {**alarm_message(alarm)["alarm"], "state": AlarmState.RECEIVED.value}
        machine = EscalationMachine(
            self._library.current,
            self._context(alarm.id, described),
            now=when(alarm.received_at),
            wall=alarm.received_at,
            hears_voice=self._hears_voice,
        )
        for entry in alarm.timeline[1:]:
            now = when(entry.at)
            while (deadline := machine.next_deadline()) is not None and deadline <= now:
                machine.handle_timeout(deadline)
            event = _translate(entry.kind, entry.data, entry.actor)
            with contextlib.suppress(DialplanError):
                if event is not None:
                    machine.handle(event, now)
        return machine

    def backlog(self) -> int:
        """Inputs waiting; it grows when the gateway is slower than what arrives."""
        return self._inbox.qsize()

    def machine(self, alarm_id: str) -> EscalationMachine | None:
        return self._machines.get(alarm_id)

    def feed(self, alarm_id: str, event: EscalationEvent) -> None:
        """Give an alarm's machine an event from outside the bus (voice, speech, managers)."""
        self._inbox.put_nowait((alarm_id, event))

    # --- inputs ------------------------------------------------------------------------

    def _on_bus(self, message: Message) -> None:
        if message.get("type") == "alarm":
            self._inbox.put_nowait((str(message["alarm"]["id"]), message))

    def _on_remote(self, message: Message) -> None:
        """What another instance did to an alarm this one escalates (an operator there
        accepted it); an alarm raised there is escalated there."""
        entry = message.get("entry") or {}
        if message.get("type") == "alarm" and entry.get("kind") != "raised":
            self._inbox.put_nowait((str(message["alarm"]["id"]), message))

    async def _work(self) -> None:
        """One input at a time, in arrival order: a machine never sees two at once."""
        while True:
            alarm_id, item = await self._inbox.get()
            try:
                if item is None:
                    await self._timeout(alarm_id)
                elif isinstance(item, EscalationEvent):
                    await self._handle(alarm_id, item)
                else:
                    await self._on_alarm_message(alarm_id, item)
            except Exception:  # one bad input must not stop every alarm's escalation
                log.exception("dialplan input failed", extra={"alarm_id": alarm_id})

    async def _on_alarm_message(self, alarm_id: str, message: Message) -> None:
        entry: Mapping[str, Any] = message.get("entry") or {}
        kind = entry.get("kind")
        data: Mapping[str, Any] = entry.get("data") or {}
        if kind == "raised":
            await self._open(alarm_id, message["alarm"])
            return
        event = _translate(kind, data, entry.get("actor", ""))
        if event is not None:
            await self._handle(alarm_id, event)
        if kind == "closed":
            await self._handle(alarm_id, AlarmClosed())

    async def _open(self, alarm_id: str, alarm: Mapping[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        machine = EscalationMachine(
            self._library.current,
            self._context(alarm_id, alarm),
            now=loop.time(),
            wall=self._wall(),
            hears_voice=self._hears_voice,
        )
        self._machines[alarm_id] = machine
        await self._carry_out(alarm_id, machine.initial_actions)
        self._arm(alarm_id)

    def _context(self, alarm_id: str, alarm: Mapping[str, Any]) -> AlarmContext:
        """What the plans route on, from the alarm as the live messages describe it."""
        self._rotation += 1
        return AlarmContext(
            alarm_id=alarm_id,
            tenant=str(alarm.get("tenant") or DEFAULT_TENANT),
            site=alarm.get("site"),
            agent_group=alarm.get("agent_group"),
            alarm_type=AlarmType(alarm["type"]),
            agent=str(alarm["device_id"]),
            state=AlarmState(alarm["state"]),
            pilot=bool(alarm.get("pilot", False)),
            rotation=self._rotation,
        )

    async def _handle(self, alarm_id: str, event: EscalationEvent) -> None:
        machine = self._machines.get(alarm_id)
        if machine is None:
            return
        try:
            actions = machine.handle(event, asyncio.get_running_loop().time())
        except DialplanError as exc:
            log.info(
                "dialplan ignored %s: %s", type(event).__name__, exc, extra={"alarm_id": alarm_id}
            )
            return
        await self._carry_out(alarm_id, actions)
        self._arm(alarm_id)

    async def _timeout(self, alarm_id: str) -> None:
        machine = self._machines.get(alarm_id)
        if machine is None:
            return
        await self._carry_out(alarm_id, machine.handle_timeout(asyncio.get_running_loop().time()))
        self._arm(alarm_id)

    def _arm(self, alarm_id: str) -> None:
        """Re-arm the machine's single timer, or drop a finished machine."""
        timer = self._timers.pop(alarm_id, None)
        if timer is not None:
            timer.cancel()
        machine = self._machines.get(alarm_id)
        if machine is None:
            return
        if machine.finished:
            del self._machines[alarm_id]
            return
        deadline = machine.next_deadline()
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timers[alarm_id] = loop.call_at(
                deadline, lambda: self._inbox.put_nowait((alarm_id, None))
            )

    # --- actions -----------------------------------------------------------------------

    async def _carry_out(self, alarm_id: str, actions: Sequence[EscalationAction]) -> None:
        notes: list[AlarmEvent] = []
        offers: list[Offer] = []
        alerts: list[Message] = []
        for action in actions:
            if isinstance(action, TimelineNote):
                text = f"{action.text}: {action.reason}"
                notes.append(Noted(f"dialplan.{action.kind.value}", text))
            elif isinstance(action, Offer):
                offers.append(action)
            elif isinstance(action, CancelOffer):
                for member in action.members:
                    ringing = self._ringing.pop((alarm_id, member), None)
                    if ringing is not None:
                        ringing.cancel()
                self._bus.publish(
                    {
                        "type": "offer_cancelled",
                        "alarm_id": alarm_id,
                        "group": action.group,
                        "members": list(action.members),
                    }
                )
            elif isinstance(action, EscalateToSupervisor | StartNoResponseProcedure):
                kind = "supervisor" if isinstance(action, EscalateToSupervisor) else "no_response"
                log.warning("%s alert: %s", kind, action.reason, extra={"alarm_id": alarm_id})
                alerts.append(
                    {"type": "alert", "alarm_id": alarm_id, "alert": kind, "reason": action.reason}
                )
            else:
                self._spawn(self._reach(alarm_id, action))
        await self._record(alarm_id, notes, [Offered(offer.group) for offer in offers])
        for alert in alerts:  # after the notes saying why are stored: the card can show them
            self._bus.publish(alert)
        for offer in offers:
            for station in (m for m in offer.members if m.startswith(("sip:", "sips:"))):
                if (alarm_id, station) not in self._ringing:
                    self._ringing[(alarm_id, station)] = asyncio.create_task(
                        self._ring(alarm_id, station)
                    )
            self._bus.publish(
                {
                    "type": "offer",
                    "alarm_id": alarm_id,
                    "group": offer.group,
                    "members": list(offer.members),
                    "mode": offer.mode.value,
                }
            )

    async def _record(
        self, alarm_id: str, notes: list[AlarmEvent], offered: list[AlarmEvent]
    ) -> None:
        """The steps in the alarm's timeline, in one transaction, shown on the consoles.

        The alarm may have been taken meanwhile: then it is no longer "offered",
        and only the notes are stored.
        """
        if not notes and not offered:
            return
        try:
            await self._journal.record_all(alarm_id, [*notes, *offered], "dialplan")
        except (AlarmProtocolError, NotFound, StoreError):
            await self._journal.try_record_all(alarm_id, notes, "dialplan")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reach(self, alarm_id: str, action: EscalationAction) -> None:
        """Steps that go through a channel; their failure goes back to the machine."""
        if isinstance(action, CallbackPhone):
            try:
                if self._voice is None:
                    raise RuntimeError("no SIP voice channel is configured")
                await self._voice.callback_phone(alarm_id)
            except Exception as exc:
                self.feed(alarm_id, CallbackFailed(action.attempt, str(exc)))
        elif isinstance(action, ForwardToBackup):
            await self._forward(alarm_id, action)
        elif isinstance(action, NotifyManager):
            await self._notify(alarm_id, action)

    async def _ring(self, alarm_id: str, station: str) -> None:
        """Offer to a SIP station: ring it; answering takes the alarm (the station listens)."""
        try:
            await self._ring_once(alarm_id, station)
        finally:
            self._ringing.pop((alarm_id, station), None)

    async def _ring_once(self, alarm_id: str, station: str) -> None:
        try:
            if self._voice is None:
                raise RuntimeError("no SIP voice channel is configured")
            leg = await self._voice.ring_station(alarm_id, station, STATION_RING_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.feed(alarm_id, OperatorDeclined(station, str(exc)))
            return
        try:
            await self._journal.record_all(
                alarm_id, [Accepted(station), ListenStarted(station, "sip")], station
            )
        except (AlarmProtocolError, NotFound, StoreError) as exc:  # taken meanwhile
            log.info("station answered too late: %s", exc, extra={"alarm_id": alarm_id})
            await self._voice.hang_up(leg)

    async def _forward(self, alarm_id: str, action: ForwardToBackup) -> None:
        try:
            if action.dc09_receiver is None:
                raise RuntimeError("forwarding over a SIP trunk is not available on this gateway")
            if self._backups is None:
                raise RuntimeError("no backup DC-09 receiver is configured on this gateway")
            await self._backups.forward(alarm_id, action.dc09_receiver)
        except Exception as exc:
            self.feed(alarm_id, BackupFailed(action.centre, str(exc)))
            return
        self.feed(alarm_id, BackupAccepted(action.centre))

    async def _notify(self, alarm_id: str, action: NotifyManager) -> None:
        try:
            if action.channel is Channel.WEBHOOK:
                if self._webhook is None:
                    raise RuntimeError("no manager webhook sender is configured")
                await self._webhook.notify(alarm_id, action)
                return  # informed; acknowledgement comes back through the API
            if self._voice is None:
                raise RuntimeError("no SIP voice channel is configured")
            acknowledged = await self._voice.call_manager(
                alarm_id, action.address, action.message, action.ack_digit, action.ack_timeout
            )
            if not acknowledged:
                raise RuntimeError("the call ended without acknowledgement")
        except Exception as exc:
            self.feed(
                alarm_id, ManagerFailed(action.trigger, action.contact, action.channel, str(exc))
            )
            return
        self.feed(alarm_id, ManagerAcknowledged(action.trigger, action.contact))


STATION_RING_S = 120.0
"""A station rings until the dialplan withdraws its offer, at most this long."""

DISPATCH_TARGETS = frozenset({"police", "samu", "fire", "112"})


def _translate(kind: Any, data: Mapping[str, Any], actor: str) -> EscalationEvent | None:
    """The dialplan event matching an alarm timeline entry, if it concerns the plan."""
    if kind == "accepted":
        return OperatorAccepted(str(data.get("operator", actor)))
    if kind == "released":
        return OperatorReleased(str(data.get("operator", actor)), str(data.get("reason", "")))
    if kind == "voice_connected":
        return VoiceConnected()
    if kind == "transcribed":  # the caller's words: the agent answers, silence starts over
        return VoiceActivity()
    if kind == "voice_lost":
        return CallDropped(str(data.get("reason", "call ended")))
    if kind == "escalated" and data.get("target") in DISPATCH_TARGETS:
        return OutcomeRecorded(Outcome.INTERVENTION_DISPATCHED)
    if kind == "closed" and "outcome" in data:
        return OutcomeRecorded(Outcome(data["outcome"]))
    if kind == "noted" and str(data.get("kind", "")).startswith("cue."):
        return CueDetected(str(data["kind"])[4:], str(data.get("text", "")))
    return None
