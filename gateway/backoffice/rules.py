"""Which safety instructions and escalation contacts apply to an alarm, and in what order.

Pure: no I/O, no clock. Both kinds of entry are scoped the same way, from general
to specific: the whole gateway, a tenant, a site, an agent group, one agent's
device. Every scope field that is set must equal the alarm's; the most specific
entries come first because they say the most about this agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from zoneinfo import ZoneInfo

from gateway.alarm.types import AlarmType
from gateway.dialplan.model import TimeWindow

DEFAULT_ZONE = "Europe/Paris"


class Level(IntEnum):
    """How specific a scope is; lower sorts first."""

    AGENT = 0
    GROUP = 1
    SITE = 2
    TENANT = 3
    ALL = 4


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an entry applies; unset fields match anything."""

    tenant: str | None = None
    site: str | None = None
    agent_group: str | None = None
    device_id: str | None = None

    @property
    def level(self) -> Level:
        if self.device_id is not None:
            return Level.AGENT
        if self.agent_group is not None:
            return Level.GROUP
        if self.site is not None:
            return Level.SITE
        if self.tenant is not None:
            return Level.TENANT
        return Level.ALL

    def matches(self, alarm: AlarmContext) -> bool:
        pairs = (
            (self.tenant, alarm.tenant),
            (self.site, alarm.site),
            (self.agent_group, alarm.agent_group),
            (self.device_id, alarm.device_id),
        )
        return all(wanted is None or wanted == actual for wanted, actual in pairs)


@dataclass(frozen=True, slots=True)
class AlarmContext:
    """What the rules need to know of an alarm and its agent."""

    device_id: str
    alarm_type: AlarmType
    tenant: str | None = None
    site: str | None = None
    agent_group: str | None = None


@dataclass(frozen=True, slots=True)
class Instruction:
    """A safety instruction ("consigne") the operator must follow."""

    id: int
    scope: Scope
    text: str
    alarm_types: frozenset[AlarmType] = frozenset()
    """Empty: every alarm type."""


@dataclass(frozen=True, slots=True)
class Contact:
    """A manager or on-call person to reach when an alarm needs more than the operator."""

    id: int
    scope: Scope
    name: str
    role: str | None = None
    phone: str | None = None
    sip_uri: str | None = None
    webhook_url: str | None = None
    hours: tuple[TimeWindow, ...] = ()
    """When the person can be reached; empty: always."""
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_ZONE))
    rank: int = 0
    """Call order among contacts of the same scope level (lower first)."""

    def available(self, now: datetime) -> bool:
        """Whether ``now`` (aware) falls within the contact's hours."""
        if not self.hours:
            return True
        local = now.astimezone(self.zone)
        return any(window.contains(local) for window in self.hours)


def parse_window(text: str) -> TimeWindow:
    """``"mon-fri 08:00-18:00"`` (as ``TimeWindow.describe`` writes it) into a window.

    Raises ValueError naming what is wrong.
    """
    days, _, hours = text.strip().partition(" ")
    start, dash, end = hours.strip().partition("-")
    if not days or not dash:
        raise ValueError(f"expected days and hours such as 'mon-fri 08:00-18:00', got {text!r}")
    return TimeWindow.model_validate({"days": days.split(","), "from": start, "to": end})


@dataclass(frozen=True, slots=True)
class ContactChoice:
    contact: Contact
    available: bool


def applicable_instructions(
    instructions: Iterable[Instruction], alarm: AlarmContext
) -> list[Instruction]:
    """Those for this alarm: agent first, then group, site, tenant, everyone.

    At the same level, those written for this alarm type come before generic ones;
    then the oldest (lowest id) first, so the order an admin wrote them is kept.
    """
    chosen = [
        i
        for i in instructions
        if i.scope.matches(alarm) and (not i.alarm_types or alarm.alarm_type in i.alarm_types)
    ]
    return sorted(chosen, key=lambda i: (i.scope.level, not i.alarm_types, i.id))


def applicable_contacts(
    contacts: Iterable[Contact], alarm: AlarmContext, now: datetime
) -> list[ContactChoice]:
    """Those for this alarm, reachable ones first, each part most specific scope first.

    Someone off duty is still listed (the operator may need them as a last resort),
    after everyone who is on duty, so the first line is whom to call.
    """
    chosen = [ContactChoice(c, c.available(now)) for c in contacts if c.scope.matches(alarm)]
    return sorted(
        chosen,
        key=lambda c: (not c.available, c.contact.scope.level, c.contact.rank, c.contact.id),
    )
