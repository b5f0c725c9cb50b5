"""Request and response bodies of the back office; the OpenAPI document is built from them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, model_validator

from gateway.alarm.types import AlarmType
from gateway.api.schemas import Body
from gateway.backoffice.agents import (
    LANGUAGES,
    Agent,
    Counts,
    TenantUse,
    check_dc09_account,
    check_language,
    check_name,
    check_phone,
    check_sip_uri,
)
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
    agent_id: str | None = None
    name: str | None = None
    phone: str | None = Field(None, description="To call the agent back (E.164)")
    safety_notes: str | None = Field(None, description="Personal facts the operator must know")

    @classmethod
    def of(cls, device: Device, agent: Agent | None = None) -> AgentOut:
        """The device's agent; the person's record, when it has one, adds who and how to reach."""
        return cls(
            device_id=device.id,
            label=device.label,
            tenant=device.tenant,
            site=device.site,
            agent_group=device.agent_group,
            language=device.language or (agent and agent.language),
            agent_id=device.agent_id,
            name=agent and agent.name,
            phone=agent and agent.phone,
            safety_notes=agent and agent.safety_notes,
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


# --- tenants, agents, devices, CSV import -------------------------------------------

Name = Annotated[str, Field(max_length=64), AfterValidator(check_name)]
Language = Annotated[
    str, Field(json_schema_extra={"enum": list(LANGUAGES)}), AfterValidator(check_language)
]
Phone = Annotated[
    str,
    Field(max_length=40, description="International number; stored as E.164 (+33612345678)"),
    AfterValidator(check_phone),
]
SipUri = Annotated[
    str,
    Field(max_length=255, description="The phone's SIP identity, e.g. sip:agent42@example.org"),
    AfterValidator(check_sip_uri),
]
Dc09Account = Annotated[
    str, Field(max_length=16, description="3 to 16 hex digits"), AfterValidator(check_dc09_account)
]
Licences = Annotated[
    int | None, Field(ge=0, le=1_000_000, description="Active devices allowed; null: unlimited")
]


class TenantIn(Body):
    """An organisation (e.g. a regional directorate) and how many devices it may have."""

    name: Name
    pilot: bool = Field(False, description="On trial: alarms never forwarded to the centre")
    licences: Licences = None


class TenantPatch(Body):
    """Only the fields sent change; ``licences: null`` makes it unlimited."""

    pilot: bool | None = None
    licences: Licences = None


class TenantOut(BaseModel):
    name: str
    pilot: bool
    licences: int | None
    used: int = Field(description="Active (not revoked) devices: licences in use")
    agents: int
    sites: list[str] = Field(description="Sites of its agents and devices")
    groups: list[str] = Field(description="Agent groups of its agents and devices")

    @classmethod
    def of(cls, use: TenantUse) -> TenantOut:
        return cls(
            name=use.name,
            pilot=use.pilot,
            licences=use.licences,
            used=use.used,
            agents=use.agents,
            sites=list(use.sites),
            groups=list(use.groups),
        )


class TenantList(BaseModel):
    tenants: list[TenantOut]


class AgentFields(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    site: Name | None = None
    agent_group: Name | None = None
    language: Language | None = Field(None, description="Spoken on alarm calls")
    phone: Phone | None = None
    safety_notes: str | None = Field(
        None, max_length=4000, description="Personal facts the operator must know"
    )


class AgentIn(AgentFields, Body):
    """A person equipped with devices; the tenant is fixed once created."""

    id: Name
    tenant: Name

    def agent(self) -> Agent:
        return Agent(
            self.id,
            self.name,
            self.tenant,
            self.site,
            self.agent_group,
            self.language,
            self.phone,
            self.safety_notes,
        )


class AgentPatch(Body):
    """Only the fields sent change; null clears one (not the name)."""

    name: str = Field("", min_length=1, max_length=128)
    site: Name | None = None
    agent_group: Name | None = None
    language: Language | None = None
    phone: Phone | None = None
    safety_notes: str | None = Field(None, max_length=4000)

    def applied_to(self, agent: Agent) -> Agent:
        return replace(agent, **{name: getattr(self, name) for name in self.model_fields_set})


class AgentDetail(AgentFields):
    id: str
    tenant: str | None
    devices: list[str] = Field(description="Ids of the devices they carry")

    @classmethod
    def of(cls, agent: Agent, device_ids: list[str]) -> AgentDetail:
        return cls(
            id=agent.id,
            tenant=agent.tenant,
            name=agent.name,
            site=agent.site,
            agent_group=agent.agent_group,
            language=agent.language,
            phone=agent.phone,
            safety_notes=agent.safety_notes,
            devices=device_ids,
        )


class AgentList(BaseModel):
    agents: list[AgentDetail]


class DeviceIn(Body):
    """A phone for an agent; it takes the agent's tenant (one licence), site and group."""

    id: Name
    agent_id: Name
    sip_uri: SipUri | None = None
    label: str | None = Field(None, max_length=255)
    dc09_account: Dc09Account | None = None


class DeviceOut(BaseModel):
    id: str
    agent_id: str | None
    tenant: str | None
    site: str | None
    agent_group: str | None
    sip_uri: str | None
    sip_username: str | None = Field(description="Digest username; null: no SIP credentials")
    label: str | None
    dc09_account: str | None
    language: str | None
    created_at: datetime
    revoked: bool

    @classmethod
    def of(cls, device: Device) -> DeviceOut:
        return cls(
            id=device.id,
            agent_id=device.agent_id,
            tenant=device.tenant,
            site=device.site,
            agent_group=device.agent_group,
            sip_uri=device.sip_uri,
            sip_username=device.sip_username,
            label=device.label,
            dc09_account=device.dc09_account,
            language=device.language,
            created_at=device.created_at,
            revoked=device.revoked_at is not None,
        )


class DeviceList(BaseModel):
    devices: list[DeviceOut]


class SipCredentialsOut(BaseModel):
    device_id: str
    realm: str
    sip_username: str
    sip_password: str = Field(description="Shown only this once; the gateway keeps its HA1")


class DeviceCreated(BaseModel):
    device: DeviceOut
    token: str = Field(description="The device token, shown only this once")
    sip: SipCredentialsOut


class ImportErrorOut(BaseModel):
    line: int = Field(description="Physical line in the file; 1 is the header")
    column: str | None
    reason: str


class CountsOut(BaseModel):
    created: int
    updated: int
    unchanged: int

    @classmethod
    def of(cls, counts: Counts) -> CountsOut:
        return cls(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)


class NewDeviceOut(BaseModel):
    device_id: str
    token: str
    sip_username: str
    sip_password: str


class ImportOut(BaseModel):
    """What an import did or would do; new devices' secrets appear here only, once."""

    mode: Literal["all", "partial", "validate"]
    applied: bool = Field(description="Whether anything was written")
    message: str
    rows: int
    realm: str = Field(description="SIP realm of the credentials below")
    agents: CountsOut
    devices: CountsOut
    errors: list[ImportErrorOut]
    credentials: list[NewDeviceOut] = Field(description="One per device created")
