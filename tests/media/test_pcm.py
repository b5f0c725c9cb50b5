"""Resampling fidelity, streaming equivalence, framing and lag search."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.media.pcm import (
    Reframer,
    Resampler,
    best_lag,
    correlation,
    frame_bytes,
    resample,
    to_pcm,
    to_samples,
)


def tone(freq: float, rate: int, seconds: float = 0.5, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return level * np.sin(2 * np.pi * freq * t)


def test_frame_sizes() -> None:
    assert [frame_bytes(r) for r in (8000, 16000, 48000)] == [320, 640, 1920]


def test_pcm_round_trip_and_clipping() -> None:
    pcm = to_pcm(np.array([0.0, 0.5, -1.0, 2.0]))
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 16384, -32768, 32767]
    assert to_samples(pcm)[1] == 0.5


def test_odd_byte_count_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^s16 PCM must have an even number of bytes, got 3$"):
        to_samples(b"abc")


@pytest.mark.parametrize(
    ("src", "dst"), [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 16000)]
)
def test_tone_survives_resampling(src: int, dst: int) -> None:
    out = Resampler(src, dst).process(tone(440, src))
    assert len(out) == len(tone(440, dst))
    lag, corr = best_lag(tone(440, dst), out, 200)
    assert corr > 0.999
    assert lag == 8 * dst // min(src, dst)  # half the filter, at the lower rate


def test_downsampling_removes_what_the_lower_rate_cannot_carry() -> None:
    out = Resampler(16000, 8000).process(tone(5000, 16000))
    assert np.sqrt(np.mean(out[100:] ** 2)) < 0.01  # 5 kHz is above 8 kHz's Nyquist


def test_frame_by_frame_equals_one_piece() -> None:
    signal = tone(300, 8000, 1.0)
    whole = Resampler(8000, 48000).process(signal)
    streaming = Resampler(8000, 48000)
    parts = np.concatenate([streaming.process(signal[i : i + 160]) for i in range(0, 8000, 160)])
    assert np.allclose(whole, parts)


def test_unknown_rate_is_refused() -> None:
    message = r"^sample rate must be one of \(8000, 16000, 48000\), got 44100$"
    with pytest.raises(ValueError, match=message):
        resample(b"", 44100, 8000)


def test_reframer_rechunks_and_resamples() -> None:
    reframer = Reframer(16000)
    assert reframer.push(bytes(500), 16000) == []
    frames = reframer.push(bytes(900), 16000)
    assert [len(f) for f in frames] == [640, 640]
    frames = reframer.push(to_pcm(tone(200, 48000, 0.1)), 48000)
    assert [len(f) for f in frames] == [640] * 5


def test_best_lag_finds_the_delay() -> None:
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(4000)
    received = np.concatenate((np.zeros(123), ref * 0.3))
    lag, corr = best_lag(ref, received, 1000)
    assert lag == 123
    assert corr == pytest.approx(1.0)


def test_correlation_of_unrelated_and_silent_signals() -> None:
    rng = np.random.default_rng(2)
    assert abs(correlation(rng.standard_normal(8000), rng.standard_normal(8000))) < 0.05
    assert correlation(np.zeros(10), np.ones(10)) == 0.0


def test_best_lag_prefers_the_right_shape_over_a_louder_passage() -> None:
    rng = np.random.default_rng(4)
    quiet = rng.standard_normal(800) * 0.01
    loud = rng.standard_normal(800) * 0.9
    received = np.concatenate((loud, np.zeros(200), quiet, np.zeros(500)))
    lag, corr = best_lag(quiet, received, len(received))
    assert lag == 1000
    assert corr == pytest.approx(1.0)


def test_best_lag_aligns_a_recording_cut_short() -> None:
    ref = np.sin(np.arange(1000) / 5) * np.linspace(0, 1, 1000)
    received = np.concatenate((np.zeros(50), ref[:300]))
    lag, corr = best_lag(ref, received, 100)
    assert lag == 50
    assert corr == pytest.approx(1.0)


def test_best_lag_of_silence_is_zero() -> None:
    assert best_lag(np.ones(10), np.zeros(100), 50) == (0, 0.0)
