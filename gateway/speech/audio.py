"""PCM helpers shared by the signal stages: conversion, resampling, levels, pitch.

Pure numpy; the gateway receives 16-bit signed little-endian mono PCM at 8000 or
16000 Hz and every model here runs at 16000 Hz.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gateway.speech.errors import AudioFormatError

Samples = npt.NDArray[np.float32]
"""Mono audio as float32 in [-1, 1)."""

SUPPORTED_RATES = (8000, 16000)
MODEL_RATE = 16000


def check_rate(sample_rate: int) -> int:
    """Return ``sample_rate`` if the voice channel can deliver it, else raise."""
    if sample_rate not in SUPPORTED_RATES:
        raise AudioFormatError(
            f"sample rate {sample_rate} Hz is not supported: expected 8000 or 16000"
        )
    return sample_rate


def pcm_to_float(pcm: bytes) -> Samples:
    """Decode s16le mono PCM to float32; an odd byte count is refused."""
    if len(pcm) % 2:
        raise AudioFormatError(f"PCM chunk of {len(pcm)} bytes is not whole 16-bit samples")
    return (np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


class Upsampler:
    """Streaming 8 kHz to 16 kHz linear interpolation, continuous across chunks.

    Telephone audio holds nothing above 4 kHz, so linear interpolation loses
    nothing the models use; it costs microseconds per frame.
    """

    def __init__(self) -> None:
        self._last = np.float32(0.0)

    def process(self, samples: Samples) -> Samples:
        if samples.size == 0:
            return samples
        out = np.empty(samples.size * 2, dtype=np.float32)
        previous = np.concatenate(([self._last], samples[:-1]))
        out[0::2] = (previous + samples) / 2
        out[1::2] = samples
        self._last = samples[-1]
        return out


def to_model_rate(samples: Samples, sample_rate: int, upsampler: Upsampler) -> Samples:
    """Bring a chunk to 16 kHz (identity when already there)."""
    return samples if sample_rate == MODEL_RATE else upsampler.process(samples)


def dbfs(samples: Samples) -> float:
    """RMS level in dB relative to full scale; -120 for digital silence."""
    if samples.size == 0:
        return -120.0
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return max(-120.0, 10.0 * float(np.log10(power + 1e-15)) + 3.0103)


def estimate_pitch(
    samples: Samples, sample_rate: int, fmin: float = 75.0, fmax: float = 1000.0
) -> tuple[float, float]:
    """Fundamental frequency (Hz) and voicing strength (0..1) by normalised autocorrelation.

    Strength near 1 means strongly periodic (voice, tones), near 0 means noise.
    """
    lag_min = int(sample_rate / fmax)
    lag_max = min(int(sample_rate / fmin), samples.size - 1)
    if lag_max <= lag_min:
        return 0.0, 0.0
    x = samples.astype(np.float64) - float(np.mean(samples))
    energy = float(np.dot(x, x))
    if energy <= 1e-9:
        return 0.0, 0.0
    spectrum = np.fft.rfft(x, n=2 * x.size)
    lags = np.arange(lag_max + 1)
    # normalise by the overlap so long lags are not penalised
    corr = np.fft.irfft(spectrum * np.conj(spectrum))[: lag_max + 1] / (
        energy * (x.size - lags) / x.size
    )
    # the true period is a peak after the first dip below zero; before it,
    # slow signals (50 Hz hum) correlate with themselves at every short lag
    negative = np.flatnonzero(corr < 0)
    if negative.size == 0:
        return 0.0, 0.0
    first = max(lag_min, int(negative[0]))
    if first > lag_max:
        return 0.0, 0.0
    search = corr[first:]
    # multiples of the period correlate as well as the period: take the
    # shortest lag that is a local peak within 10 % of the best
    peaks = np.flatnonzero(
        (search >= 0.9 * float(np.max(search)))
        & (search >= np.roll(search, 1))
        & (search >= np.roll(search, -1))
    )
    best = first + int(peaks[0]) if peaks.size else first + int(np.argmax(search))
    strength = float(np.clip(corr[best], 0.0, 1.0))
    return sample_rate / best, strength
