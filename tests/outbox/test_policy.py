"""Back-off and dead-letter policy."""

from __future__ import annotations

from gateway.outbox.policy import RetryPolicy


def test_delay_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay_s=0.5, max_delay_s=4.0)
    assert [policy.delay(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_gives_up_only_after_repeated_refusals() -> None:
    policy = RetryPolicy(max_refusals=3)
    assert [policy.give_up(n) for n in range(5)] == [False, False, False, True, True]
