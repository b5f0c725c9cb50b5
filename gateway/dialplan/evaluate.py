"""Pure decisions on a loaded plan set: which route takes an alarm, who is reachable now.

Wall-clock time is always an argument (an aware ``datetime``); it is converted
to the plan's IANA time zone with ``zoneinfo``, so daylight-saving changes and
windows crossing midnight behave as the local clock reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from gateway.alarm.types import AlarmState, AlarmType
from gateway.dialplan.errors import DialplanUsageError
from gateway.dialplan.model import Contact, Match, PlanSet, Route, TimeWindow

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AlarmContext:
    """What the dialplan needs to know about an alarm to route and escalate it."""

    alarm_id: str
    tenant: str
    alarm_type: AlarmType
    agent: str
    """How messages name the agent (name or account)."""
    site: str | None = None
    agent_group: str | None = None
    state: AlarmState = AlarmState.RECEIVED
    cues: frozenset[str] = frozenset()
    """Cues already detected, e.g. ``distress``."""
    pilot: bool = False
    """The tenant is on trial: nothing is forwarded to a monitoring centre."""
    rotation: int = 0
    """Where round-robin groups start; the runner advances it per alarm."""

    def __post_init__(self) -> None:
        for name in ("alarm_id", "tenant", "agent"):
            if not getattr(self, name):
                raise DialplanUsageError(f"AlarmContext.{name} must not be empty")
        if self.rotation < 0:
            raise DialplanUsageError(f"AlarmContext.rotation must be >= 0, got {self.rotation}")


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The route chosen for an alarm and whether it goes to the monitoring centre."""

    route: Route
    forward_to_receiver: bool
    reasons: tuple[str, ...] = field(default=())
    """Why the route matched and, when not forwarding, why not."""


def select_route(plans: PlanSet, context: AlarmContext, wall: datetime) -> RouteDecision:
    """The first route whose conditions all hold at ``wall`` (aware datetime).

    Loading guarantees a final catch-all route, so a route is always found.
    """
    _require_aware(wall)
    for route in plans.routes:
        if _matches(plans, route.match, context, wall):
            return _decide(route, context, wall)
    raise AssertionError("a loaded plan set always ends with a catch-all route")


def _decide(route: Route, context: AlarmContext, wall: datetime) -> RouteDecision:
    reasons = [f"route {route.name!r} matched at {wall.isoformat(timespec='seconds')}"]
    forward = route.forward_to_receiver
    if context.pilot and forward:
        forward = False
        reasons.append(
            f"tenant {context.tenant!r} is in pilot mode: nothing is forwarded to the "
            "monitoring centre's receiver"
        )
    elif not forward:
        reasons.append(f"route {route.name!r} does not forward to the monitoring centre's receiver")
    return RouteDecision(route, forward, tuple(reasons))


def _matches(plans: PlanSet, match: Match, context: AlarmContext, wall: datetime) -> bool:
    if not _any_of(match.tenants, context.tenant):
        return False
    if not _any_of(match.sites, context.site):
        return False
    if not _any_of(match.agent_groups, context.agent_group):
        return False
    if not _any_of(match.alarm_types, context.alarm_type):
        return False
    if not _any_of(match.states, context.state):
        return False
    if match.cues is not None and not context.cues.intersection(match.cues):
        return False
    if match.pilot is not None and match.pilot != context.pilot:
        return False
    local = wall.astimezone(match.timezone or plans.timezone)
    if match.holidays is not None and local.date() not in plans.holidays[match.holidays]:
        return False
    if match.except_holidays is not None and local.date() in plans.holidays[match.except_holidays]:
        return False
    return match.hours is None or in_windows(match.hours, local)


def _any_of(allowed: Sequence[T] | None, value: T | None) -> bool:
    return allowed is None or (value is not None and value in allowed)


def in_windows(windows: Sequence[TimeWindow], local: datetime) -> bool:
    """Whether ``local`` (already in the right zone) falls in any window."""
    return any(window.contains(local) for window in windows)


def contact_availability(plans: PlanSet, contact: Contact, wall: datetime) -> str | None:
    """None when the contact can be reached at ``wall``, else why not (for the timeline)."""
    _require_aware(wall)
    zone: ZoneInfo = contact.timezone or plans.timezone
    local = wall.astimezone(zone)
    if in_windows(contact.available, local):
        return None
    hours = "; ".join(window.describe() for window in contact.available)
    return f"outside availability hours ({hours} {zone.key}; now {local:%a %H:%M})"


def _require_aware(wall: datetime) -> None:
    if wall.tzinfo is None or wall.utcoffset() is None:
        raise DialplanUsageError(f"wall-clock time must be timezone-aware, got {wall.isoformat()}")
