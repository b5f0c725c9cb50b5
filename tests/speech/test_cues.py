"""Acoustic cues: impacts and shouting, and no cue from line tones or plain speech."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gateway.speech import synth
from gateway.speech.audio import Samples
from gateway.speech.cues import AcousticCueDetector, CueConfig
from gateway.speech.events import Cue, CueKind

RATE = 16000
CHUNK = 512


def run(samples: Samples, speech: bool = False, config: CueConfig | None = None) -> list[Cue]:
    detector = AcousticCueDetector(config)
    cues = []
    for first in range(0, samples.size - CHUNK + 1, CHUNK):
        cues += detector.process(samples[first : first + CHUNK], first / RATE, speech)
    return cues


def scream(seconds: float, f0: float = 620.0, level_dbfs: float = -3.0) -> Samples:
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 + 30 * np.sin(2 * np.pi * 5 * t)) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    return np.asarray(wave / np.max(np.abs(wave)) * 10 ** (level_dbfs / 20), dtype=np.float32)


def test_impact_after_quiet_is_reported_at_its_onset() -> None:
    audio = np.concatenate(
        (synth.white_noise(1.0, RATE, -50), synth.impact(RATE), synth.silence(1, RATE))
    )
    cues = run(audio)
    assert [c.kind for c in cues] == [CueKind.IMPACT]
    assert cues[0].offset == pytest.approx(1.0, abs=0.01)


def test_impacts_within_refractory_time_count_once() -> None:
    bang = synth.impact(RATE)
    gap = synth.silence(0.5, RATE)
    audio = np.concatenate((synth.silence(1, RATE), bang, gap, bang, synth.silence(3, RATE), bang))
    assert [round(c.offset, 1) for c in run(audio)] == [1.0, 5.1]


LINE_SOUNDS: dict[str, Callable[[], Samples]] = {
    "silence": lambda: synth.silence(3, RATE),
    "white_noise": lambda: synth.white_noise(3, RATE, -15),
    "hum": lambda: synth.hum(3, RATE),
    "dtmf": lambda: np.concatenate((synth.silence(1, RATE), synth.dtmf("0123456789*#", RATE))),
    "ringback_fr": lambda: synth.ringback(8, RATE),
    "ringback_us": lambda: synth.ringback(8, RATE, european=False),
    "speech": lambda: synth.espeak("I am fine, the delivery is done, see you soon", "en", RATE),
}


@pytest.mark.parametrize("name", sorted(LINE_SOUNDS))
@pytest.mark.parametrize("speech_flag", [False, True])
def test_line_sounds_and_calm_speech_give_no_cue(name: str, speech_flag: bool) -> None:
    audio = LINE_SOUNDS[name]()
    # the VAD flag is forced both ways: even audio wrongly taken for speech must not cue
    assert run(audio, speech_flag) == []


def test_loud_high_voice_is_shouting_only_when_voice_is_detected() -> None:
    audio = np.concatenate((synth.silence(0.5, RATE), scream(1.0)))
    cues = run(audio, speech=True)
    assert [c.kind for c in cues] == [CueKind.SHOUTING]
    assert cues[0].offset == pytest.approx(0.5 + CueConfig().shout_min_s, abs=0.07)
    assert "Hz" in cues[0].text
    assert run(audio, speech=False) == []


def test_loud_low_voice_or_quiet_high_voice_is_not_shouting() -> None:
    assert run(scream(1.0, f0=150.0), speech=True) == []
    assert run(scream(1.0, level_dbfs=-30.0), speech=True) == []
