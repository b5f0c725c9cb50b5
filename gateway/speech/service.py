"""asyncio edge of the speech analysis: the worker pool and per-call pipelines.

``SpeechService`` owns worker processes (spawned, so no state of the gateway
process leaks into them), each loading its models once and serving many calls.
``SpeechPipeline`` is one call: ``feed()`` only enqueues (it never blocks the
loop), the worker runs VAD, speech-to-text and acoustic cues, and the replies
come back on the loop where the pure ``CallAnalyzer`` turns them into cues and
assessment changes for the callback.

If a worker or a model fails, the affected calls receive ``AnalysisDegraded``
and carry on without speech analysis; alarms never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from types import TracebackType

from gateway.speech.errors import LexiconError, SpeechError
from gateway.speech.events import (
    AnalysisDegraded,
    Assessment,
    AudioProgress,
    Cue,
    SignalEvent,
    SpeechEvent,
)
from gateway.speech.lexicon import Lexicon, load_lexicon
from gateway.speech.pipeline import AnalyzerConfig, CallAnalyzer
from gateway.speech.worker import (
    CallAudio,
    CallClosed,
    CallEvents,
    CloseCall,
    Command,
    EngineConfig,
    OpenCall,
    Reply,
    Shutdown,
    WorkerReady,
    run_worker,
)

log = logging.getLogger("gateway.speech")

EventCallback = Callable[[SpeechEvent], None]


@dataclass(frozen=True, slots=True)
class SpeechConfig:
    """Everything the speech subsystem needs; built by the gateway's configuration."""

    engine: EngineConfig = field(default_factory=EngineConfig)
    analyzer: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    workers: int = 1
    """Worker processes; each uses about one core while calls speak."""
    lexicon_dir: Path | None = None
    """Directory of ``<language>.yaml`` lexicons; None for the shipped ones."""
    max_backlog_s: float = 10.0
    """Audio waiting for a worker beyond this is reported as degraded analysis."""
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers: expected at least 1, got {self.workers}")


class _WorkerHandle:
    """The gateway side of one worker process."""

    def __init__(self, index: int, config: EngineConfig, loop: asyncio.AbstractEventLoop) -> None:
        context = multiprocessing.get_context("spawn")
        self.index = index
        self.inbox: Queue[Command] = context.Queue()
        receive, send = context.Pipe(duplex=False)
        self.replies: Connection = receive
        self.process: BaseProcess = context.Process(
            target=run_worker,
            args=(config, self.inbox, send),
            name=f"speech-worker-{index}",
            daemon=True,
        )
        self.process.start()
        send.close()  # only the child writes: EOF then means the child is gone
        self.ready: asyncio.Future[WorkerReady] = loop.create_future()
        self.calls: dict[str, SpeechPipeline] = {}
        self.alive = True

    def send(self, command: Command) -> None:
        self.inbox.put_nowait(command)


class SpeechService:
    """Owns the worker pool; open one ``SpeechPipeline`` per call."""

    def __init__(self, config: SpeechConfig | None = None) -> None:
        self.config = config or SpeechConfig()
        self._workers: list[_WorkerHandle] = []
        self._threads: list[threading.Thread] = []
        self._lexicons: dict[str, Lexicon] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._spawned = 0
        self._opened = 0
        self.unavailable_reason: str | None = "speech service is not started"

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers, for health checks and metrics."""
        return [w.process.pid for w in self._workers if w.alive and w.process.pid is not None]

    async def start(self) -> None:
        """Spawn the workers and wait until their models are loaded."""
        self._loop = asyncio.get_running_loop()
        for _ in range(self.config.workers):
            self._spawn()
        try:
            async with asyncio.timeout(self.config.start_timeout_s):
                for worker in list(self._workers):
                    ready = await worker.ready
                    for warning in ready.warnings:
                        log.warning("speech worker %d: %s", worker.index, warning)
        except (TimeoutError, SpeechError) as exc:
            self.unavailable_reason = f"speech workers failed to start: {exc or 'timed out'}"
            log.error(self.unavailable_reason)
            return
        self.unavailable_reason = None

    async def stop(self) -> None:
        """Close every call, stop the workers and wait for them to exit."""
        self.unavailable_reason = "speech service is stopped"
        workers = list(self._workers)
        for worker in workers:
            for pipeline in list(worker.calls.values()):
                pipeline.close()
            if worker.alive:
                worker.send(Shutdown())
                worker.alive = False
        loop = asyncio.get_running_loop()
        for worker in workers:
            await loop.run_in_executor(None, worker.process.join, 5.0)
            if worker.process.is_alive():
                worker.process.kill()
                await loop.run_in_executor(None, worker.process.join, 5.0)
            worker.inbox.close()
            worker.inbox.join_thread()
        for thread in self._threads:
            await loop.run_in_executor(None, thread.join, 5.0)
        self._workers.clear()
        self._threads.clear()

    async def __aenter__(self) -> SpeechService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def open_call(
        self, call_id: str, *, language: str, sample_rate: int, on_event: EventCallback
    ) -> SpeechPipeline:
        """Start analysing one call. Never raises for model or worker trouble:
        the pipeline then reports ``AnalysisDegraded`` and ignores audio."""
        lexicon, problem = self._lexicon(language)
        analyzer = CallAnalyzer(lexicon, self.config.analyzer)
        worker = self._pick_worker()
        # the worker knows the call by a key of its own, so a call reopened before the
        # previous pipeline finished closing never collides with it
        self._opened += 1
        key = f"{call_id}#{self._opened}"
        pipeline = SpeechPipeline(
            call_id,
            key,
            language,
            sample_rate,
            analyzer,
            on_event,
            worker,
            self.config.max_backlog_s,
        )
        if problem is not None:
            pipeline.report(AnalysisDegraded("lexicon", problem))
        if worker is None:
            reason = self.unavailable_reason or "no speech worker is running"
            pipeline.report(AnalysisDegraded("worker", f"no speech analysis: {reason}"))
            return pipeline
        worker.calls[key] = pipeline
        worker.send(OpenCall(key, language, sample_rate))
        return pipeline

    def _lexicon(self, language: str) -> tuple[Lexicon, str | None]:
        if language not in self._lexicons:
            try:
                self._lexicons[language] = load_lexicon(language, self.config.lexicon_dir)
            except LexiconError as exc:
                return Lexicon(language, (), ()), f"no keyword spotting: {exc}"
        return self._lexicons[language], None

    def _pick_worker(self) -> _WorkerHandle | None:
        if not self.available:
            return None
        # a worker still loading models is fine: its commands wait in its queue
        alive = [w for w in self._workers if w.alive]
        return min(alive, key=lambda w: len(w.calls)) if alive else None

    def _spawn(self) -> None:
        assert self._loop is not None
        index, self._spawned = self._spawned, self._spawned + 1
        worker = _WorkerHandle(index, self.config.engine, self._loop)
        self._workers.append(worker)
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(
            target=self._read_replies,
            args=(worker, self._loop),
            daemon=True,
            name=f"speech-replies-{index}",
        )
        thread.start()
        self._threads.append(thread)

    def _read_replies(self, worker: _WorkerHandle, loop: asyncio.AbstractEventLoop) -> None:
        """Thread: hand each reply of one worker to the loop until the worker is gone."""
        while True:
            try:
                reply: Reply = worker.replies.recv()
            except (EOFError, OSError):
                break
            loop.call_soon_threadsafe(self._dispatch, worker, reply)
        worker.replies.close()
        worker.process.join(5.0)  # reap it here, off the loop, so its exit code is known
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(self._lost, worker)

    def _dispatch(self, worker: _WorkerHandle, reply: Reply) -> None:
        if isinstance(reply, WorkerReady):
            if not worker.ready.done():
                worker.ready.set_result(reply)
        elif isinstance(reply, CallEvents):
            pipeline = worker.calls.get(reply.call_id)
            if pipeline is not None:
                pipeline.handle(reply.events)
        elif isinstance(reply, CallClosed):
            pipeline = worker.calls.pop(reply.call_id, None)
            if pipeline is not None:
                pipeline.finished()

    def _lost(self, worker: _WorkerHandle) -> None:
        """A worker exited: its calls lose speech analysis, a new worker takes new calls."""
        crashed = worker.alive
        worker.alive = False
        code = worker.process.exitcode
        if not worker.ready.done():
            worker.ready.set_exception(SpeechError(f"worker exited with code {code} at start"))
        calls, worker.calls = worker.calls, {}
        for pipeline in calls.values():
            message = f"speech worker exited (code {code}); this call goes on without analysis"
            pipeline.report(AnalysisDegraded("worker", message))
            pipeline.finished()
        if worker in self._workers:
            self._workers.remove(worker)
        if crashed and self.available:
            log.error("speech worker %d exited with code %s; starting another", worker.index, code)
            self._spawn()


class SpeechPipeline:
    """One call's analysis; every method is called on the event loop."""

    def __init__(
        self,
        call_id: str,
        key: str,
        language: str,
        sample_rate: int,
        analyzer: CallAnalyzer,
        on_event: EventCallback,
        worker: _WorkerHandle | None,
        max_backlog_s: float,
    ) -> None:
        self.call_id = call_id
        self._key = key
        self.language = language
        self.sample_rate = sample_rate
        self.analyzer = analyzer
        self._on_event = on_event
        self._worker = worker
        self._max_backlog_s = max_backlog_s
        self._fed_s = 0.0
        self._analysed_s = 0.0
        self._backlog_reported = False
        self._closing = False
        self._done = asyncio.Event()
        if worker is None:
            self._done.set()

    @property
    def assessment(self) -> Assessment:
        return self.analyzer.assessment

    @property
    def cues(self) -> tuple[Cue, ...]:
        return tuple(self.analyzer.cues)

    @property
    def backlog_s(self) -> float:
        """Seconds of audio fed but not yet analysed: how far the analysis lags the call."""
        return max(0.0, self._fed_s - self._analysed_s)

    def feed(self, pcm: bytes) -> None:
        """Queue one chunk of the caller's s16le PCM; returns at once."""
        if self._worker is None or self._closing or not self._worker.alive:
            return
        self._fed_s += len(pcm) / (2 * self.sample_rate)
        if self.backlog_s > self._max_backlog_s and not self._backlog_reported:
            self._backlog_reported = True
            message = (
                f"analysis is {self.backlog_s:.0f} s behind the call: the workers are overloaded"
            )
            self.report(AnalysisDegraded("backlog", message))
        self._worker.send(CallAudio(self._key, pcm))

    def close(self) -> None:
        """End of call: the worker flushes the last utterance, then ``wait_closed`` returns."""
        if self._closing:
            return
        self._closing = True
        if self._worker is not None and self._worker.alive:
            self._worker.send(CloseCall(self._key))
        else:
            self._done.set()

    async def wait_closed(self) -> None:
        await self._done.wait()

    def handle(self, events: tuple[SignalEvent, ...]) -> None:
        """Replies from the worker, through the analyzer, to the callback."""
        for event in events:
            if isinstance(event, AudioProgress):
                self._analysed_s = event.offset
            for out in self.analyzer.handle(event):
                self._deliver(out)

    def report(self, event: AnalysisDegraded) -> None:
        self._deliver(event)

    def finished(self) -> None:
        self._done.set()

    def _deliver(self, event: SpeechEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # a faulty consumer must not stop the analysis
            log.exception("speech event callback failed", extra={"call_id": self.call_id})
