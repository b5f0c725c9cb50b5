"""Who may hear a call: the handler or a supervisor, only while the alarm is open."""

from __future__ import annotations

import pytest

from gateway.alarm.types import AlarmState
from gateway.web.access import may_hear

S = AlarmState


@pytest.mark.parametrize(
    ("state", "handler", "user", "supervisor", "allowed"),
    [
        (S.ACCEPTED, "alice", "alice", False, True),
        (S.ESCALATED, "alice", "alice", False, True),
        (S.ACCEPTED, "alice", "bob", False, False),
        (S.OFFERED, None, "bob", False, False),
        (S.OFFERED, None, "sup", True, True),
        (S.ACCEPTED, "alice", "sup", True, True),
        (S.CLOSED, "alice", "alice", False, False),
        (S.CLOSED, None, "sup", True, False),
    ],
)
def test_may_hear(
    state: AlarmState, handler: str | None, user: str, supervisor: bool, allowed: bool
) -> None:
    assert may_hear(state, handler, user, supervisor) is allowed
