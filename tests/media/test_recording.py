"""Stereo recording: channel alignment and the threaded WAV writer."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from gateway.media.recording import RecordingWriter, StereoInterleaver


def pcm(value: int, samples: int) -> bytes:
    return np.full(samples, value, dtype="<i2").tobytes()


def channels(stereo: bytes) -> tuple[list[int], list[int]]:
    data = np.frombuffer(stereo, "<i2")
    return data[0::2].tolist(), data[1::2].tolist()


def test_waits_for_both_sides_then_interleaves() -> None:
    mixer = StereoInterleaver(rate=8000, max_skew=0.2)
    assert mixer.push(left=pcm(1, 160)) == b""
    left, right = channels(mixer.push(right=pcm(2, 100)))
    assert left == [1] * 100
    assert right == [2] * 100


def test_silent_side_is_padded_once_the_other_is_too_far_ahead() -> None:
    mixer = StereoInterleaver(rate=8000, max_skew=0.1)  # 800 samples
    assert mixer.push(left=pcm(5, 800)) == b""
    left, right = channels(mixer.push(left=pcm(5, 1)))
    assert left == [5] * 801
    assert right == [0] * 801


def test_flush_pads_the_shorter_side() -> None:
    mixer = StereoInterleaver(rate=8000)
    mixer.push(left=pcm(3, 10), right=pcm(4, 4))
    left, right = channels(mixer.flush())
    assert (left, right) == ([3] * 6, [0] * 6)


def test_writer_produces_a_stereo_wav(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    writer = RecordingWriter(path, rate=16000)
    for _ in range(50):
        writer.phone(pcm(1000, 320))
        writer.operator(pcm(-1000, 320))
    writer.close()
    writer.join(5)
    assert writer.error is None
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 16000)
        assert wav.getnframes() == 16000
        left, right = channels(wav.readframes(4))
    assert (left, right) == ([1000] * 4, [-1000] * 4)
