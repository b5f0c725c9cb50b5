"""The soak run's bookkeeping, without I/O: memory growth, delivery checks, latency.

Kept pure so the checks that decide "nothing lost" are tested on their own and
cannot drift from what the run reports.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def warm_up_seconds(duration_s: float) -> float:
    """Samples before this are left out of growth fits: 20 % of the run, at least 5 min,
    but never more than half the run (short runs still get a fit)."""
    return min(max(0.2 * duration_s, 300.0), 0.5 * duration_s)


def growth_per_hour(samples: Sequence[tuple[float, float]], warm_up_s: float) -> float | None:
    """Memory growth in % per hour after ``warm_up_s``: least-squares slope over the
    (seconds, MiB) samples after warm-up, relative to the fitted value at warm-up's end.

    None when fewer than three samples are left (nothing to fit).
    """
    kept = [(t, v) for t, v in samples if t >= warm_up_s]
    if len(kept) < 3:
        return None
    n = len(kept)
    mean_t = sum(t for t, _ in kept) / n
    mean_v = sum(v for _, v in kept) / n
    spread = sum((t - mean_t) ** 2 for t, _ in kept)
    if spread == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in kept) / spread  # MiB per second
    base = mean_v + slope * (kept[0][0] - mean_t)
    return slope * 3600 / base * 100 if base > 0 else None


def percentiles(values: Sequence[float], *ps: float) -> dict[str, float | None]:
    """Nearest-rank percentiles (``p50``, ``p99``...) and ``max``; None when empty."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in ps:
        key = f"p{p:g}"
        out[key] = (
            ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else None
        )
    out["max"] = ordered[-1] if ordered else None
    return out


@dataclass(frozen=True, slots=True)
class Expected:
    """An outbox event the DC-09 mapping forwards."""

    event_id: int
    alarm_id: str
    sequence: int


@dataclass(frozen=True, slots=True)
class Received:
    """A frame the receiver acknowledged (``alarm_id`` from xdata V, if any)."""

    alarm_id: str | None
    sequence: int
    at: float


@dataclass
class Delivery:
    """What reached the receiver compared with what the outbox held."""

    expected: int = 0
    received: int = 0
    missing: list[int] = field(default_factory=list)
    """Event ids never acknowledged."""
    duplicates: list[int] = field(default_factory=list)
    """Event ids acknowledged more than once."""
    out_of_order: list[str] = field(default_factory=list)
    """Alarms whose events arrived in another order than the outbox's."""
    unexpected: int = 0
    """Frames naming an alarm but matching no outbox event."""
    link_checks: int = 0
    """Frames naming no alarm: the sender's own link supervision (polls, tests)."""


def check_delivery(expected: Iterable[Expected], received: Iterable[Received]) -> Delivery:
    """Every forwarded outbox event acknowledged exactly once, in order per alarm.

    Frames are matched by (alarm id, DC-09 sequence number): the gateway derives the
    sequence from the event id, so it is unique within an alarm.
    """
    by_key = {(e.alarm_id, e.sequence): e for e in expected}
    result = Delivery(expected=len(by_key))
    counts: Counter[int] = Counter()
    arrivals: dict[str, list[int]] = defaultdict(list)
    for frame in sorted(received, key=lambda r: r.at):
        result.received += 1
        if frame.alarm_id is None:
            result.link_checks += 1
            continue
        event = by_key.get((frame.alarm_id, frame.sequence))
        if event is None:
            result.unexpected += 1
            continue
        counts[event.event_id] += 1
        if counts[event.event_id] == 1:
            arrivals[event.alarm_id].append(event.event_id)
    result.missing = sorted(e.event_id for e in by_key.values() if not counts[e.event_id])
    result.duplicates = sorted(i for i, n in counts.items() if n > 1)
    result.out_of_order = sorted(a for a, ids in arrivals.items() if ids != sorted(ids))
    return result


def frame_drift(
    offsets: Sequence[int], samples_per_frame: int, loop_samples: int
) -> tuple[int, int]:
    """Frames lost and frames inserted in a call, from where its audio lined up with
    what was played, measured at successive points (samples, in call order).

    Each lost 20 ms frame moves the played audio 1 frame earlier in the recording
    (a positive step); a repeated or concealed-and-inserted one, a negative step.
    The played audio loops every ``loop_samples``, so offsets are compared modulo it.
    """
    lost = inserted = 0
    half = loop_samples // 2
    for before, after in itertools.pairwise(offsets):
        step = round(((after - before + half) % loop_samples - half) / samples_per_frame)
        lost += max(step, 0)
        inserted += max(-step, 0)
    return lost, inserted
