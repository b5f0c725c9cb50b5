"""Checking the whole stored audit chain, page by page, for the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.audit.chain import GENESIS, Problem, verify_chain
from gateway.store.store import Store

PAGE = 2000


@dataclass(frozen=True, slots=True)
class Verification:
    entries: int
    problems: tuple[Problem, ...]
    last_hash: str
    """Hash of the last entry (GENESIS when empty): note it to detect a truncated log later."""

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: intact with its size, or the first break (id and why)."""
        if self.intact:
            return f"audit chain intact: {self.entries} entries"
        more = len(self.problems) - 1
        also = f" ({more} more problem{'s' * (more > 1)} after it)" if more else ""
        return f"audit chain broken at {self.problems[0]}{also}"


async def verify_log(store: Store, *, page: int = PAGE) -> Verification:
    """Verify every stored entry in id order, holding one page in memory at a time."""
    count, prev_hash, prev_id = 0, GENESIS, None
    problems: list[Problem] = []
    while entries := await store.audit_entries(after_id=prev_id or 0, limit=page):
        problems += verify_chain(entries, prev_hash=prev_hash, prev_id=prev_id)
        count += len(entries)
        prev_hash, prev_id = entries[-1].hash, entries[-1].id
    return Verification(count, tuple(problems), prev_hash)
