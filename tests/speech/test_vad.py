"""Utterance segmentation (pure) and the two detectors on line sounds and speech."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from gateway.speech import synth
from gateway.speech.audio import MODEL_RATE, Samples
from gateway.speech.errors import ModelError
from gateway.speech.vad import (
    SegmenterConfig,
    SileroVad,
    UtteranceEnded,
    UtteranceSegmenter,
    UtteranceStarted,
    VadKind,
    VoiceDetector,
    WebRtcVad,
    make_vad,
)

WINDOW = 0.1  # seconds per probability in the segmenter tests: easy arithmetic


def segment(
    probabilities: Sequence[float], config: SegmenterConfig | None = None
) -> list[UtteranceStarted | UtteranceEnded]:
    segmenter = UtteranceSegmenter(WINDOW, config or SegmenterConfig(min_speech_s=0.2))
    events = []
    for index, probability in enumerate(probabilities):
        event = segmenter.push(probability, round(index * WINDOW, 3))
        if event is not None:
            events.append(event)
    return events


def test_short_blip_opens_no_utterance() -> None:
    assert segment([0, 1, 0, 0, 0, 0, 0]) == []


def test_utterance_starts_after_min_speech_and_ends_after_hangover() -> None:
    events = segment([0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert events == [UtteranceStarted(0.1), UtteranceEnded(0.1, 0.4, forced=False)]


def test_pause_shorter_than_hangover_stays_inside_the_utterance() -> None:
    events = segment([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0])
    assert events == [UtteranceStarted(0.0), UtteranceEnded(0.0, 0.6, forced=False)]


def test_long_speech_is_cut_and_continues() -> None:
    config = SegmenterConfig(min_speech_s=0.2, max_utterance_s=1.0)
    events = segment([1] * 25 + [0] * 6, config)
    assert events == [
        UtteranceStarted(0.0),
        UtteranceEnded(0.0, 1.0, forced=True),
        UtteranceEnded(1.0, 2.0, forced=True),
        UtteranceEnded(2.0, 2.5, forced=False),
    ]


def test_voice_end_tracks_last_speech_window() -> None:
    segmenter = UtteranceSegmenter(WINDOW)
    assert segmenter.voice_end is None
    for index, probability in enumerate([0, 1, 1, 0]):
        segmenter.push(probability, index * WINDOW)
    assert segmenter.voice_end == pytest.approx(0.3)
    assert segmenter.in_utterance


def speech_fraction(detector: VoiceDetector, audio: Samples) -> float:
    probabilities = detector.process(audio)
    return float(np.mean(np.array(probabilities) >= 0.5))


LINE_SOUNDS: dict[str, Callable[[], Samples]] = {
    "silence": lambda: synth.silence(4, MODEL_RATE),
    "white_noise": lambda: synth.white_noise(4, MODEL_RATE, -20),
    "hum_50hz": lambda: synth.hum(4, MODEL_RATE),
    "dtmf": lambda: synth.dtmf("0123456789*#0123", MODEL_RATE),
    "ringback": lambda: synth.ringback(6, MODEL_RATE),
}


@pytest.mark.parametrize("name", sorted(LINE_SOUNDS))
def test_silero_takes_no_line_sound_for_speech(name: str) -> None:
    assert speech_fraction(SileroVad(), LINE_SOUNDS[name]()) == 0.0


@pytest.mark.parametrize("kind", list(VadKind))
def test_both_detectors_find_speech(kind: VadKind) -> None:
    audio = synth.espeak("Help me, I have fallen and I cannot get up", "en", MODEL_RATE)
    assert speech_fraction(make_vad(kind), audio) > 0.6


def test_detectors_accept_any_chunking() -> None:
    audio = synth.espeak("au secours", "fr", MODEL_RATE)
    whole = SileroVad().process(audio)
    chunked_vad = SileroVad()
    chunked = [
        p for i in range(0, audio.size, 320) for p in chunked_vad.process(audio[i : i + 320])
    ]
    assert chunked == pytest.approx(whole, abs=1e-4)


def test_missing_silero_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="Silero VAD model not found"):
        SileroVad(tmp_path / "nope.onnx")


def test_webrtc_aggressiveness_is_checked() -> None:
    with pytest.raises(ValueError, match="aggressiveness: expected 0 to 3, got 5"):
        WebRtcVad(5)
