"""s16le mono PCM: 20 ms framing, 8/16/48 kHz resampling and correlation.

Pure numpy, no audioop (removed from Python 3.13). Resamplers keep filter state
so audio processed frame by frame equals audio processed in one piece.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

FRAME_MS = 20
RATES = (8000, 16000, 48000)

Samples = npt.NDArray[np.float64]


def frame_bytes(rate: int) -> int:
    """Bytes in one 20 ms s16 mono frame: 320 at 8 kHz, 640 at 16 kHz."""
    return rate * FRAME_MS // 1000 * 2


def to_samples(pcm: bytes) -> Samples:
    """s16le bytes as floats in [-1, 1)."""
    if len(pcm) % 2:
        raise ValueError(f"s16 PCM must have an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


def to_pcm(samples: Samples) -> bytes:
    """Floats in [-1, 1) as s16le bytes, clipped."""
    return bytes(np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes())


class Resampler:
    """Streaming rational resampler (windowed-sinc polyphase FIR), e.g. 8 kHz -> 16 kHz.

    Delay is constant: ``taps_per_phase / 2`` samples at the lower of the two rates.
    """

    def __init__(self, src: int, dst: int, taps_per_phase: int = 16) -> None:
        for rate in (src, dst):
            if rate not in RATES:
                raise ValueError(f"sample rate must be one of {RATES}, got {rate}")
        common = gcd(src, dst)
        self.src, self.dst = src, dst
        self.up, self.down = dst // common, src // common
        span = max(self.up, self.down)
        n = taps_per_phase * span + 1
        t = np.arange(n) - (n - 1) / 2
        cutoff = 0.5 / span * 0.92  # leave room for the transition band below Nyquist
        self._taps = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(n, 8.0) * self.up
        self._tail = np.zeros(n - 1)
        self._phase = 0

    def process(self, samples: Samples) -> Samples:
        if self.up == self.down:
            return samples
        stuffed = np.zeros(len(samples) * self.up)
        stuffed[:: self.up] = samples
        buffer = np.concatenate((self._tail, stuffed))
        filtered = np.convolve(buffer, self._taps, mode="valid")
        self._tail = buffer[len(buffer) - len(self._tail) :]
        out = filtered[self._phase :: self.down]
        self._phase = (self._phase - len(filtered)) % self.down
        return out


def resample(pcm: bytes, src: int, dst: int) -> bytes:
    """One-shot resampling of a whole s16le buffer."""
    return to_pcm(Resampler(src, dst).process(to_samples(pcm)))


class Reframer:
    """Turns s16le chunks of any length and rate into 20 ms frames at ``rate``."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._size = frame_bytes(rate)
        self._buffer = bytearray()
        self._resampler: Resampler | None = None

    def push(self, pcm: bytes, rate: int) -> list[bytes]:
        """Add audio; return every complete frame now available."""
        if rate != self.rate:
            if self._resampler is None or self._resampler.src != rate:
                self._resampler = Resampler(rate, self.rate)
            pcm = to_pcm(self._resampler.process(to_samples(pcm)))
        elif len(pcm) % 2:
            raise ValueError(f"s16 PCM must have an even number of bytes, got {len(pcm)}")
        self._buffer += pcm
        count = len(self._buffer) // self._size
        frames = [bytes(self._buffer[i * self._size : (i + 1) * self._size]) for i in range(count)]
        del self._buffer[: count * self._size]
        return frames


def correlation(a: Samples, b: Samples) -> float:
    """Normalised correlation of two equal-length signals (1.0: same shape)."""
    norm = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / norm if norm else 0.0


def best_lag(reference: Samples, received: Samples, max_lag: int) -> tuple[int, float]:
    """Delay of ``received`` behind ``reference`` in samples (0..max_lag) and the
    normalised correlation at that delay.

    Every lag is scored by its normalised correlation over the overlap (at least half
    of ``reference``), so a loud passage elsewhere cannot win over the right shape.
    """
    if max_lag < 0:
        raise ValueError(f"max_lag must be >= 0, got {max_lag}")
    n = len(reference)
    lags = np.arange(min(max_lag, len(received) - 1) + 1)
    if not n or not len(lags):
        return 0, 0.0
    size = n + len(received)
    nfft = 1 << (size - 1).bit_length()
    spectrum = np.fft.rfft(received, nfft) * np.conj(np.fft.rfft(reference, nfft))
    raw = np.fft.irfft(spectrum, nfft)[: len(lags)]
    received_energy = np.concatenate(([0.0], np.cumsum(received**2)))
    reference_energy = np.concatenate(([0.0], np.cumsum(reference**2)))
    overlap = np.minimum(n, len(received) - lags)
    norm = np.sqrt(
        (received_energy[lags + overlap] - received_energy[lags]) * reference_energy[overlap]
    )
    usable = (overlap * 2 >= min(n, len(received))) & (norm > 1e-9)
    scores = np.where(usable, raw / np.where(usable, norm, 1.0), -np.inf)
    lag = int(np.argmax(scores))
    return lag, float(scores[lag]) if np.isfinite(scores[lag]) else 0.0
