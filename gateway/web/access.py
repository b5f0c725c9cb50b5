"""Who may hear an alarm's call: one rule for opening a leg and for keeping it."""

from __future__ import annotations

from gateway.alarm.types import AlarmState


def may_hear(state: AlarmState, handler: str | None, user: str, supervisor: bool) -> bool:
    """The handling operator, or any supervisor (silent monitoring), while the alarm is open.

    Everyone else is refused: CNIL expects listening to be limited to the people
    who handle the alarm.
    """
    if state is AlarmState.CLOSED:
        return False
    return supervisor or handler == user
