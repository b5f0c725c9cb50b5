"""Call recordings: stereo files per alarm, and their purge after the retention period."""

from __future__ import annotations

import os
import time
import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gateway.media.pcm import to_pcm
from gateway.recorder import RECORDING_RATE, CallRecorder, purge

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def tone(freq: float, seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return to_pcm(0.3 * np.sin(2 * np.pi * freq * t))


def test_phone_left_operator_right_at_16_khz(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path, lambda: NOW)
    phone, operator = tone(440, 1.0, 8000), tone(1000, 1.0, 16000)
    for i in range(50):  # 20 ms frames, as the voice channel delivers them
        recorder.phone_audio("A1", phone[i * 320 : (i + 1) * 320], 8000)
        recorder.operator_audio("A1", operator[i * 640 : (i + 1) * 640], 16000)
    recorder.close_all()
    [path] = recorder.recordings("A1")
    assert path.name == "20261204T100000000000Z.wav"
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, RECORDING_RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert len(frames) >= 0.95 * RECORDING_RATE
    left, right = (np.abs(np.fft.rfft(frames[:, c])) for c in (0, 1))
    hz = np.fft.rfftfreq(len(frames), 1 / RECORDING_RATE)
    assert abs(hz[left.argmax()] - 440) < 5
    assert abs(hz[right.argmax()] - 1000) < 5


def test_operator_audio_without_a_call_is_not_recorded(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path, lambda: NOW)
    recorder.operator_audio("A2", tone(1000, 0.02, 16000), 16000)
    assert recorder.recordings("A2") == []


def test_purge_removes_only_what_is_past_retention(tmp_path: Path) -> None:
    old, recent = tmp_path / "A1" / "old.wav", tmp_path / "A2" / "recent.wav"
    for path in (old, recent):
        path.parent.mkdir()
        path.write_bytes(b"RIFF")
    now = time.time()
    os.utime(old, (now - 181 * 86400, now - 181 * 86400))
    os.utime(recent, (now - 179 * 86400, now - 179 * 86400))
    removed = purge(tmp_path, retention_days=180, now=now)
    assert [(r.path, round(r.age_days)) for r in removed] == [(old, 181)]
    assert not old.parent.exists()  # the emptied alarm folder goes too
    assert recent.exists()
