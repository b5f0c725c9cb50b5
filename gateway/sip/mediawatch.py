"""Media-loss detection: notices when a call's received RTP packet count stops growing.

Sans-I/O: the worker samples pjsua2's receive counters and passes them with ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Track:
    packets: int
    changed_at: float
    lost: bool = False


@dataclass(frozen=True, slots=True)
class Lost:
    call_id: str
    silent_for: float


@dataclass(frozen=True, slots=True)
class Resumed:
    call_id: str


class MediaWatch:
    """Reports each call once when RTP stops for ``timeout`` s, and once when it resumes."""

    def __init__(self, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError(f"media timeout must be > 0 s, got {timeout}")
        self.timeout = timeout
        self._tracks: dict[str, _Track] = {}

    def start(self, call_id: str, packets: int, now: float) -> None:
        """Begin watching a call whose media just became active."""
        self._tracks[call_id] = _Track(packets, now)

    def stop(self, call_id: str) -> None:
        self._tracks.pop(call_id, None)

    def observe(self, call_id: str, packets: int, now: float) -> Lost | Resumed | None:
        """Feed the call's received-packet counter; returns a change of state, if any."""
        track = self._tracks.get(call_id)
        if track is None:
            return None
        if packets != track.packets:
            track.packets, track.changed_at = packets, now
            if track.lost:
                track.lost = False
                return Resumed(call_id)
            return None
        silent = now - track.changed_at
        if not track.lost and silent >= self.timeout:
            track.lost = True
            return Lost(call_id, silent)
        return None
