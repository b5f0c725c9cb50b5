"""Signal stage: VAD, speech-to-text and acoustic cues, run inside worker processes.

``CallProcessor`` is the per-call signal chain (PCM in, ``SignalEvent`` out) and
runs anywhere; ``run_worker`` is the entry point of a worker process, which
loads models once and serves many calls. The asyncio side lives in
``service.py``; the messages between them are the dataclasses below.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import numpy as np

from gateway.speech.audio import MODEL_RATE, Samples, Upsampler, check_rate, pcm_to_float
from gateway.speech.cues import AcousticCueDetector, CueConfig
from gateway.speech.errors import ModelError
from gateway.speech.events import AnalysisDegraded, AudioProgress, SignalEvent
from gateway.speech.stt import (
    VOSK_HINT,
    WHISPER_HINT,
    Boundary,
    SttKind,
    TranscriptStream,
    VoskStream,
    WhisperOptions,
    WhisperStream,
    embedded_whisper_path,
    load_vosk,
    load_whisper,
    whisper_is_multilingual,
)
from gateway.speech.vad import (
    SegmenterConfig,
    UtteranceSegmenter,
    VadKind,
    VoiceDetector,
    make_vad,
)

log = logging.getLogger("gateway.speech")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """What a worker runs. Picklable: it is sent to worker processes."""

    stt: SttKind = SttKind.WHISPER
    vad: VadKind = VadKind.SILERO
    whisper_models: Mapping[str, Path] = field(default_factory=dict)
    """Language -> CTranslate2 Whisper directory; "en" defaults to the built-in tiny.en."""
    vosk_models: Mapping[str, Path] = field(default_factory=dict)
    """Language -> Vosk model directory."""
    preload: tuple[str, ...] = ("en",)
    """Languages whose models load when the worker starts rather than at the first call."""
    whisper: WhisperOptions = field(default_factory=WhisperOptions)
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    cues: CueConfig = field(default_factory=CueConfig)
    progress_interval_s: float = 0.5
    cpu_threads: int = 1


class ModelCache:
    """Models of one process, each loaded once and shared by all its calls."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._models: dict[tuple[SttKind, Path], Any] = {}

    def model_path(self, language: str) -> Path:
        """The configured model directory for ``language``, or ModelError."""
        cfg = self.config
        table = cfg.whisper_models if cfg.stt is SttKind.WHISPER else cfg.vosk_models
        if language in table:
            return table[language]
        if cfg.stt is SttKind.WHISPER and language == "en":
            return embedded_whisper_path()
        raise ModelError(
            None,
            f"no {cfg.stt.value} model is configured for language {language!r}",
            WHISPER_HINT if cfg.stt is SttKind.WHISPER else VOSK_HINT,
        )

    def stream(self, language: str) -> TranscriptStream:
        """A new recogniser for one call in ``language``."""
        cfg = self.config
        path = self.model_path(language)
        key = (cfg.stt, path)
        if key not in self._models:
            if cfg.stt is SttKind.WHISPER:
                self._models[key] = load_whisper(path, cfg.cpu_threads)
            else:
                self._models[key] = load_vosk(path)
        model = self._models[key]
        if cfg.stt is SttKind.VOSK:
            return VoskStream(model)
        if language != "en" and not whisper_is_multilingual(model):
            raise ModelError(
                path,
                f"is an English-only Whisper model and cannot transcribe {language!r}",
                WHISPER_HINT,
            )
        return WhisperStream(model, language, cfg.whisper)


class CallProcessor:
    """The signal chain of one call: PCM -> 16 kHz -> VAD windows -> STT and cues."""

    def __init__(
        self,
        sample_rate: int,
        vad: VoiceDetector,
        stream: TranscriptStream | None,
        config: EngineConfig,
    ) -> None:
        self.sample_rate = check_rate(sample_rate)
        self._vad = vad
        self._stream = stream
        self._config = config
        self._segmenter = UtteranceSegmenter(vad.window_s, config.segmenter)
        self._cues = AcousticCueDetector(config.cues)
        self._upsampler = Upsampler()
        self._window = round(vad.window_s * MODEL_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._offset = 0  # samples at 16 kHz handed to the VAD so far
        self._next_progress = 0.0

    @property
    def offset(self) -> float:
        return self._offset / MODEL_RATE

    def allow_partials(self, allowed: bool) -> None:
        """Turn partial transcripts off while the worker catches up, back on after."""
        if self._stream is not None:
            self._stream.partials_allowed = allowed

    def feed(self, pcm: bytes) -> list[SignalEvent]:
        """Consume one chunk of s16le PCM at the call's rate."""
        samples = pcm_to_float(pcm)
        if self.sample_rate != MODEL_RATE:
            samples = self._upsampler.process(samples)
        data = np.concatenate((self._pending, samples))
        whole = data.size - data.size % self._window
        self._pending = data[whole:]
        return self._windows(data[:whole])

    def finish(self) -> list[SignalEvent]:
        """End of call: flush the recogniser and report the final position."""
        events: list[SignalEvent] = []
        if self._stream is not None:
            events.extend(self._stream.finish())
        events.append(self._progress())
        return events

    def _windows(self, data: Samples) -> list[SignalEvent]:
        events: list[SignalEvent] = []
        boundaries: list[Boundary] = []
        threshold = self._config.segmenter.threshold
        for first in range(0, data.size, self._window):
            window = data[first : first + self._window]
            at = self.offset
            probability = self._vad.process(window)[0]
            boundary = self._segmenter.push(probability, at)
            if boundary is not None:
                boundaries.append(boundary)
            events.extend(self._cues.process(window, at, probability >= threshold))
            self._offset += window.size
        if self._stream is not None and data.size:
            events.extend(self._stream.accept(data, boundaries, self._segmenter.in_utterance))
        if self.offset >= self._next_progress:
            self._next_progress = self.offset + self._config.progress_interval_s
            events.append(self._progress())
        return events

    def _progress(self) -> AudioProgress:
        return AudioProgress(
            round(self.offset, 3), self._segmenter.voice_end, self._segmenter.in_utterance
        )


# --- process protocol -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenCall:
    call_id: str
    language: str
    sample_rate: int


@dataclass(frozen=True, slots=True)
class CallAudio:
    call_id: str
    pcm: bytes


@dataclass(frozen=True, slots=True)
class CloseCall:
    call_id: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


@dataclass(frozen=True, slots=True)
class WorkerReady:
    warnings: tuple[str, ...]
    """Models that failed to preload; calls needing them go on without transcripts."""


@dataclass(frozen=True, slots=True)
class CallEvents:
    call_id: str
    events: tuple[SignalEvent, ...]


@dataclass(frozen=True, slots=True)
class CallClosed:
    call_id: str


Command = OpenCall | CallAudio | CloseCall | Shutdown
Reply = WorkerReady | CallEvents | CallClosed


class CallWorker:
    """What one worker process holds: its models and its calls; handles one command at a time."""

    def __init__(self, config: EngineConfig, outbox: Connection) -> None:
        self.cache = ModelCache(config)
        self.config = config
        self.outbox = outbox
        self.calls: dict[str, CallProcessor | None] = {}
        self.behind = False
        """Set by the process loop when audio queues up; partials pause until it clears."""

    def preload(self) -> tuple[str, ...]:
        warnings = []
        make_vad(self.config.vad)
        for language in self.config.preload:
            try:
                self.cache.stream(language)
            except ModelError as exc:
                warnings.append(str(exc))
        return tuple(warnings)

    def handle(self, command: Command) -> None:
        if isinstance(command, OpenCall):
            self._open(command)
        elif isinstance(command, CallAudio):
            self._run(command.call_id, lambda p: self._feed(p, command.pcm))
        elif isinstance(command, CloseCall):
            self._run(command.call_id, CallProcessor.finish)
            self.calls.pop(command.call_id, None)
            self.outbox.send(CallClosed(command.call_id))

    def _feed(self, processor: CallProcessor, pcm: bytes) -> list[SignalEvent]:
        processor.allow_partials(not self.behind)
        return processor.feed(pcm)

    def _open(self, command: OpenCall) -> None:
        events: list[SignalEvent] = []
        stream: TranscriptStream | None = None
        try:
            stream = self.cache.stream(command.language)
        except ModelError as exc:
            events.append(AnalysisDegraded("stt", f"no transcripts for this call: {exc}"))
        try:
            vad = make_vad(self.config.vad)
            self.calls[command.call_id] = CallProcessor(
                command.sample_rate, vad, stream, self.config
            )
        except Exception as exc:  # any failure must stay confined to this call
            self.calls[command.call_id] = None
            events.append(AnalysisDegraded("worker", f"speech analysis failed to start: {exc}"))
        if events:
            self.outbox.send(CallEvents(command.call_id, tuple(events)))

    def _run(self, call_id: str, step: Callable[[CallProcessor], list[SignalEvent]]) -> None:
        processor = self.calls.get(call_id)
        if processor is None:
            return
        try:
            events = step(processor)
        except Exception as exc:  # one call's failure must not stop the others
            log.exception("speech analysis failed", extra={"call_id": call_id})
            self.calls[call_id] = None
            message = f"speech analysis stopped for this call: {exc!r}"
            events = [AnalysisDegraded("worker", message)]
        if events:
            self.outbox.send(CallEvents(call_id, tuple(events)))


def run_worker(config: EngineConfig, inbox: Queue[Command], outbox: Connection) -> None:
    """Entry point of a worker process: preload models, then serve commands until Shutdown."""
    worker = CallWorker(config, outbox)
    outbox.send(WorkerReady(worker.preload()))
    parent = multiprocessing.parent_process()
    while True:
        try:
            command = inbox.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                break  # the gateway was killed: do not linger as an orphan
            continue
        if isinstance(command, Shutdown):
            break
        worker.behind = _queued(inbox) > BEHIND_FRAMES_PER_CALL * max(1, len(worker.calls))
        worker.handle(command)
    outbox.close()


PARENT_CHECK_S = 1.0
"""How often an idle worker checks that the gateway process still exists."""

BEHIND_FRAMES_PER_CALL = 25
"""Half a second of 20 ms frames waiting per call means the worker is falling behind."""


def _queued(inbox: Queue[Command]) -> int:
    try:
        return inbox.qsize()
    except NotImplementedError:  # macOS has no sem_getvalue
        return 0
