"""From outbox events to DC-09 messages, driven by a data file (``mapping.yaml``).

Which code an event becomes is policy the monitoring centre agrees with the
operator, so it lives in YAML, validated with file:line errors. Turning an event
into a message is pure: no clock, no I/O beyond reading the file in ``load_mapping``.
"""

from __future__ import annotations

import math
import string
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.alarm.types import AlarmType
from gateway.config.errors import ConfigError, ConfigIssue, KeyPath
from gateway.config.locate import issues_from_validation, line_of, load_yaml
from gateway.dc09.content import (
    ContactIdEvent,
    Message,
    Qualifier,
    SiaEvent,
    adm_cid_data,
    sia_data,
)
from gateway.dc09.errors import LocalProtocolError
from gateway.dc09.frame import XData
from gateway.dc09.grammar import ACCOUNT_DIGITS, TIMESTAMP_FORMAT, XDATA_MAX, Token, is_hex
from gateway.outbox.errors import DeliveryError
from gateway.outbox.events import EventKind, OutboxEvent

DEFAULT_MAPPING = Path(__file__).with_name("mapping.yaml")
ANY = "*"
XDATA_FIELDS = frozenset("XYIVH")
"""xdata the mapper can add: X/Y position, I text, V reference URL, H occurrence time."""


class InvalidEventError(DeliveryError):
    """The event cannot be expressed in DC-09 (e.g. its account is not hexadecimal)."""

    permanent = True


class CodeEntry(BaseModel):
    """One row of the mapping: Contact ID code and qualifier, SIA code, text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cid: int = Field(ge=100, le=999, description="Contact ID event code")
    qualifier: Literal["new", "restore"] = "new"
    sia: str = Field(pattern=r"^[A-Z]{2}$", description="SIA DC-03 event code")
    text: str = ""

    @field_validator("text")
    @classmethod
    def _plain_placeholders(cls, text: str) -> str:
        for _, name, spec, conversion in string.Formatter().parse(text):
            if name is not None and (not name.isidentifier() or spec or conversion):
                raise ValueError("text placeholders must be plain names like {cause}")
        return text


class MappingFile(BaseModel):
    """The whole ``mapping.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    area: int = Field(1, ge=0, le=99)
    zone: int = Field(1, ge=0, le=999)
    events: dict[EventKind, dict[str, CodeEntry | None] | None]


def parse_mapping(text: str, file: str) -> EventMapping:
    """Validate mapping YAML; ConfigError lists every problem with its line."""
    data, lines = load_yaml(text, file)
    try:
        model = MappingFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc, file, lines)) from None
    issues: list[ConfigIssue] = []
    for kind in EventKind:
        path: KeyPath = ("events", kind.value)
        if kind not in model.events:
            issues.append(ConfigIssue(file, line_of(lines, path), path, "event kind is missing"))
            continue
        rows = model.events[kind]
        if rows is None:
            continue
        known = {t.value for t in AlarmType} | {ANY}
        for key in rows:
            if key not in known:
                where: KeyPath = ("events", kind.value, key)
                issues.append(
                    ConfigIssue(file, line_of(lines, where), where, "not an alarm type nor '*'")
                )
        missing = [t.value for t in AlarmType if t.value not in rows]
        if missing and ANY not in rows:
            issues.append(
                ConfigIssue(
                    file,
                    line_of(lines, path),
                    path,
                    f"no code for {', '.join(missing)}: add them or a '*' entry",
                )
            )
    if issues:
        raise ConfigError(issues)
    return EventMapping(model)


def load_mapping(path: Path | None = None) -> EventMapping:
    """Read and validate a mapping file (the packaged default if ``path`` is None)."""
    path = path or DEFAULT_MAPPING
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(path), None, (), f"cannot read: {exc}")]) from None
    return parse_mapping(text, str(path))


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def field_text(text: str, limit: int = XDATA_MAX) -> str:
    """Fold text into what a DC-09 field can carry: ASCII, no brackets, one line."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = folded.translate(str.maketrans("[]", "()"))
    return " ".join("".join(ch if ch.isprintable() else " " for ch in folded).split())[:limit]


def _coordinate(value: Any, bound: float) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or abs(number) > bound:
        return None
    return f"{number:.6f}"


@dataclass(frozen=True, slots=True)
class EventMapping:
    """A validated mapping; ``message_for`` turns an outbox event into a DC-09 message."""

    file: MappingFile

    def entry_for(self, event: OutboxEvent) -> CodeEntry | None:
        """The code row for this event, or None if it is not forwarded."""
        rows = self.file.events.get(event.kind)
        if rows is None:
            return None
        alarm_type = str(event.payload.get("alarm_type", ""))
        if alarm_type in rows:
            return rows[alarm_type]
        if ANY in rows:
            return rows[ANY]
        raise InvalidEventError(
            f"event {event.id}: alarm_type {alarm_type!r} has no DC-09 code for {event.kind.value}"
        )

    def message_for(
        self,
        event: OutboxEvent,
        *,
        default_account: str,
        token: Token = Token.SIA_DCS,
        xdata: Collection[str] = XDATA_FIELDS,
    ) -> Message | None:
        """The message to send for ``event``, or None when the mapping does not forward it."""
        entry = self.entry_for(event)
        if entry is None:
            return None
        account = str(event.payload.get("account") or default_account).upper()
        if not is_hex(account, ACCOUNT_DIGITS):
            raise InvalidEventError(
                f"event {event.id}: account {account!r} is not 3-16 hexadecimal digits"
            )
        if token is Token.ADM_CID:
            qualifier = Qualifier.RESTORE if entry.qualifier == "restore" else Qualifier.NEW
            data = adm_cid_data(
                ContactIdEvent(account, qualifier, entry.cid, self.file.area, self.file.zone)
            )
        elif token is Token.SIA_DCS:
            data = sia_data(SiaEvent(account, entry.sia, self.file.area, self.file.zone))
        else:
            raise LocalProtocolError(f"Events are sent as SIA-DCS or ADM-CID, not {token.value}.")
        return Message(token, account, data, self._xdata(event, entry, xdata))

    @staticmethod
    def _xdata(event: OutboxEvent, entry: CodeEntry, wanted: Collection[str]) -> tuple[XData, ...]:
        payload: Mapping[str, Any] = event.payload
        fields: list[XData] = []
        lon = _coordinate(payload.get("lon"), 180.0)
        lat = _coordinate(payload.get("lat"), 90.0)
        if lon is not None and lat is not None:
            fields += [XData("X", lon), XData("Y", lat)]
        text = field_text(entry.text.format_map(_Blank(payload)))
        if text:
            fields.append(XData("I", text))
        url = (event.reference_url or "").replace("[", "%5B").replace("]", "%5D")
        if url and len(url) <= XDATA_MAX and url.isascii() and url.isprintable():
            fields.append(XData("V", url))
        occurred = event.occurred_at
        if occurred.tzinfo is not None:
            fields.append(XData("H", occurred.astimezone(UTC).strftime(TIMESTAMP_FORMAT)))
        return tuple(x for x in fields if x.identifier in wanted)
