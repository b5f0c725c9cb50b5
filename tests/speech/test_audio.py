"""PCM conversion, resampling, levels and pitch."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.speech import synth
from gateway.speech.audio import Upsampler, check_rate, dbfs, estimate_pitch, pcm_to_float
from gateway.speech.errors import AudioFormatError


def test_pcm_round_trip_and_odd_length_refused() -> None:
    samples = np.array([0.0, 0.5, -0.5, -1.0], dtype=np.float32)
    assert pcm_to_float(synth.to_pcm(samples)).tolist() == [0.0, 0.5, -0.5, -1.0]
    with pytest.raises(AudioFormatError) as info:
        pcm_to_float(b"\x00\x01\x02")
    assert str(info.value) == "PCM chunk of 3 bytes is not whole 16-bit samples"


def test_only_telephone_rates_are_accepted() -> None:
    assert check_rate(8000) == 8000
    with pytest.raises(AudioFormatError) as info:
        check_rate(44100)
    assert str(info.value) == "sample rate 44100 Hz is not supported: expected 8000 or 16000"


def test_upsampler_is_continuous_across_chunks() -> None:
    ramp = np.arange(8, dtype=np.float32)
    whole = Upsampler().process(ramp)
    up = Upsampler()
    split = np.concatenate((up.process(ramp[:3]), up.process(ramp[3:])))
    assert split.tolist() == whole.tolist()
    assert whole[2:6].tolist() == [0.5, 1.0, 1.5, 2.0]


def test_dbfs_of_full_scale_sine_and_silence() -> None:
    assert dbfs(synth.tone([1000], 1.0, 16000, 0.0)) == pytest.approx(0.0, abs=0.05)
    assert dbfs(synth.silence(0.1, 16000)) == -120.0


@pytest.mark.parametrize("f0", [110.0, 220.0, 440.0, 800.0])
def test_pitch_of_harmonic_tone(f0: float) -> None:
    t = np.arange(512) / 16000
    harmonics = np.stack([np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)])
    voiced = harmonics.sum(axis=0).astype(np.float32)
    pitch, strength = estimate_pitch(voiced, 16000)
    assert pitch == pytest.approx(f0, rel=0.03)
    assert strength > 0.9


def test_noise_and_hum_are_not_voiced() -> None:
    assert estimate_pitch(synth.white_noise(0.032, 16000), 16000)[1] < 0.5
    assert estimate_pitch(synth.hum(0.032, 16000), 16000)[1] < 0.5
