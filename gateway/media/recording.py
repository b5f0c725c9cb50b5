"""Stereo call recording (phone left, operator right) written off the event loop.

:class:`StereoInterleaver` is the pure part: the two channels arrive as separate
streams of 20 ms frames and it lines them up, padding a silent side with zeros
once the other is ``max_skew`` ahead. :class:`RecordingWriter` feeds a WAV file
from a thread, so callers on the asyncio loop never wait on the disk.
"""

from __future__ import annotations

import queue
import threading
import wave
from pathlib import Path

import numpy as np


class StereoInterleaver:
    """Pairs phone and operator samples into interleaved s16le stereo."""

    def __init__(self, rate: int, max_skew: float = 0.2) -> None:
        self.rate = rate
        self._max_skew = int(rate * max_skew)
        self._left = bytearray()
        self._right = bytearray()

    def push(self, left: bytes = b"", right: bytes = b"") -> bytes:
        """Add samples to either side; return the stereo audio now complete."""
        self._left += left
        self._right += right
        ready = min(len(self._left), len(self._right))
        ahead = max(len(self._left), len(self._right)) - ready
        if ahead > self._max_skew * 2:  # one side is silent: pad it up to the other
            ready = max(len(self._left), len(self._right))
            self._left += bytes(ready - len(self._left))
            self._right += bytes(ready - len(self._right))
        return self._take(ready - ready % 2)

    def flush(self) -> bytes:
        """Everything left, the shorter side padded with silence."""
        ready = max(len(self._left), len(self._right))
        self._left += bytes(ready - len(self._left))
        self._right += bytes(ready - len(self._right))
        return self._take(ready)

    def _take(self, count: int) -> bytes:
        if not count:
            return b""
        stereo = np.empty(count, dtype="<i2")
        stereo[0::2] = np.frombuffer(bytes(self._left[:count]), dtype="<i2")
        stereo[1::2] = np.frombuffer(bytes(self._right[:count]), dtype="<i2")
        del self._left[:count], self._right[:count]
        return stereo.tobytes()


class RecordingWriter:
    """A stereo WAV file fed from the event loop and written by its own thread."""

    def __init__(self, path: Path, rate: int, max_skew: float = 0.2) -> None:
        self.path = path
        self._mixer = StereoInterleaver(rate, max_skew)
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._wav = wave.open(str(path), "wb")  # noqa: SIM115 (closed by the writer thread)
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._thread = threading.Thread(target=self._write, name=f"rec-{path.name}", daemon=True)
        self._thread.start()
        self.error: OSError | None = None

    def phone(self, pcm: bytes) -> None:
        """Phone (caller) audio at the recording's rate."""
        self._put(self._mixer.push(left=pcm))

    def operator(self, pcm: bytes) -> None:
        """Operator audio at the recording's rate."""
        self._put(self._mixer.push(right=pcm))

    def _put(self, data: bytes) -> None:
        if data:
            self._queue.put(data)

    def close(self) -> None:
        """Queue the rest and the end; returns at once (use :meth:`join` to wait)."""
        self._put(self._mixer.flush())
        self._queue.put(None)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _write(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                self._wav.writeframes(data)
        except OSError as exc:
            self.error = exc
        finally:
            try:
                self._wav.close()
            except OSError as exc:
                self.error = self.error or exc
