"""Voice activity detection behind one streaming interface, and utterance cutting.

Two detectors, both fed 16 kHz float chunks of any length:

* ``SileroVad``: the Silero v6 ONNX model shipped inside faster-whisper, run
  with onnxruntime (no torch). 32 ms windows, speech probability 0..1.
* ``WebRtcVad``: Google's WebRTC GMM detector (``webrtcvad-wheels``). 20 ms
  windows, 0 or 1. Fast, but flags hum, DTMF and low noise as speech.

``UtteranceSegmenter`` turns per-window probabilities into utterance start/end
with a minimum speech duration and a hangover; it is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import numpy as np

from gateway.speech.audio import MODEL_RATE, Samples
from gateway.speech.errors import ModelError


class VadKind(StrEnum):
    SILERO = "silero"
    WEBRTC = "webrtc"


class VoiceDetector(Protocol):
    """Streaming VAD: push audio, get one probability per completed window."""

    window_s: float
    """Duration of one window; probabilities come out one per window."""

    def process(self, samples: Samples) -> list[float]:
        """Consume 16 kHz audio; return probabilities of the windows completed."""
        ...


class _Windowed:
    """Cuts an arbitrary chunk stream into fixed windows."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._pending = np.zeros(0, dtype=np.float32)

    def windows(self, samples: Samples) -> list[Samples]:
        data = np.concatenate((self._pending, samples)) if self._pending.size else samples
        count = data.size // self._window
        self._pending = data[count * self._window :].copy()
        return [data[i * self._window : (i + 1) * self._window] for i in range(count)]


def silero_model_path() -> Path:
    """Where faster-whisper ships the Silero v6 ONNX model."""
    import faster_whisper

    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


class SileroVad:
    """Silero VAD v6 on onnxruntime: 512-sample windows plus 64 samples of context."""

    window_s = 512 / MODEL_RATE
    _CONTEXT = 64

    def __init__(self, model_path: Path | None = None) -> None:
        import onnxruntime

        path = model_path or silero_model_path()
        if not path.is_file():
            raise ModelError(path, "Silero VAD model not found", "Reinstall faster-whisper==1.2.1.")
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"], sess_options=options
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(path, f"does not load ({exc})", "Reinstall faster-whisper.") from None
        self._cut = _Windowed(512)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self._CONTEXT, dtype=np.float32)

    def process(self, samples: Samples) -> list[float]:
        out = []
        for window in self._cut.windows(samples):
            chunk = np.concatenate((self._context, window))[np.newaxis, :]
            prob, self._h, self._c = self._session.run(
                None, {"input": chunk, "h": self._h, "c": self._c}
            )
            self._context = window[-self._CONTEXT :]
            out.append(float(prob[0]))
        return out


class WebRtcVad:
    """WebRTC VAD on 20 ms windows; ``aggressiveness`` 0 (lenient) to 3 (strict)."""

    window_s = 0.02

    def __init__(self, aggressiveness: int = 3) -> None:
        import webrtcvad

        if aggressiveness not in range(4):
            raise ValueError(f"aggressiveness: expected 0 to 3, got {aggressiveness}")
        self._vad = webrtcvad.Vad(aggressiveness)
        self._cut = _Windowed(int(MODEL_RATE * self.window_s))

    def process(self, samples: Samples) -> list[float]:
        out = []
        for window in self._cut.windows(samples):
            pcm = (np.clip(window, -1.0, 1.0 - 1 / 32768) * 32768).astype("<i2").tobytes()
            out.append(1.0 if self._vad.is_speech(pcm, MODEL_RATE) else 0.0)
        return out


def make_vad(kind: VadKind) -> VoiceDetector:
    """Build the configured detector."""
    return SileroVad() if kind is VadKind.SILERO else WebRtcVad()


@dataclass(frozen=True, slots=True)
class UtteranceStarted:
    start: float


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    start: float
    end: float
    forced: bool
    """Cut at ``max_utterance_s`` while speech goes on: the next utterance starts at ``end``."""


@dataclass(frozen=True, slots=True)
class SegmenterConfig:
    threshold: float = 0.5
    min_speech_s: float = 0.1
    """Voice shorter than this (a click, a cough) does not open an utterance."""
    hangover_s: float = 0.4
    """Silence that closes an utterance; shorter pauses stay inside it."""
    max_utterance_s: float = 12.0
    """Long speech is cut so transcripts (and keyword cues) keep flowing."""


class UtteranceSegmenter:
    """Turns per-window speech probabilities into utterance boundaries (pure)."""

    def __init__(self, window_s: float, config: SegmenterConfig | None = None) -> None:
        self.window_s = window_s
        self.config = config or SegmenterConfig()
        self.voice_end: float | None = None
        """End of the last window judged speech."""
        self._run_start: float | None = None
        self._utterance_start: float | None = None

    @property
    def in_utterance(self) -> bool:
        return self._utterance_start is not None

    def push(self, probability: float, offset: float) -> UtteranceStarted | UtteranceEnded | None:
        """One window starting at ``offset``; return a boundary if one was crossed."""
        cfg = self.config
        end = offset + self.window_s
        if probability >= cfg.threshold:
            self.voice_end = end
            if self._run_start is None:
                self._run_start = offset
            if self._utterance_start is None:
                if end - self._run_start >= cfg.min_speech_s:
                    self._utterance_start = self._run_start
                    return UtteranceStarted(self._run_start)
                return None
            if end - self._utterance_start >= cfg.max_utterance_s:
                return self._close(end, forced=True)
            return None
        self._run_start = None
        voice_end = self.voice_end
        if self._utterance_start is None or voice_end is None:
            return None
        return self._close(voice_end, forced=False) if end - voice_end >= cfg.hangover_s else None

    def _close(self, end: float, *, forced: bool) -> UtteranceEnded:
        assert self._utterance_start is not None
        start, self._utterance_start = self._utterance_start, None
        if forced:
            self._run_start = end  # speech goes on: the next utterance starts here
            self._utterance_start = end
        return UtteranceEnded(round(start, 3), round(end, 3), forced)
