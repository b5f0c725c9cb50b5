"""Media-loss detection with an explicit clock."""

from __future__ import annotations

import pytest

from gateway.sip.mediawatch import Lost, MediaWatch, Resumed


def test_lost_once_then_resumed_once() -> None:
    watch = MediaWatch(timeout=3.0)
    watch.start("c", packets=10, now=100.0)
    assert watch.observe("c", 60, 101.0) is None
    assert watch.observe("c", 60, 103.9) is None
    assert watch.observe("c", 60, 104.0) == Lost("c", 3.0)
    assert watch.observe("c", 60, 109.0) is None, "reported once"
    assert watch.observe("c", 61, 109.5) == Resumed("c")
    assert watch.observe("c", 62, 110.0) is None


def test_unknown_and_stopped_calls_are_ignored() -> None:
    watch = MediaWatch(timeout=1.0)
    assert watch.observe("x", 0, 5.0) is None
    watch.start("c", 0, 0.0)
    watch.stop("c")
    assert watch.observe("c", 0, 10.0) is None


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^media timeout must be > 0 s, got 0$"):
        MediaWatch(0)
