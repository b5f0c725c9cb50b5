"""Request and response bodies of the back office; the OpenAPI document is built from them."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, model_validator

from gateway.alarm.types import AlarmType
from gateway.api.schemas import Body
from gateway.backoffice.rules import (
    DEFAULT_ZONE,
    Contact,
    ContactChoice,
    Instruction,
    Level,
    Scope,
    parse_window,
)
from gateway.store.records import Device

LevelName = Literal["agent", "group", "site", "tenant", "all"]
_LEVEL_NAMES: dict[Level, LevelName] = {
    Level.AGENT: "agent",
    Level.GROUP: "group",
    Level.SITE: "site",
    Level.TENANT: "tenant",
    Level.ALL: "all",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("expected a name of letters, digits, '.', '_' or '-'")
    return value


def _window(value: str) -> str:
    return parse_window(value).describe()  # canonical form, as stored and shown


def _zone(value: str) -> str:
    try:
        return ZoneInfo(value).key
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown IANA time zone (e.g. 'Europe/Paris')") from None


ScopeName = Annotated[str, Field(max_length=64), AfterValidator(_name)]
Window = Annotated[
    str,
    Field(max_length=64, description="Days and hours, e.g. 'mon-fri 08:00-18:00'"),
    AfterValidator(_window),
]


class ScopeFields(BaseModel):
    """Where the entry applies; each field set must match the alarm's, unset matches all."""

    tenant: ScopeName | None = None
    site: ScopeName | None = None
    agent_group: ScopeName | None = None
    device_id: ScopeName | None = Field(None, description="One agent's device")

    def scope(self) -> Scope:
        return Scope(self.tenant, self.site, self.agent_group, self.device_id)


class InstructionIn(ScopeFields, Body):
    """A safety instruction shown to operators on the alarm card."""

    text: str = Field(min_length=1, max_length=4000)
    alarm_types: list[AlarmType] = Field(
        default_factory=list, description="Only for these alarm types; empty: all"
    )


class InstructionOut(ScopeFields):
    id: int
    level: LevelName = Field(description="How specific its scope is")
    text: str
    alarm_types: list[AlarmType]

    @classmethod
    def of(cls, instruction: Instruction) -> InstructionOut:
        scope = instruction.scope
        return cls(
            id=instruction.id,
            tenant=scope.tenant,
            site=scope.site,
            agent_group=scope.agent_group,
            device_id=scope.device_id,
            level=_LEVEL_NAMES[scope.level],
            text=instruction.text,
            alarm_types=sorted(instruction.alarm_types),
        )


class InstructionList(BaseModel):
    instructions: list[InstructionOut]


class ContactFields(ScopeFields):
    name: str = Field(min_length=1, max_length=128)
    role: str | None = Field(None, max_length=64, description="e.g. site manager, on call")
    phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 .-]{2,30}$")
    sip_uri: str | None = Field(None, max_length=255, pattern=r"^sips?:[^\s@]+(@\S+)?$")
    webhook_url: str | None = Field(None, max_length=2000, pattern=r"^https?://[^\s/]+\S*$")
    hours: list[Window] = Field(
        default_factory=list, max_length=14, description="When reachable; empty: always"
    )
    zone: Annotated[str, AfterValidator(_zone)] = Field(
        DEFAULT_ZONE, description="IANA time zone the hours are in"
    )
    rank: int = Field(0, ge=0, le=1000, description="Call order within the same scope level")


class ContactIn(ContactFields, Body):
    """A manager or on-call person to reach; at least one way to reach them."""

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if not (self.phone or self.sip_uri or self.webhook_url):
            raise ValueError("give at least one of phone, sip_uri or webhook_url")
        return self

    def contact(self) -> Contact:
        return Contact(
            id=0,
            scope=self.scope(),
            name=self.name,
            role=self.role,
            phone=self.phone,
            sip_uri=self.sip_uri,
            webhook_url=self.webhook_url,
            hours=tuple(parse_window(h) for h in self.hours),
            zone=ZoneInfo(self.zone),
            rank=self.rank,
        )


class ContactOut(ContactFields):
    id: int
    level: LevelName = Field(description="How specific its scope is")

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        scope = contact.scope
        return cls(
            id=contact.id,
            tenant=scope.tenant,
            site=scope.site,
            agent_group=scope.agent_group,
            device_id=scope.device_id,
            level=_LEVEL_NAMES[scope.level],
            name=contact.name,
            role=contact.role,
            phone=contact.phone,
            sip_uri=contact.sip_uri,
            webhook_url=contact.webhook_url,
            hours=[w.describe() for w in contact.hours],
            zone=contact.zone.key,
            rank=contact.rank,
        )


class ContactList(BaseModel):
    contacts: list[ContactOut]


class BriefingContact(ContactOut):
    available: bool = Field(description="Within their hours now")

    @classmethod
    def chosen(cls, choice: ContactChoice) -> BriefingContact:
        out = ContactOut.of(choice.contact)
        return cls(**out.model_dump(), available=choice.available)


class AgentOut(BaseModel):
    device_id: str
    label: str | None
    tenant: str | None
    site: str | None
    agent_group: str | None
    language: str | None

    @classmethod
    def of(cls, device: Device) -> AgentOut:
        return cls(
            device_id=device.id,
            label=device.label,
            tenant=device.tenant,
            site=device.site,
            agent_group=device.agent_group,
            language=device.language,
        )


class BriefingOut(BaseModel):
    """What the operator needs beside the alarm: who the agent is, what to do, whom to call."""

    alarm_id: str
    agent: AgentOut
    instructions: list[InstructionOut] = Field(description="Most specific first")
    contacts: list[BriefingContact] = Field(
        description="Reachable now first, then most specific scope, then rank"
    )


class TokenOut(BaseModel):
    device_id: str
    token: str = Field(description="The new device token, shown only this once")
