"""Recordings of alarm calls, kept for a limited time.

Each call an alarm receives is written to ``<data_dir>/recordings/<alarm id>/``
as a stereo WAV (phone left, operator right) by a writer thread, so the event
loop never waits on the disk. Recordings older than the retention period
(default 180 days, CNIL: at most 6 months) are purged and each removal logged;
so are the words of transcripts (``[speech] transcript_retention_days``, default
one year), while the fact that something was said, and when, stays.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.media.pcm import Resampler, to_pcm, to_samples
from gateway.media.recording import RecordingWriter

if TYPE_CHECKING:
    from gateway.store.store import Store

log = logging.getLogger("gateway.recording")

RECORDING_RATE = 16000
"""Wideband: G.722 calls keep their quality, G.711 ones are upsampled."""


class _Track:
    """One side of a recording, resampled to the recording's rate with filter state kept."""

    def __init__(self) -> None:
        self._resampler: Resampler | None = None

    def convert(self, pcm: bytes, rate: int) -> bytes:
        if self._resampler is None or self._resampler.src != rate:
            self._resampler = Resampler(rate, RECORDING_RATE)
        return to_pcm(self._resampler.process(to_samples(pcm)))


class CallRecorder:
    """One WAV per alarm call, fed by the voice channel's audio listeners."""

    def __init__(self, directory: Path, clock: Callable[[], datetime]) -> None:
        self.directory = directory
        self._clock = clock
        self._writers: dict[str, RecordingWriter] = {}
        self._tracks: dict[tuple[str, str], _Track] = {}

    def phone_audio(self, alarm_id: str, pcm: bytes, rate: int) -> None:
        self._writer(alarm_id).phone(self._track(alarm_id, "phone").convert(pcm, rate))

    def operator_audio(self, alarm_id: str, pcm: bytes, rate: int) -> None:
        """What an operator said into the call (console talk mode)."""
        writer = self._writers.get(alarm_id)
        if writer is not None:
            writer.operator(self._track(alarm_id, "operator").convert(pcm, rate))

    def _track(self, alarm_id: str, side: str) -> _Track:
        return self._tracks.setdefault((alarm_id, side), _Track())

    def call_ended(self, alarm_id: str) -> None:
        self._tracks.pop((alarm_id, "phone"), None)
        self._tracks.pop((alarm_id, "operator"), None)
        writer = self._writers.pop(alarm_id, None)
        if writer is not None:
            writer.close()
            log.info("recording closed", extra={"alarm_id": alarm_id, "file": str(writer.path)})

    def close_all(self) -> None:
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()
        for writer in writers.values():
            writer.join(5)

    def _writer(self, alarm_id: str) -> RecordingWriter:
        writer = self._writers.get(alarm_id)
        if writer is None:
            folder = self.directory / alarm_id
            folder.mkdir(parents=True, exist_ok=True)
            stamp = self._clock().strftime("%Y%m%dT%H%M%S%fZ")
            writer = RecordingWriter(folder / f"{stamp}.wav", RECORDING_RATE)
            self._writers[alarm_id] = writer
        return writer

    def recordings(self, alarm_id: str) -> list[Path]:
        return recordings_of(self.directory, alarm_id)


def recordings_of(directory: Path, alarm_id: str) -> list[Path]:
    """The alarm's recordings under ``directory`` (``<data_dir>/recordings``), oldest first."""
    folder = directory / alarm_id
    return sorted(folder.glob("*.wav")) if folder.is_dir() else []


def erase_recordings(directory: Path, alarm_ids: Iterable[str]) -> list[Path]:
    """Delete every recording of these alarms (personal data erasure); what was removed."""
    removed = []
    for alarm_id in alarm_ids:
        for path in recordings_of(directory, alarm_id):
            path.unlink()
            removed.append(path)
            log.info("recording erased", extra={"file": str(path), "alarm_id": alarm_id})
        if (directory / alarm_id).is_dir() and not any((directory / alarm_id).iterdir()):
            os.rmdir(directory / alarm_id)
    return removed


async def purge_transcripts(store: Store, retention_days: float, now: datetime) -> dict[str, int]:
    """Blank the words of alarms closed more than ``retention_days`` ago, logging what went.

    Returns alarm id -> timeline entries blanked.
    """
    purged = await store.purge_transcripts(now - timedelta(days=retention_days))
    if purged:
        log.info(
            "transcripts purged after %g days: %d entries of %d alarms",
            retention_days,
            sum(purged.values()),
            len(purged),
            extra={"alarm_ids": sorted(purged), "entries": sum(purged.values())},
        )
    return purged


@dataclass(frozen=True, slots=True)
class Purged:
    path: Path
    age_days: float


def purge(directory: Path, retention_days: float, now: float | None = None) -> list[Purged]:
    """Delete recordings older than ``retention_days``; return what was removed.

    Age is the file's modification time, i.e. when the recording ended.
    """
    now = time.time() if now is None else now
    removed: list[Purged] = []
    if not directory.is_dir():
        return removed
    for path in sorted(directory.glob("*/*.wav")):
        age_days = (now - path.stat().st_mtime) / 86400
        if age_days > retention_days:
            path.unlink()
            removed.append(Purged(path, age_days))
            log.info(
                "recording purged after %.0f days",
                age_days,
                extra={"file": str(path), "alarm_id": path.parent.name},
            )
            if not any(path.parent.iterdir()):
                os.rmdir(path.parent)
    return removed
