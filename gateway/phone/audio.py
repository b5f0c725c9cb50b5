"""Audio the phone plays into its call: a WAV file or speech from espeak-ng.

pjmedia's WAV player reads 16-bit PCM and the conference bridge resamples any
clock rate, but it refuses multi-channel ports: every clip is rewritten here as a
mono 16-bit WAV, after checking it is one Python's ``wave`` can read.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway import tts
from gateway.media.pcm import to_samples
from gateway.phone.errors import UsageError

MIN_RATE, MAX_RATE = 8000, 48000


@dataclass(frozen=True, slots=True)
class Clip:
    """A mono 16-bit WAV ready for pjmedia's player."""

    path: Path
    rate: int
    seconds: float


def _to_float(raw: bytes, width: int, channels: int) -> npt.NDArray[np.float64]:
    if width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = np.where(value >= 1 << 23, value - (1 << 24), value) / float(1 << 23)
    else:
        dtype = {2: "<i2", 4: "<i4"}[width]
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float64) / float(1 << (8 * width - 1))
    return np.asarray(samples.reshape(-1, channels).mean(axis=1))


def _write_clip(samples: npt.NDArray[np.float64], rate: int, folder: Path) -> Clip:
    pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()
    target = folder / "clip.wav"
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return Clip(target, rate, len(samples) / rate)


def prepare_wav(source: Path, folder: Path) -> Clip:
    """Check ``source`` and write it to ``folder`` as mono 16-bit PCM at its own rate."""
    try:
        with wave.open(str(source), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise UsageError(f"cannot read {source} as a PCM WAV file: {exc}") from None
    if width not in (1, 2, 3, 4):
        raise UsageError(f"{source}: {8 * width}-bit samples are not supported")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UsageError(f"{source}: sample rate must be {MIN_RATE}-{MAX_RATE} Hz, got {rate}")
    samples = _to_float(raw[: len(raw) - len(raw) % (width * channels)], width, channels)
    if not len(samples):
        raise UsageError(f"{source} has no audio")
    return _write_clip(samples, rate, folder)


async def synthesize(text: str, language: str | None, folder: Path) -> Clip:
    """Speak ``text`` with the gateway's own espeak-ng voices (gateway/tts.py).

    ``language`` is "fr" or "en"; None guesses it from the words.
    """
    try:
        pcm, rate = await tts.synthesize(text, language or tts.guess_language(text))
    except tts.TtsError as exc:
        raise UsageError(f"--say: {exc}") from None
    return _write_clip(to_samples(pcm), rate, folder)
