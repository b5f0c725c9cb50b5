# ruff: noqa: E501  (tables of exact error sentences read best one per line)
"""Text-to-speech: espeak-ng output parsed, resampled, and every failure named."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from gateway.media.pcm import to_pcm, to_samples
from gateway.tts import RATE, TtsError, guess_language, parse_wav, resample_clip, synthesize


def wav(pcm: bytes, rate: int = 22050, streamed: bool = True, channels: int = 1) -> bytes:
    size = 0x7FFFFFFF if streamed else len(pcm)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    return (
        b"RIFF" + struct.pack("<I", size) + b"WAVE"
        + b"fmt " + struct.pack("<I", 16) + fmt
        + b"data" + struct.pack("<I", size) + pcm
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Alarme chute pour Jean : secours engagés.", "fr"),
        ("Alarm fall for John: help is on the way.", "en"),
        ("Alarme SOS pour agent 7", "fr"),
        ("SOS 7", "en"),
    ],
)
def test_language_is_guessed_from_telling_words(text: str, language: str) -> None:
    assert guess_language(text) == language


@pytest.mark.parametrize("streamed", [True, False])
def test_wav_data_runs_to_the_end_when_espeak_could_not_seek(streamed: bool) -> None:
    pcm = bytes(range(200))
    assert parse_wav(wav(pcm, streamed=streamed)) == (pcm, 22050)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"ID3 not a wav", "espeak-ng output is not a WAV file"),
        (wav(b"\x00\x00", channels=2), "espeak-ng gave format 1, 2 channels, 16 bits; expected 16-bit mono PCM"),
        (b"RIFF\x00\x00\x00\x00WAVE", "espeak-ng WAV has no data chunk"),
        (b"RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00", "espeak-ng WAV has no fmt chunk before its data"),
    ],
)  # fmt: skip
def test_bad_wav_is_named(data: bytes, error: str) -> None:
    with pytest.raises(TtsError) as info:
        parse_wav(data)
    assert str(info.value) == error


def test_resampling_keeps_a_tone_and_the_duration() -> None:
    t = np.arange(22050) / 22050
    out = to_samples(resample_clip(to_pcm(0.5 * np.sin(2 * np.pi * 440 * t)), 22050, RATE))
    assert len(out) == RATE
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
    middle = slice(1000, RATE - 1000)  # away from the clip's edges
    assert np.max(np.abs(out[middle] - expected[middle])) < 0.01


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_speech_is_16_khz_and_voiced(language: str) -> None:
    pcm, rate = await synthesize("Alarme pour Jean. Alarm for John.", language)
    samples = to_samples(pcm)
    assert rate == RATE
    assert 1.5 < len(samples) / rate < 6
    assert float(np.sqrt(np.mean(samples**2))) > 0.02


@pytest.mark.parametrize(
    ("text", "language", "error"),
    [
        ("Alarm", "de", "no voice for language 'de'; choose from fr, en"),
        ("  ", "en", "nothing to say: the text is empty"),
        ("a" * 2001, "en", "text of 2001 characters is longer than 2000"),
    ],
)
async def test_bad_requests_are_named(text: str, language: str, error: str) -> None:
    with pytest.raises(TtsError) as info:
        await synthesize(text, language)
    assert str(info.value) == error


async def test_missing_espeak_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TtsError) as info:
        await synthesize("Alarm", "en")
    assert str(info.value) == "espeak-ng is not installed (Debian package espeak-ng)"


async def test_a_failing_espeak_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "espeak-ng"
    fake.write_text("#!/bin/sh\necho 'voice missing' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TtsError) as info:
        await synthesize("Alarm", "en")
    assert str(info.value) == "espeak-ng failed with status 3: voice missing"
