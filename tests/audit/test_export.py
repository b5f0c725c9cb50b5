"""Audit exports: CSV safe for spreadsheets, JSON that re-checks, and their time bounds."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.audit.chain import verify_chain
from gateway.audit.export import ExportFormat, parse_bound, render
from tests.audit.test_chain import chain


def test_csv_quotes_formulas_and_writes_details_as_json() -> None:
    entry = replace(chain(1)[0], actor='=HYPERLINK("http://x")', target=None)
    rows = list(csv.reader(io.StringIO(render([entry], ExportFormat.CSV))))
    assert rows[1][1:8] == [
        "2026-12-04T23:00:01.123456+00:00",
        '\'=HYPERLINK("http://x")',
        "127.0.0.1",
        "listen.start",
        "",
        "north",
        '{"mode":"listen","n":1}',
    ]
    assert rows[1][8:] == [entry.prev_hash, entry.hash]


def test_json_keeps_what_the_hashes_cover() -> None:
    entries = chain(3)
    exported = json.loads(render(entries, ExportFormat.JSON))["entries"]
    assert [e["id"] for e in exported] == [1, 2, 3]
    back = [
        replace(entries[i], at=datetime.fromisoformat(e["at"]), details=e["details"])
        for i, e in enumerate(exported)
    ]
    assert verify_chain(back) == []


def test_bounds_are_utc_days_or_times() -> None:
    assert parse_bound("from", "2026-12-04") == datetime(2026, 12, 4, tzinfo=UTC)
    assert parse_bound("to", "2026-12-04", end=True) == datetime(2026, 12, 5, tzinfo=UTC)
    assert parse_bound("to", "2026-12-04T08:30:00", end=True) == datetime(
        2026, 12, 4, 8, 30, tzinfo=UTC
    )
    paris = parse_bound("from", "2026-12-04T08:30:00+01:00")
    assert paris.utcoffset() == timedelta(hours=1)
    assert paris == datetime(2026, 12, 4, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValueError, match=r"^from must be a date like 2026-12-04 or a time"):
        parse_bound("from", "last week")
