"""When to retry a failed delivery, and when to give up on one event. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off; an event the receiver keeps *refusing* is set aside.

    A receiver that is unreachable is retried forever: nothing accepted may be
    lost. A receiver that answers but refuses one event (DC-09 ``DUH``, HTTP
    4xx) would block every later event of every alarm, so after
    ``max_refusals`` that one event is dead-lettered, logged and counted.
    """

    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_refusals: int = 5

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (from 1)."""
        if failures < 1:
            return 0.0
        return float(min(self.max_delay_s, self.first_delay_s * 2 ** (failures - 1)))

    def give_up(self, refusals: int) -> bool:
        return refusals >= self.max_refusals
