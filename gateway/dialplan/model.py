"""The dialplan file format, as pydantic models that refuse anything unexpected.

One YAML file holds definitions (operator groups, backup centres, manager
contact lists, holiday calendars) and routes. Several files form one
``PlanSet`` (see ``gateway.dialplan.load``), which checks references across
files. Models are frozen: a loaded plan set never changes under a running alarm.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from gateway.alarm.types import AlarmState, AlarmType

# --- scalar types -----------------------------------------------------------------------


def _seconds(value: Any) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise ValueError("expected seconds > 0")
    return float(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number >= 1")
    return value


def _zone(value: Any) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError("expected an IANA time zone name such as 'Europe/Paris'")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown IANA time zone (e.g. 'Europe/Paris')") from None


_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _time_of_day(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 8:00 as the base-60 number 480.
        raise ValueError(
            'expected a quoted time of day such as "08:00" (unquoted, YAML reads a number)'
        )
    if not isinstance(value, str) or not _TIME.match(value):
        raise ValueError('expected a time of day "HH:MM" from "00:00" to "23:59"')
    return time(int(value[:2]), int(value[3:]))


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _days(value: Any) -> frozenset[int]:
    """Parse ``[mon, wed-fri]`` into ISO weekday indexes (Monday is 0)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("expected a list of days such as [mon, tue] or [mon-fri]")
    days: set[int] = set()
    for item in items:
        first, _, last = str(item).partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(
                f"unknown day {item!r} (expected mon, tue, wed, thu, fri, sat, sun "
                "or a range such as mon-fri)"
            )
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        # a range may wrap past Sunday: fri-mon
        days.update((start + k) % 7 for k in range((end - start) % 7 + 1))
    return frozenset(days)


def _sip_uri(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^sips?:[^\s@]+(@[^\s]+)?$", value):
        raise ValueError("expected a SIP URI starting with sip: or sips:")
    return value


def _http_url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _dtmf_key(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # YAML reads an unquoted 1 as a number
    if not isinstance(value, str) or not re.match(r"^[0-9*#]$", value):
        raise ValueError("expected one DTMF key: 0-9, * or #")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError("expected a name of letters, digits, '.', '_' or '-'")
    return value


def _member(value: Any) -> str:
    """A console operator's user name, or a SIP station URI."""
    if isinstance(value, str) and value.startswith(("sip:", "sips:")):
        return _sip_uri(value)
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError("expected an operator user name or a SIP URI (sip:desk1@pbx.example)")
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]
Count = Annotated[int, BeforeValidator(_count)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]
Days = Annotated[frozenset[int], BeforeValidator(_days)]
SipUri = Annotated[str, BeforeValidator(_sip_uri)]
HttpUrl = Annotated[str, BeforeValidator(_http_url)]
Name = Annotated[str, BeforeValidator(_name)]
DtmfKey = Annotated[str, BeforeValidator(_dtmf_key)]
Member = Annotated[str, BeforeValidator(_member)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# --- time windows -----------------------------------------------------------------------


class TimeWindow(_Model):
    """Days and hours, local to the plan's time zone.

    A window whose ``to`` is not after ``from`` crosses midnight and belongs to
    the day it starts on: ``fri 22:00-06:00`` covers Saturday 03:00.
    """

    days: Days = frozenset(range(7))
    start: TimeOfDay = Field(time(0, 0), alias="from")
    end: TimeOfDay = Field(time(0, 0), alias="to")
    """``to: "00:00"`` means the end of the day."""

    def contains(self, local: datetime) -> bool:
        """Whether the local wall time falls inside the window."""
        clock = local.time().replace(tzinfo=None)
        weekday = local.weekday()
        if self.start < self.end:
            return weekday in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return weekday in self.days
        # after midnight: the window started the day before
        return (weekday - 1) % 7 in self.days and clock < self.end

    def describe(self) -> str:
        """``mon,tue 08:00-18:00``, for timeline notes."""
        names = ",".join(_DAYS[d] for d in sorted(self.days))
        return f"{names} {self.start:%H:%M}-{self.end:%H:%M}"


# --- definitions ------------------------------------------------------------------------


class Strategy(StrEnum):
    """How an offer reaches the members of a group."""

    ALL_AT_ONCE = "all_at_once"  # every member's console/station rings together
    IN_TURN = "in_turn"  # one member at a time, always from the first
    ROUND_ROBIN = "round_robin"  # one at a time, starting after the last alarm's first


class OperatorGroup(_Model):
    """Operators who can accept an alarm: console users and/or SIP stations."""

    members: list[Member] = Field(min_length=1)
    strategy: Strategy = Strategy.ALL_AT_ONCE
    ring_time: Seconds = 10.0
    """Per member, for in_turn and round_robin."""


class BackupCentre(_Model):
    """Another monitoring centre that takes alarms nobody here accepted."""

    dc09_receiver: Name | None = None
    """Name of a DC-09 receiver in the gateway configuration."""
    sip_trunk: SipUri | None = None

    @model_validator(mode="after")
    def _one_target(self) -> BackupCentre:
        if (self.dc09_receiver is None) == (self.sip_trunk is None):
            raise ValueError("give exactly one of dc09_receiver or sip_trunk")
        return self

    @property
    def target(self) -> str:
        """The receiver name or trunk URI the alarm is forwarded to."""
        return self.dc09_receiver or self.sip_trunk or ""


class Contact(_Model):
    """A manager (or anyone to inform), with the hours they can be reached."""

    name: str = Field(min_length=1)
    role: str = ""
    webhook: HttpUrl | None = None
    sip: SipUri | None = None
    """Called with a spoken message; pressing 1 acknowledges."""
    available: list[TimeWindow] = Field(default_factory=lambda: [TimeWindow.model_validate({})])
    timezone: Zone | None = None
    """Overrides the plan's time zone for ``available``."""

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if self.webhook is None and self.sip is None:
            raise ValueError("a contact needs a webhook, a sip URI or both")
        return self


class ContactList(_Model):
    """Contacts tried in order until one acknowledges, for at most ``rounds`` rounds."""

    contacts: list[Contact] = Field(min_length=1)
    ack_timeout: Seconds = 60.0
    rounds: Count = 3
    ack_digit: DtmfKey = "1"
    """The DTMF key that acknowledges a call."""

    @model_validator(mode="after")
    def _unique_names(self) -> ContactList:
        names = [contact.name for contact in self.contacts]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(
                    f"contact names must be unique in a list, {name!r} appears more than once"
                )
        return self

    def contact(self, name: str) -> Contact | None:
        """The contact called ``name``, if in this list."""
        return next((c for c in self.contacts if c.name == name), None)


# --- routes -----------------------------------------------------------------------------


class Match(_Model):
    """Conditions of a route; all given ones must hold, each list means "any of"."""

    tenants: list[str] | None = Field(None, min_length=1)
    sites: list[str] | None = Field(None, min_length=1)
    agent_groups: list[str] | None = Field(None, min_length=1)
    alarm_types: list[AlarmType] | None = Field(None, min_length=1)
    states: list[AlarmState] | None = Field(None, min_length=1)
    cues: list[str] | None = Field(None, min_length=1)
    pilot: bool | None = None
    hours: list[TimeWindow] | None = Field(None, min_length=1)
    holidays: Name | None = None
    """Matches only on the dates of this holiday calendar."""
    except_holidays: Name | None = None
    """Never matches on the dates of this holiday calendar."""
    timezone: Zone | None = None

    def is_catch_all(self) -> bool:
        """A route without conditions takes every alarm."""
        return all(getattr(self, name) is None for name in _CONDITIONS)


_CONDITIONS = tuple(name for name in Match.model_fields if name != "timezone")


class OfferStep(_Model):
    """Offer to a group, withdrawing earlier offers."""

    kind: Literal["offer"] = "offer"
    offer: Name
    timeout: Seconds = 10.0

    @property
    def target(self) -> str:
        """The operator group offered to."""
        return self.offer


class OverflowStep(_Model):
    """Offer to one more group while earlier offers keep ringing."""

    kind: Literal["overflow"] = "overflow"
    overflow: Name
    timeout: Seconds = 20.0

    @property
    def target(self) -> str:
        """The operator group added to the offer."""
        return self.overflow


class BackupStep(_Model):
    """Withdraw local offers and forward the alarm to a backup centre."""

    kind: Literal["backup"] = "backup"
    backup: Name
    timeout: Seconds = 60.0
    """How long to wait for the backup centre to take the alarm."""

    @property
    def target(self) -> str:
        """The backup centre forwarded to."""
        return self.backup


STEP_KINDS = ("offer", "overflow", "backup")


def _step_kind(value: Any) -> str:
    """The tag set by ``_check_step``, which runs first."""
    return str(value["kind"] if isinstance(value, dict) else value.kind)


def _check_step(value: Any) -> Any:
    """Name the problem when a step's kind cannot be told from its keys."""
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, dict):
        raise ValueError("expected a step such as {offer: <group>, timeout: 10}")
    kinds = [k for k in STEP_KINDS if k in value]
    if len(kinds) > 1:
        raise ValueError(f"a step has exactly one kind, got {' and '.join(kinds)}")
    if not kinds:
        unknown = ", ".join(repr(k) for k in value if k not in {"timeout", "kind"}) or "none"
        raise ValueError(f"unknown step kind {unknown} (expected one of: {', '.join(STEP_KINDS)})")
    return {**value, "kind": kinds[0]}


Step = Annotated[
    Annotated[OfferStep, Tag("offer")]
    | Annotated[OverflowStep, Tag("overflow")]
    | Annotated[BackupStep, Tag("backup")],
    Discriminator(_step_kind),
    BeforeValidator(_check_step),
]


class Callback(_Model):
    """Call the phone back (auto-answer) after its call dropped."""

    attempts: Count = 3
    spacing: Seconds = 20.0
    first_after: float = Field(0.0, ge=0)


class NoResponse(_Model):
    """Start the no-response procedure after this long without the agent's voice."""

    after: Seconds = 30.0


class Trigger(StrEnum):
    """Moments at which managers are informed."""

    DISPATCH = "dispatch"  # emergency services sent
    DOUBT_REMOVED = "doubt_removed"  # verification ended: false alarm, agent safe, cancelled
    NO_RESPONSE = "no_response"  # the agent does not answer
    DISTRESS_CUE = "distress_cue"  # speech analysis heard distress


#: Fields a notification message may use, e.g. ``"{agent} ({site}): {alarm_type}"``.
MESSAGE_FIELDS = frozenset({"alarm_id", "alarm_type", "agent", "site", "tenant", "outcome", "cue"})


def _message(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a message text")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError:
        raise ValueError(
            "unbalanced braces in message (write {{ and }} for literal braces)"
        ) from None
    unknown = sorted(fields - MESSAGE_FIELDS)
    if unknown:
        raise ValueError(
            f"unknown field {{{unknown[0]}}} in message "
            f"(available: {', '.join('{' + f + '}' for f in sorted(MESSAGE_FIELDS))})"
        )
    return value


class Notify(_Model):
    """Inform a contact list, in order, until one contact acknowledges."""

    notify: Name
    message: Annotated[str, BeforeValidator(_message)]


class CueNotify(Notify):
    """Inform a contact list when one of these cues is detected."""

    cues: list[str] = Field(default_factory=lambda: ["distress"], min_length=1)
    """Cue names fed by the runner, e.g. ``distress`` (speech assessment), ``shouting``."""


class Triggers(_Model):
    """Who is informed of what; a missing trigger informs nobody (and says so in the timeline)."""

    dispatch: Notify | None = None
    doubt_removed: Notify | None = None
    no_response: Notify | None = None
    distress_cue: CueNotify | None = None

    def get(self, trigger: Trigger) -> Notify | None:
        """The notification configured for ``trigger``, if any."""
        found: Notify | None = getattr(self, trigger.value)
        return found


class Route(_Model):
    """Where an alarm goes and what happens when nobody answers."""

    name: Name
    match: Match = Field(default_factory=lambda: Match.model_validate({}))
    steps: list[Step] = Field(min_length=1)
    forward_to_receiver: bool = True
    """Forward the alarm to the monitoring centre's DC-09 receiver (never for pilot tenants)."""
    callback: Callback | None = None
    no_response: NoResponse | None = None
    triggers: Triggers = Field(default_factory=Triggers)


class PlanFile(_Model):
    """One dialplan file. Every section is optional but routes live in one of the files.

    Top-level keys starting with ``x-`` are ignored: they hold YAML anchors that
    routes share.
    """

    timezone: Zone | None = None
    operator_groups: dict[Name, OperatorGroup] = Field(default_factory=dict)
    backup_centres: dict[Name, BackupCentre] = Field(default_factory=dict)
    contact_lists: dict[Name, ContactList] = Field(default_factory=dict)
    holidays: dict[Name, list[date]] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not str(k).startswith("x-")}
        return data


# --- the loaded set ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanSet:
    """Every definition and route of the loaded files, references checked.

    Routes are in file-name order, then file order; the last one takes every alarm.
    """

    timezone: ZoneInfo
    operator_groups: Mapping[str, OperatorGroup]
    backup_centres: Mapping[str, BackupCentre]
    contact_lists: Mapping[str, ContactList]
    holidays: Mapping[str, frozenset[date]]
    routes: tuple[Route, ...]
    files: tuple[str, ...]

    def route(self, name: str) -> Route:
        """The route called ``name`` (KeyError if none)."""
        for route in self.routes:
            if route.name == name:
                return route
        raise KeyError(name)
