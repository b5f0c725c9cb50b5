"""The audit hash chain: an altered, removed or reordered entry is found and named."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.audit.chain import (
    GENESIS,
    AuditEntry,
    Fault,
    Problem,
    canonical_at,
    canonical_details,
    canonical_json,
    entry_hash,
    verify_chain,
)

NOW = datetime(2026, 12, 4, 23, 0, 0, 123456, tzinfo=UTC)


def chain(length: int) -> list[AuditEntry]:
    """``length`` correctly chained entries with ids 1..length."""
    entries: list[AuditEntry] = []
    prev_hash = GENESIS
    for i in range(1, length + 1):
        entry = AuditEntry(
            i,
            NOW + timedelta(seconds=i),
            "alice",
            "127.0.0.1",
            "listen.start",
            f"alarm-{i}",
            "north",
            {"mode": "listen", "n": i},
            prev_hash,
            "",
        )
        entries.append(replace(entry, hash=entry_hash(entry)))
        prev_hash = entries[-1].hash
    return entries


def test_an_intact_chain_has_no_problem() -> None:
    entries = chain(5)
    assert entries[0].prev_hash == GENESIS
    assert verify_chain(entries) == []
    assert verify_chain([]) == []


def test_the_hash_of_an_entry_is_pinned() -> None:
    """The serialisation is a published format: external tools recompute it."""
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()
    text = (
        '{"action":"listen.start","actor":"alice","at":"2026-12-04T23:00:01.123456+00:00",'
        '"details":{"mode":"listen","n":1},"prev_hash":"' + GENESIS + '",'
        '"source":"127.0.0.1","target":"alarm-1","tenant":"north"}'
    )
    assert chain(1)[0].hash == hashlib.sha256(text.encode()).hexdigest()
    assert chain(1)[0].hash == "a371fb1d669a1547f3fbfe898464798295010f81cf3ac62d2732cebbcbdb029e"


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "mallory"},
        {"source": "10.0.0.9"},
        {"action": "listen.stop"},
        {"target": "alarm-99"},
        {"tenant": None},
        {"details": {"mode": "talk", "n": 3}},
        {"at": NOW},
    ],
    ids=lambda change: next(iter(change)),
)
def test_an_altered_field_is_found(change: dict[str, object]) -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], **change)  # type: ignore[arg-type]
    assert verify_chain(entries) == [
        Problem(3, Fault.ALTERED, "its content does not give its stored hash: the row was altered")
    ]


def test_an_altered_and_rehashed_entry_breaks_the_next_link() -> None:
    entries = chain(5)
    forged = replace(entries[2], actor="mallory")
    entries[2] = replace(forged, hash=entry_hash(forged))
    problems = verify_chain(entries)
    assert [(p.entry_id, p.fault) for p in problems] == [(4, Fault.UNLINKED)]
    assert str(problems[0]) == (
        "entry 4: its prev_hash does not match the hash of entry 3: entries before it were "
        "removed, reordered or rewritten"
    )


def test_a_removed_entry_is_found_at_the_next_one() -> None:
    entries = chain(5)
    del entries[2]
    problems = verify_chain(entries)
    assert [(p.entry_id, p.fault) for p in problems] == [(4, Fault.UNLINKED)]
    assert "the hash of entry 2:" in problems[0].reason


def test_removing_the_first_entry_is_found() -> None:
    problems = verify_chain(chain(3)[1:])
    assert [(p.entry_id, p.fault) for p in problems] == [(2, Fault.UNLINKED)]
    assert "the hash of the start of the log:" in problems[0].reason


def test_reordered_entries_are_found() -> None:
    entries = chain(4)
    entries[1], entries[2] = entries[2], entries[1]
    problems = verify_chain(entries)
    assert problems[0].entry_id == 3
    assert {p.fault for p in problems} == {Fault.UNLINKED}


def test_swapped_contents_under_the_same_ids_are_found() -> None:
    entries = chain(4)
    second, third = entries[1], entries[2]
    entries[1] = replace(third, id=2)
    entries[2] = replace(second, id=3)
    assert verify_chain(entries)[0].entry_id == 2


def test_a_long_log_can_be_checked_page_by_page() -> None:
    entries = chain(6)
    assert verify_chain(entries[3:], prev_hash=entries[2].hash) == []
    assert verify_chain(entries[3:])[0].entry_id == 4


def test_the_time_is_hashed_in_utc_whatever_its_zone() -> None:
    entry = chain(1)[0]
    elsewhere = replace(entry, at=entry.at.astimezone(timezone(timedelta(hours=2))))
    assert entry_hash(elsewhere) == entry.hash
    assert canonical_at(entry.at) == "2026-12-04T23:00:01.123456+00:00"
    with pytest.raises(ValueError, match="audit time must be timezone-aware"):
        canonical_at(datetime(2026, 12, 4))


def test_details_are_hashed_as_stored() -> None:
    assert canonical_details({"ids": (1, 2), "who": "a"}) == {"ids": [1, 2], "who": "a"}
    assert canonical_details(None) == {}
    with pytest.raises(ValueError, match="audit details must be plain JSON values"):
        canonical_details({"when": NOW})
    with pytest.raises(ValueError, match="audit details must be plain JSON values"):
        canonical_details({"ratio": float("nan")})
