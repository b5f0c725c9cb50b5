"""Who has a console open, and whose console has been gone long enough to release.

Pure and synchronous: the adapter passes ``now`` (monotonic seconds) in, asks
``next_deadline()``, and calls ``handle_timeout(now)`` when it is due. An
operator counts as present while at least one of their console sockets is
open; when the last one closes, a grace period starts (a page reload or a
brief network cut must not give an alarm away). Reconnecting within the grace
cancels it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_GRACE_S = 5.0


@dataclass(slots=True)
class Presence:
    grace_s: float = DEFAULT_GRACE_S
    _open: dict[str, int] = field(default_factory=dict)
    _leaving: dict[str, float] = field(default_factory=dict)  # user -> release deadline

    def __post_init__(self) -> None:
        if not self.grace_s >= 0:
            raise ValueError(f"grace period must be >= 0 seconds, got {self.grace_s}")

    def opened(self, user: str) -> None:
        """A console socket of ``user`` opened (cancels a pending release)."""
        self._open[user] = self._open.get(user, 0) + 1
        self._leaving.pop(user, None)

    def closed(self, user: str, now: float) -> None:
        """A console socket of ``user`` closed; the last one starts the grace period."""
        count = self._open.get(user, 0)
        if count <= 0:
            raise ValueError(f"no console of {user!r} is open")
        if count == 1:
            del self._open[user]
            self._leaving[user] = now + self.grace_s
        else:
            self._open[user] = count - 1

    def is_present(self, user: str) -> bool:
        return user in self._open

    def next_deadline(self) -> float | None:
        return min(self._leaving.values(), default=None)

    def handle_timeout(self, now: float) -> list[str]:
        """Users whose grace ran out by ``now`` (each reported once), in deadline order."""
        due = sorted((d, u) for u, d in self._leaving.items() if d <= now)
        for _, user in due:
            del self._leaving[user]
        return [user for _, user in due]
