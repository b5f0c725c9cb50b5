"""Errors of the dialplan package. Refused files raise ``gateway.config.errors.ConfigError``."""

from __future__ import annotations


class DialplanError(Exception):
    """Root of the errors raised by dialplan code at run time."""


class DialplanUsageError(DialplanError, ValueError):
    """The caller passed a value the dialplan cannot work with (e.g. a naive datetime)."""


class EscalationProtocolError(DialplanError):
    """An event that cannot happen in the escalation's current state.

    It means the runner and the machine disagree about the alarm: the runner
    should log it with the alarm id and keep the machine (whose state is unchanged).
    """
