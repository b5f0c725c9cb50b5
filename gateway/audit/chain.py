"""The audit log's hash chain: each entry's hash covers its content and the hash before it.

Pure: no I/O, no clock. Altering a stored entry changes the hash its content
gives; removing or reordering entries breaks the link from an entry to the one
before it. Either is found by :func:`verify_chain`. Removing entries from the
end leaves a valid shorter chain: compare the last hash with one noted earlier
(``alarm-gateway audit verify`` prints it) to detect that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored audit entry: who did what, when, from where, to what."""

    id: int
    at: datetime
    actor: str
    """Staff user name, ``device:<id>``, ``cli:<os user>`` or ``system``."""
    source: str | None
    """Client address, or ``local`` for the command line."""
    action: str
    """Dotted name such as ``listen.start`` (vocabulary in docs/backoffice.md)."""
    target: str | None
    tenant: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


def canonical_details(details: Mapping[str, object] | None) -> dict[str, Any]:
    """``details`` as the JSON column gives it back, so the hash covers what is stored.

    Raises ValueError if a value is not JSON (sets, datetimes, NaN...).
    """
    try:
        text = json.dumps(dict(details or {}), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details must be plain JSON values: {exc}") from None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def canonical_at(at: datetime) -> str:
    """ISO-8601 in UTC to the microsecond, as both database backends keep it."""
    if at.tzinfo is None:
        raise ValueError("audit time must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Sorted-key compact JSON in UTF-8: one byte string per value, whatever the key order."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def hashed_content(entry: AuditEntry) -> dict[str, Any]:
    """What the entry's hash covers: every field but ``id`` and ``hash``, time as text."""
    return {
        "at": canonical_at(entry.at),
        "actor": entry.actor,
        "source": entry.source,
        "action": entry.action,
        "target": entry.target,
        "tenant": entry.tenant,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) of the canonical JSON of :func:`hashed_content`."""
    return hashlib.sha256(canonical_json(hashed_content(entry))).hexdigest()


class Fault(StrEnum):
    ALTERED = "altered"
    """The entry's content no longer gives its hash."""
    UNLINKED = "unlinked"
    """The entry does not follow the one before it: entries removed or reordered."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A break in the chain, at the entry where it shows."""

    entry_id: int
    fault: Fault
    reason: str

    def __str__(self) -> str:
        return f"entry {self.entry_id}: {self.reason}"


def verify_chain(
    entries: Iterable[AuditEntry], *, prev_hash: str = GENESIS, prev_id: int | None = None
) -> list[Problem]:
    """Every break in ``entries`` (in id order), first one first; empty when intact.

    ``prev_hash`` and ``prev_id`` are those of the entry before the first one
    given, so a long log can be checked page by page. After a break the check
    goes on from the stored hash, so one altered or removed entry gives one problem.
    """
    problems: list[Problem] = []
    previous_id = prev_id
    for entry in entries:
        if entry.prev_hash != prev_hash:
            after = "the start of the log" if previous_id is None else f"entry {previous_id}"
            problems.append(
                Problem(
                    entry.id,
                    Fault.UNLINKED,
                    f"its prev_hash does not match the hash of {after}: entries before it "
                    "were removed, reordered or rewritten",
                )
            )
        if entry_hash(entry) != entry.hash:
            problems.append(
                Problem(
                    entry.id,
                    Fault.ALTERED,
                    "its content does not give its stored hash: the row was altered",
                )
            )
        prev_hash = entry.hash
        previous_id = entry.id
    return problems
