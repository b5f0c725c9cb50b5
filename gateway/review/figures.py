"""Service-level figures over alarm histories: pure functions of AlarmRecord lists.

Everything is computed from the append-only timeline, so the figures are those
an auditor would get by reading it. No clock is read: periods come from the
records' own timestamps and the time zone passed in.

Definitions (docs/console.md explains them to supervisors):

* time to accept: from reception to the first ``accepted`` entry. Alarms the
  agent cancelled before any operator accepted are left out of the accept
  figures (nobody had to act); alarms never accepted count as "not within".
* time to doubt removal: from reception to the first entry that settles the
  doubt: a ``doubt_removed`` note, an escalation, or the closure.
* false-alarm rate: closed as ``false_alarm`` over all closed alarms.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from gateway.alarm.types import AlarmType, Outcome
from gateway.store.records import AlarmRecord

#: Service-level thresholds (BS 8484: 80 % within 10 s, 98.5 % within 40 s).
ACCEPT_TARGETS_S: tuple[float, float] = (10.0, 40.0)
#: Kind of the note the console writes when the operator settles the doubt.
DOUBT_REMOVED = "doubt_removed"


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """What review needs from one alarm, read off its timeline once."""

    id: str
    device_id: str
    alarm_type: AlarmType
    received_at: datetime
    accepted_at: datetime | None
    accepted_by: str | None
    doubt_removed_at: datetime | None
    closed_at: datetime | None
    outcome: Outcome | None
    cancelled_before_accept: bool
    listeners: tuple[str, ...]

    @property
    def accept_s(self) -> float | None:
        """Seconds from reception to the first acceptance, if any."""
        if self.accepted_at is None:
            return None
        return (self.accepted_at - self.received_at).total_seconds()

    @property
    def doubt_removal_s(self) -> float | None:
        if self.doubt_removed_at is None:
            return None
        return (self.doubt_removed_at - self.received_at).total_seconds()


def facts(alarm: AlarmRecord) -> AlarmFacts:
    """Read ``alarm``'s timeline (it must carry one) into :class:`AlarmFacts`."""
    accepted_at: datetime | None = None
    accepted_by: str | None = None
    doubt_at: datetime | None = None
    cancelled_before_accept = False
    listeners: list[str] = []
    for entry in alarm.timeline:
        if entry.kind == "accepted" and accepted_at is None:
            accepted_at, accepted_by = entry.at, entry.actor
        settles = entry.kind in ("escalated", "closed") or (
            entry.kind == "noted" and entry.data.get("kind") == DOUBT_REMOVED
        )
        if settles and doubt_at is None:
            doubt_at = entry.at
        if entry.kind == "cancelled_by_agent" and accepted_at is None:
            cancelled_before_accept = True
        listener = entry.data.get("operator") if entry.kind == "listen_started" else None
        if listener is not None and listener not in listeners:
            listeners.append(str(listener))
    return AlarmFacts(
        id=alarm.id,
        device_id=alarm.device_id,
        alarm_type=alarm.alarm_type,
        received_at=alarm.received_at,
        accepted_at=accepted_at,
        accepted_by=accepted_by,
        doubt_removed_at=doubt_at,
        closed_at=alarm.closed_at,
        outcome=alarm.outcome,
        cancelled_before_accept=cancelled_before_accept,
        listeners=tuple(listeners),
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (the value an auditor can point at), None when empty."""
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class Figures:
    """Service-level figures of one group of alarms."""

    alarms: int
    #: alarms an operator had to accept (all but those cancelled by the agent first)
    to_accept: int
    accepted: int
    accept_p50_s: float | None
    accept_p90_s: float | None
    #: share of ``to_accept`` accepted within 10 s and within 40 s (None when nothing to accept)
    accept_within_10s: float | None
    accept_within_40s: float | None
    doubt_removal_p50_s: float | None
    doubt_removal_p90_s: float | None
    closed: int
    outcomes: Mapping[str, int]
    #: closed as false alarm over closed (None when none closed)
    false_alarm_rate: float | None


def figures(items: Iterable[AlarmFacts]) -> Figures:
    """The figures of one group."""
    group = list(items)
    eligible = [f for f in group if not f.cancelled_before_accept]
    accept = [s for f in eligible if (s := f.accept_s) is not None]
    doubt = [s for f in group if (s := f.doubt_removal_s) is not None]
    outcomes = Counter(f.outcome.value for f in group if f.outcome is not None)
    closed = sum(outcomes.values())

    def within(limit: float) -> float | None:
        if not eligible:
            return None
        return sum(1 for s in accept if s <= limit) / len(eligible)

    return Figures(
        alarms=len(group),
        to_accept=len(eligible),
        accepted=len(accept),
        accept_p50_s=percentile(accept, 50),
        accept_p90_s=percentile(accept, 90),
        accept_within_10s=within(ACCEPT_TARGETS_S[0]),
        accept_within_40s=within(ACCEPT_TARGETS_S[1]),
        doubt_removal_p50_s=percentile(doubt, 50),
        doubt_removal_p90_s=percentile(doubt, 90),
        closed=closed,
        outcomes={o.value: outcomes.get(o.value, 0) for o in Outcome},
        false_alarm_rate=outcomes[Outcome.FALSE_ALARM.value] / closed if closed else None,
    )


GroupKey = Callable[[AlarmFacts], str]


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO week, starting Monday
    MONTH = "month"


def by_period(period: Period, tz: tzinfo) -> GroupKey:
    """Group by the local day, ISO week or month of reception, e.g. ``2026-W49``."""

    def key(f: AlarmFacts) -> str:
        local = f.received_at.astimezone(tz)
        if period is Period.DAY:
            return local.date().isoformat()
        if period is Period.WEEK:
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{local.year}-{local.month:02d}"

    return key


def by_site(site_of: Mapping[str, str], unknown: str = "(no site)") -> GroupKey:
    """Group by the site each device belongs to (``device_id -> site``)."""
    return lambda f: site_of.get(f.device_id, unknown)


def by_device(f: AlarmFacts) -> str:
    return f.device_id


def by_type(f: AlarmFacts) -> str:
    return f.alarm_type.value


def grouped(items: Iterable[AlarmFacts], key: GroupKey) -> dict[str, Figures]:
    """Figures per group, groups in sorted key order."""
    groups: dict[str, list[AlarmFacts]] = {}
    for f in items:
        groups.setdefault(key(f), []).append(f)
    return {name: figures(groups[name]) for name in sorted(groups)}


CSV_COLUMNS = (
    "alarm_id",
    "device_id",
    "type",
    "received_at",
    "accepted_at",
    "accepted_by",
    "accept_s",
    "doubt_removed_at",
    "doubt_removal_s",
    "closed_at",
    "outcome",
    "listeners",
)


def _cell(value: object) -> str:
    """One CSV cell; text a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(items: Iterable[AlarmFacts]) -> str:
    """One row per alarm (RFC 4180, CRLF line ends), for spreadsheets and audits."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in items:
        row = (
            f.id,
            f.device_id,
            f.alarm_type.value,
            f.received_at,
            f.accepted_at,
            f.accepted_by,
            f.accept_s,
            f.doubt_removed_at,
            f.doubt_removal_s,
            f.closed_at,
            f.outcome.value if f.outcome else None,
            " ".join(f.listeners),
        )
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
