"""Audit log exports (CSV for people, JSON for checking the chain elsewhere) and their time range.

Pure. Each JSON entry holds exactly the fields its hash covers plus ``id`` and
``hash``, so ``sha256(canonical JSON of the entry without id and hash)`` gives
``hash`` and anyone can re-check an export without the gateway.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from gateway.audit.chain import AuditEntry, canonical_json, hashed_content

COLUMNS = ("id", "at", "actor", "source", "action", "target", "tenant", "details")
CHAIN_COLUMNS = ("prev_hash", "hash")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def record(entry: AuditEntry) -> dict[str, Any]:
    """The entry as exported: ``id``, what its hash covers, then ``hash``."""
    return {"id": entry.id, **hashed_content(entry), "hash": entry.hash}


def to_json(entries: Iterable[AuditEntry]) -> str:
    return json.dumps({"entries": [record(e) for e in entries]}, ensure_ascii=False, indent=1)


def _cell(value: object) -> str:
    """One CSV cell; text a spreadsheet would run as a formula is prefixed with '."""
    if value is None:
        return ""
    text = canonical_json(value).decode() if isinstance(value, Mapping) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def to_csv(entries: Iterable[AuditEntry]) -> str:
    """One row per entry (RFC 4180, CRLF line ends); ``details`` as compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS + CHAIN_COLUMNS)
    for entry in entries:
        row = record(entry)
        writer.writerow([row["id"], *(_cell(row[c]) for c in COLUMNS[1:] + CHAIN_COLUMNS)])
    return out.getvalue()


def render(entries: Iterable[AuditEntry], fmt: ExportFormat) -> str:
    return to_csv(entries) if fmt is ExportFormat.CSV else to_json(entries)


def parse_bound(name: str, text: str, *, end: bool = False) -> datetime:
    """``from``/``to`` as given: a date (UTC day; ``to`` includes it) or an ISO-8601 time.

    A time without offset is UTC. Raises ValueError naming ``name``.
    """
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{name} must be a date like 2026-12-04 or a time like 2026-12-04T08:00:00Z, "
            f"got {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
