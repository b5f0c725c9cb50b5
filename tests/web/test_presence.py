"""Console presence: the last socket closing starts a grace period; reconnecting cancels it."""

from __future__ import annotations

import pytest

from gateway.web.presence import Presence


def test_release_is_due_only_after_the_grace_of_the_last_socket() -> None:
    p = Presence(grace_s=5.0)
    p.opened("alice")
    p.opened("alice")  # two tabs
    p.closed("alice", now=100.0)
    assert p.is_present("alice")
    assert p.next_deadline() is None
    p.closed("alice", now=101.0)
    assert not p.is_present("alice")
    assert p.next_deadline() == 106.0
    assert p.handle_timeout(105.9) == []
    assert p.handle_timeout(106.0) == ["alice"]
    assert p.handle_timeout(200.0) == []  # reported once
    assert p.next_deadline() is None


def test_reconnecting_within_the_grace_cancels_the_release() -> None:
    p = Presence(grace_s=5.0)
    p.opened("alice")
    p.closed("alice", now=10.0)
    p.opened("alice")  # page reload
    assert p.next_deadline() is None
    assert p.handle_timeout(100.0) == []
    assert p.is_present("alice")


def test_several_users_come_due_in_deadline_order() -> None:
    p = Presence(grace_s=2.0)
    for user in ("bob", "alice", "carol"):
        p.opened(user)
    p.closed("carol", now=3.0)
    p.closed("alice", now=1.0)
    p.closed("bob", now=2.0)
    assert p.next_deadline() == 3.0
    assert p.handle_timeout(4.5) == ["alice", "bob"]
    assert p.next_deadline() == 5.0
    assert p.is_present("nobody") is False


def test_misuse_is_refused_with_a_clear_message() -> None:
    p = Presence()
    with pytest.raises(ValueError, match="no console of 'alice' is open"):
        p.closed("alice", now=0.0)
    with pytest.raises(ValueError, match="grace period must be >= 0 seconds, got -1"):
        Presence(grace_s=-1)
