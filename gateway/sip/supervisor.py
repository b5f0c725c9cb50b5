"""Asyncio side of the voice channel: runs the pjsua2 workers and routes their calls.

Each worker is a fresh ``python -m gateway.sip.worker`` process with its own SIP
port and RTP range. The supervisor pings them, restarts a dead one with
exponential back-off, places outbound calls on a worker with a free slot, and
reports everything to the main process's :class:`~gateway.sip.events.SipHandler`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from gateway.media.pcm import Reframer
from gateway.sip.bridge import LegMode
from gateway.sip.config import MAX_CALLS_PER_WORKER, SipConfig, WorkerSettings
from gateway.sip.errors import CallFailedError, MessageError, NoCapacityError, UnknownCallError
from gateway.sip.events import (
    Answer,
    CallCodecChanged,
    CallConnected,
    CallDecision,
    CallDtmf,
    CallerAudioDropped,
    CallEvent,
    CallFinished,
    CallKind,
    CallMediaLost,
    CallMediaResumed,
    CallRef,
    Reject,
    SipHandler,
    WorkerDied,
    WorkerStarted,
)
from gateway.sip.messages import (
    AnswerCall,
    AnyMessage,
    AudioFrame,
    CallAnswered,
    CallEnded,
    CodecChanged,
    CommandFailed,
    DtmfReceived,
    Hangup,
    IncomingCall,
    MakeCall,
    MediaLost,
    MediaResumed,
    MessageDecoder,
    ModeApplied,
    Ping,
    Pong,
    RejectCall,
    SetMode,
    Shutdown,
    WorkerReady,
    encode,
)
from gateway.sip.sipmsg import auto_answer_headers

log = logging.getLogger("gateway.sip")

WORKER_COMMAND = (sys.executable, "-m", "gateway.sip.worker")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
EXIT_GRACE = 2.0
"""Seconds a worker whose output closed may take to exit before it is killed."""
COMMAND_TIMEOUT = 2.0
PHONE_KINDS = frozenset({CallKind.INCOMING, CallKind.CALLBACK})
"""Calls that take a worker's phone slots; legs and manager calls use the others."""

CallListener = Callable[[CallEvent], None]
"""Receives the events of one call (see :meth:`SipSupervisor.call`); must return quickly."""
AUDIO_BACKLOG = 1024 * 1024
"""Bytes queued to a worker beyond which injected audio is dropped (worker stalled)."""


@dataclass(eq=False)
class _Worker:
    settings: WorkerSettings
    process: asyncio.subprocess.Process | None = None
    sip_port: int = 0
    calls: dict[str, CallRef] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    last_pong: float = 0.0
    failures: int = 0
    frames_dropped: int = 0
    """Caller audio frames the running process reported dropped (its ``Pong``)."""

    @property
    def index(self) -> int:
        return self.settings.index

    @property
    def alive(self) -> bool:
        return self.ready.is_set() and self.process is not None and self.process.returncode is None

    def phones(self) -> int:
        return sum(1 for c in self.calls.values() if c.kind in PHONE_KINDS)

    def send(self, message: AnyMessage) -> None:
        if self.process is None or self.process.stdin is None or self.process.stdin.is_closing():
            return
        stdin = self.process.stdin
        if (
            isinstance(message, AudioFrame)
            and stdin.transport.get_write_buffer_size() > AUDIO_BACKLOG
        ):
            return
        stdin.write(encode(message))


class SipSupervisor:
    """Starts, watches and restarts SIP workers; the main process's handle on voice calls."""

    def __init__(
        self,
        config: SipConfig,
        handler: SipHandler,
        worker_command: Sequence[str] = WORKER_COMMAND,
    ) -> None:
        """``worker_command`` (the settings JSON is appended) lets tests run a fake worker."""
        self.config = config
        self.handler = handler
        self._worker_command = tuple(worker_command)
        self._workers = [_Worker(config.worker_settings(i)) for i in range(config.workers)]
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: dict[str, asyncio.Future[CallRef]] = {}
        self._mode_waiters: dict[str, asyncio.Future[None]] = {}
        self._reframers: dict[str, Reframer] = {}
        self._listeners: dict[str, CallListener] = {}
        self._ids = itertools.count(1)
        self._stopping = False

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until each takes calls."""
        for worker in self._workers:
            self._spawn(self._run(worker))
        async with asyncio.timeout(START_TIMEOUT):
            await asyncio.gather(*(w.ready.wait() for w in self._workers))

    async def stop(self) -> dict[int, int | None]:
        """Hang up every call and stop the workers, killing any that does not exit.

        Returns each worker's exit code by index: 0 means pjsua2 was released cleanly.
        """
        self._stopping = True
        for worker in self._workers:
            worker.send(Shutdown())
            if worker.process is not None and worker.process.stdin is not None:
                worker.process.stdin.close()  # end of input: exit even if deaf to commands
        procs = [w.process for w in self._workers if w.process is not None]
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await asyncio.gather(*(p.wait() for p in procs))
        except TimeoutError:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for proc in procs:
            if proc.returncode is None:
                await proc.wait()
        codes = {w.index: w.process.returncode for w in self._workers if w.process is not None}
        unclean = {index: code for index, code in codes.items() if code != 0}
        if unclean:
            log.warning("SIP workers exited uncleanly: %s", unclean)
        return codes

    def worker_ports(self) -> list[int]:
        """SIP port of each worker (0 while one is restarting), by worker index."""
        return [w.sip_port if w.alive else 0 for w in self._workers]

    def worker_pid(self, index: int) -> int | None:
        process = self._workers[index].process
        return process.pid if process is not None else None

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, worker: _Worker) -> None:
        """Keep one worker running: start, serve, report its death, back off, restart."""
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._serve(worker)
            except (OSError, MessageError):
                log.exception("SIP worker %d failed", worker.index)
            if self._stopping:
                return
            if time.monotonic() - started > 60:
                worker.failures = 0  # it ran fine for a while: restart quickly
            delay = min(
                self.config.restart_backoff * 2**worker.failures, self.config.restart_backoff_max
            )
            worker.failures += 1
            log.warning("SIP worker %d restarting in %.1f s", worker.index, delay)
            await asyncio.sleep(delay)

    async def _serve(self, worker: _Worker) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._worker_command,
            worker.settings.model_dump_json(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker.process = process
        worker.last_pong = time.monotonic()
        worker.frames_dropped = 0
        assert process.stdout is not None
        pinger = asyncio.ensure_future(self._ping(worker, process))
        decoder = MessageDecoder()
        try:
            while data := await process.stdout.read(65536):
                decoder.receive(data)
                for message in decoder.messages():
                    self._on_message(worker, message)
        except MessageError:
            process.kill()  # its output can no longer be trusted nor resynchronised
            raise
        finally:
            pinger.cancel()
            try:  # output closed: the worker is exiting, or dead, or broken
                async with asyncio.timeout(EXIT_GRACE):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
            self._on_death(worker, process)

    async def _ping(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        for nonce in itertools.count(1):
            await asyncio.sleep(self.config.ping_interval)
            if self._stopping:
                return  # a worker shutting down is busy releasing pjsua2
            if not worker.ready.is_set():
                continue
            if time.monotonic() - worker.last_pong > self.config.ping_timeout:
                log.error("SIP worker %d stopped answering pings; killing it", worker.index)
                process.kill()
                return
            worker.send(Ping(nonce))

    def _on_death(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        worker.ready.clear()
        calls = tuple(worker.calls.values())
        worker.calls.clear()
        for ref in calls:
            if ref.call_id in self._listeners:  # a manager call: its owner waits for the end
                self._report(CallFinished(ref, 503, "SIP worker died"))
            self._forget(ref.call_id, CallFailedError(ref.call_id, 503, "SIP worker died"))
        if not self._stopping:
            log.error(
                "SIP worker %d (pid %d) exited with %s; %d calls lost",
                worker.index, process.pid, process.returncode, len(calls),
            )  # fmt: skip
            self._report(WorkerDied(worker.index, process.pid, calls))

    def _forget(self, call_id: str, error: Exception) -> None:
        self._reframers.pop(call_id, None)
        self._listeners.pop(call_id, None)
        waiter = self._waiters.pop(call_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        mode_waiter = self._mode_waiters.pop(call_id, None)
        if mode_waiter is not None and not mode_waiter.done():
            mode_waiter.set_exception(error)

    # --- worker events -------------------------------------------------------------

    def _report(self, event: CallEvent) -> None:
        """Hand an event to main (or to its call's own listener); a failure there must not
        stop the reading of a worker."""
        call: CallRef | None = getattr(event, "call", None)
        listener = None if call is None else self._listeners.get(call.call_id)
        try:
            (self.handler.on_call_event if listener is None else listener)(event)
        except Exception:
            log.exception("call event handler failed on %s", event)

    def _on_message(self, worker: _Worker, message: AnyMessage) -> None:
        if isinstance(message, AudioFrame):
            try:
                self.handler.on_audio(message.call_id, message.pcm, message.rate)
            except Exception:
                log.exception("audio handler failed on call %s", message.call_id)
        elif isinstance(message, Pong):
            worker.last_pong = time.monotonic()
            if message.frames_dropped > worker.frames_dropped:
                dropped = message.frames_dropped - worker.frames_dropped
                worker.frames_dropped = message.frames_dropped
                self._report(CallerAudioDropped(worker.index, dropped))
        elif isinstance(message, IncomingCall):
            worker.calls[message.call_id] = CallRef(
                message.call_id, CallKind.INCOMING, None, worker.index
            )
            self._spawn(self._decide(worker, message))
        elif isinstance(message, CallAnswered):
            ref = worker.calls.get(message.call_id)
            if ref is not None:
                self._report(CallConnected(ref, message.codec))
                waiter = self._waiters.pop(message.call_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(ref)
        elif isinstance(message, CodecChanged):
            ref = worker.calls.get(message.call_id)
            if ref is not None:
                self._report(CallCodecChanged(ref, message.codec))
        elif isinstance(message, MediaLost | MediaResumed):
            ref = worker.calls.get(message.call_id)
            if ref is not None:
                self._report(
                    CallMediaLost(ref, message.silent_for)
                    if isinstance(message, MediaLost)
                    else CallMediaResumed(ref)
                )
        elif isinstance(message, DtmfReceived):
            ref = worker.calls.get(message.call_id)
            if ref is not None:
                self._report(CallDtmf(ref, message.digit))
        elif isinstance(message, CallEnded):
            ref = worker.calls.pop(message.call_id, None)
            if ref is not None:
                owned = ref.call_id in self._listeners  # a manager call's listener
                if owned or (ref.alarm_id is not None and ref.kind is not CallKind.MANAGER):
                    self._report(CallFinished(ref, message.code, message.reason))
                self._forget(
                    message.call_id, CallFailedError(ref.call_id, message.code, message.reason)
                )
        elif isinstance(message, ModeApplied | CommandFailed):
            key = message.leg_id if isinstance(message, ModeApplied) else message.call_id
            mode_waiter = self._mode_waiters.pop(key, None)
            if mode_waiter is not None and not mode_waiter.done():
                if isinstance(message, ModeApplied):
                    mode_waiter.set_result(None)
                else:
                    mode_waiter.set_exception(UnknownCallError(message.reason))
            elif isinstance(message, CommandFailed):
                log.warning("SIP worker %d: %s: %s", worker.index, message.call_id, message.reason)
        elif isinstance(message, WorkerReady):
            worker.sip_port = message.sip_port
            worker.last_pong = time.monotonic()  # start-up may be slow on a busy machine
            worker.ready.set()
            log.info("SIP worker %d ready on port %d", worker.index, message.sip_port)
            self._report(WorkerStarted(worker.index, message.sip_port, message.pid))

    async def _decide(self, worker: _Worker, call: IncomingCall) -> None:
        """Ask the main process; on error or timeout refuse with 503 so the phone retries."""
        decision: CallDecision
        try:
            decision = await asyncio.wait_for(
                self.handler.on_incoming(call), self.config.decision_timeout
            )
        except Exception:
            log.exception("no decision for incoming call %s from %s", call.call_id, call.from_uri)
            decision = Reject(503, "Service Unavailable")
        ref = worker.calls.get(call.call_id)
        if ref is None:
            return  # the phone gave up meanwhile
        if isinstance(decision, Answer):
            worker.calls[call.call_id] = replace(ref, alarm_id=decision.alarm_id)
            worker.send(AnswerCall(call.call_id, decision.alarm_id))
        else:
            worker.send(RejectCall(call.call_id, decision.code, decision.reason, decision.headers))

    # --- commands from the main process -----------------------------------------------

    def _new_id(self, kind: CallKind) -> str:
        return f"{kind.value[:2]}{next(self._ids)}"

    def _free_worker(self) -> _Worker:
        candidates = [
            w
            for w in self._workers
            if w.alive
            and w.phones() < w.settings.phone_slots
            and len(w.calls) < MAX_CALLS_PER_WORKER
        ]
        if not candidates:
            raise NoCapacityError("no SIP worker has a free call slot")
        return min(candidates, key=lambda w: len(w.calls))

    def _find(self, call_id: str) -> tuple[_Worker, CallRef]:
        for worker in self._workers:
            ref = worker.calls.get(call_id)
            if ref is not None:
                return worker, ref
        raise UnknownCallError(call_id)

    async def _place(
        self, worker: _Worker, ref: CallRef, message: MakeCall, ring_timeout: float
    ) -> CallRef:
        waiter: asyncio.Future[CallRef] = asyncio.get_running_loop().create_future()
        self._waiters[ref.call_id] = waiter
        worker.calls[ref.call_id] = ref
        worker.send(message)
        try:
            async with asyncio.timeout(ring_timeout):
                return await waiter
        except TimeoutError:
            worker.send(Hangup(ref.call_id, 487))
            raise CallFailedError(ref.call_id, 408, "no answer") from None
        except asyncio.CancelledError:  # the caller gave up (e.g. an offer withdrawn)
            worker.send(Hangup(ref.call_id, 487))
            raise
        finally:
            self._waiters.pop(ref.call_id, None)

    async def callback(
        self,
        alarm_id: str,
        uri: str,
        attempts: int | None = None,
        ring_timeout: float = 45.0,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> CallRef:
        """Call a phone back with every auto-answer header; retry on failure.

        Raises the last :class:`CallFailedError` (or :class:`NoCapacityError`) when
        every attempt failed.
        """
        tries = attempts or self.config.callback_attempts
        host = self.config.public_host or self.config.bind_address
        headers = (*auto_answer_headers(host), ("X-Alarm-Id", alarm_id), *extra_headers)
        error: Exception = NoCapacityError("no attempt made")
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(self.config.callback_retry_delay)
            try:
                worker = self._free_worker()
                ref = CallRef(
                    self._new_id(CallKind.CALLBACK), CallKind.CALLBACK, alarm_id, worker.index
                )
                return await self._place(
                    worker, ref, MakeCall(ref.call_id, uri, headers), ring_timeout
                )
            except (CallFailedError, NoCapacityError) as exc:
                log.warning(
                    "callback %d/%d for alarm %s failed: %s", attempt + 1, tries, alarm_id, exc
                )
                error = exc
        raise error

    async def call(
        self,
        uri: str,
        listener: CallListener,
        *,
        alarm_id: str | None = None,
        ring_timeout: float = 30.0,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> CallRef:
        """Ring a person (a manager) like any caller would: no auto-answer headers.

        Returns once answered; every event of the call (:class:`CallConnected`,
        :class:`CallDtmf`, :class:`CallFinished`...) then goes to ``listener``, not to
        the :class:`SipHandler`, which deals with phones. ``alarm_id`` only labels the
        call. The call takes none of the phone slots, so it never makes a phone's alarm
        call wait: it uses a slot kept for legs on the least busy worker. Raises
        :class:`CallFailedError` (no answer within ``ring_timeout``: 408, busy, refused,
        unreachable) or :class:`NoCapacityError`.
        """
        candidates = [w for w in self._workers if w.alive and len(w.calls) < MAX_CALLS_PER_WORKER]
        if not candidates:
            raise NoCapacityError("no SIP worker has a free call slot")
        worker = min(candidates, key=lambda w: len(w.calls))
        ref = CallRef(self._new_id(CallKind.MANAGER), CallKind.MANAGER, alarm_id, worker.index)
        self._listeners[ref.call_id] = listener
        message = MakeCall(ref.call_id, uri, headers, phone=False)
        try:
            return await self._place(worker, ref, message, ring_timeout)
        except BaseException:
            self._listeners.pop(ref.call_id, None)
            raise

    async def call_operator(
        self,
        phone_call_id: str,
        station_uri: str,
        mode: LegMode = LegMode.LISTEN,
        ring_timeout: float = 30.0,
        auto_answer: bool = True,
    ) -> CallRef:
        """Call an operator station and join it to the phone call's conference in ``mode``.

        The leg is placed on the phone's worker (a conference lives in one process);
        raises :class:`NoCapacityError` if that worker is full.
        """
        worker, phone = self._find(phone_call_id)
        if phone.kind is CallKind.OPERATOR:
            raise UnknownCallError(f"{phone_call_id} is an operator leg, not a phone call")
        if len(worker.calls) >= MAX_CALLS_PER_WORKER:
            raise NoCapacityError(f"worker {worker.index} of call {phone_call_id} is full")
        ref = CallRef(
            self._new_id(CallKind.OPERATOR),
            CallKind.OPERATOR,
            phone.alarm_id,
            worker.index,
            phone_call_id,
        )
        host = self.config.public_host or self.config.bind_address
        headers = auto_answer_headers(host) if auto_answer else ()
        if phone.alarm_id is not None:
            headers = (*headers, ("X-Alarm-Id", phone.alarm_id))
        message = MakeCall(ref.call_id, station_uri, headers, join=phone_call_id, mode=mode)
        return await self._place(worker, ref, message, ring_timeout)

    async def set_mode(self, leg_call_id: str, mode: LegMode) -> None:
        """Switch an operator leg between listen, whisper and talk; returns once applied."""
        worker, ref = self._find(leg_call_id)
        if ref.phone_id is None:
            raise UnknownCallError(f"{leg_call_id} is not an operator leg")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._mode_waiters[leg_call_id] = waiter
        worker.send(SetMode(ref.phone_id, leg_call_id, mode))
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await waiter
        except TimeoutError:
            raise UnknownCallError(f"worker {worker.index} did not confirm the mode") from None

    async def hangup(self, call_id: str, code: int = 603) -> None:
        """End a call; its :class:`CallFinished` event follows."""
        worker, _ = self._find(call_id)
        worker.send(Hangup(call_id, code))

    def send_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        """Play s16le mono audio (any length, 8/16/48 kHz) to the far end of a call."""
        worker, _ = self._find(call_id)
        reframer = self._reframers.get(call_id)
        if reframer is None:
            reframer = self._reframers[call_id] = Reframer(self.config.tap_rate)
        for frame in reframer.push(pcm, rate):
            worker.send(AudioFrame(call_id, self.config.tap_rate, frame))

    def calls(self) -> list[CallRef]:
        """Every live call on every worker."""
        return [ref for w in self._workers for ref in w.calls.values()]
