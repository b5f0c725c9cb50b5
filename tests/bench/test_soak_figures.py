"""The soak benchmark's bookkeeping: what it calls lost, late or growing."""

from __future__ import annotations

import pytest

from bench.soak.figures import (
    Expected,
    Received,
    check_delivery,
    frame_drift,
    growth_per_hour,
    percentiles,
    warm_up_seconds,
)


def test_warm_up_is_a_fifth_of_the_run_at_least_five_minutes_at_most_half() -> None:
    assert warm_up_seconds(3600) == 720
    assert warm_up_seconds(1800) == 360
    assert warm_up_seconds(900) == 300
    assert warm_up_seconds(30) == 15


def test_growth_is_the_fitted_slope_after_warm_up_relative_to_its_start() -> None:
    # 100 MiB growing 10 MiB per hour after a jump during warm-up: 10 %/h
    samples = [(0.0, 50.0), (60.0, 90.0)] + [
        (t, 100 + 10 * (t - 300) / 3600) for t in range(300, 3600, 60)
    ]
    assert growth_per_hour(samples, 300) == pytest.approx(10.0)
    flat = [(float(t), 80.0 + (1 if t % 120 else -1)) for t in range(300, 1800, 60)]
    assert abs(growth_per_hour(flat, 300) or 0) < 1
    assert growth_per_hour(samples[:3], 300) is None


def test_percentiles_are_nearest_rank_and_none_when_empty() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values, 50, 99) == {"p50": 51.0, "p99": 99.0, "max": 100.0}
    assert percentiles([], 50) == {"p50": None, "max": None}


def test_delivery_counts_missing_duplicate_and_reordered_events() -> None:
    expected = [
        Expected(1, "a", 1), Expected(2, "b", 2), Expected(3, "a", 3),
        Expected(4, "b", 4), Expected(5, "c", 5),
    ]  # fmt: skip
    received = [
        Received("a", 1, 1.0), Received("b", 4, 2.0), Received("b", 2, 3.0),
        Received("a", 3, 4.0), Received("a", 3, 5.0), Received(None, 9, 6.0),
        Received("z", 5, 7.0),
    ]  # fmt: skip
    result = check_delivery(expected, received)
    assert result.expected == 5 and result.received == 7
    assert result.missing == [5]
    assert result.duplicates == [3]
    assert result.out_of_order == ["b"]
    assert result.unexpected == 1 and result.link_checks == 1


def test_delivery_of_everything_once_in_order_is_clean() -> None:
    expected = [Expected(i, "a" if i % 2 else "b", i) for i in range(1, 20)]
    received = [Received(e.alarm_id, e.sequence, float(e.event_id)) for e in expected]
    result = check_delivery(expected, reversed(received))  # arrival time decides, not list order
    assert (result.missing, result.duplicates, result.out_of_order) == ([], [], [])


def test_frame_drift_counts_steps_of_the_alignment_modulo_the_loop() -> None:
    loop = 160_000
    assert frame_drift([1000, 1000, 1000], 320, loop) == (0, 0)
    assert frame_drift([1000, 1640, 1640, 1320], 320, loop) == (2, 1)
    # across the loop's end: 159_900 -> 540 is 640 samples later, two frames lost
    assert frame_drift([159_900, 540], 320, loop) == (2, 0)
