"""Clips for the phone's call: any PCM WAV becomes mono 16-bit at its own rate."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from gateway.phone.audio import prepare_wav, synthesize
from gateway.phone.errors import UsageError

RATE = 22050


def tone(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.asarray(0.5 * np.sin(2 * np.pi * 440 * t))


def write(path: Path, raw: bytes, width: int, channels: int, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


def read(path: Path) -> tuple[int, int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        raw = wav.readframes(wav.getnframes())
        samples = np.frombuffer(raw, dtype="<i2") / 32768.0
        return wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), samples


def encode(samples: np.ndarray, width: int) -> bytes:
    if width == 1:
        return bytes(np.round(samples * 127 + 128).astype(np.uint8).tobytes())
    ints = np.round(samples * (2 ** (8 * width - 1) - 1)).astype("<i4")
    if width == 3:
        return bytes(ints.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes())
    return bytes(ints.astype({2: "<i2", 4: "<i4"}[width]).tobytes())


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 2])
def test_any_pcm_wav_becomes_mono_16_bit(tmp_path: Path, width: int, channels: int) -> None:
    samples = tone()
    interleaved = np.repeat(samples, channels)  # same signal on every channel
    source = write(tmp_path / "in.wav", encode(interleaved, width), width, channels)
    clip = prepare_wav(source, tmp_path)
    assert clip.rate == RATE and clip.seconds == pytest.approx(0.5)
    out_channels, out_width, out_rate, out = read(clip.path)
    assert (out_channels, out_width, out_rate) == (1, 2, RATE)
    assert np.max(np.abs(out - samples)) < (0.01 if width == 1 else 1e-4)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio")
    with pytest.raises(UsageError, match=r"cannot read .*notes\.wav as a PCM WAV file"):
        prepare_wav(bogus, tmp_path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read .*absent\.wav"):
        prepare_wav(tmp_path / "absent.wav", tmp_path)


def test_empty_wav_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"empty\.wav has no audio$"):
        prepare_wav(write(tmp_path / "empty.wav", b"", 2, 1), tmp_path)


def test_rate_outside_telephony_range_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path / "bat.wav", bytes(400), 2, 1, rate=96000)
    with pytest.raises(UsageError, match="sample rate must be 8000-48000 Hz, got 96000"):
        prepare_wav(source, tmp_path)


async def test_say_speaks_with_the_gateways_espeak_voices(tmp_path: Path) -> None:
    assert shutil.which("espeak-ng"), "espeak-ng is needed (Debian: espeak-ng)"
    clip = await synthesize("Help, I have fallen.", None, tmp_path)
    channels, _, rate, samples = read(clip.path)
    assert channels == 1 and rate == clip.rate == 16000 and clip.seconds > 0.5
    assert np.sqrt(np.mean(samples**2)) > 0.01


async def test_say_without_espeak_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match=r"^--say: espeak-ng is not installed \(Debian package"):
        await synthesize("Help", "en", tmp_path)


async def test_say_needs_text(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--say: nothing to say: the text is empty$"):
        await synthesize("  ", "fr", tmp_path)
