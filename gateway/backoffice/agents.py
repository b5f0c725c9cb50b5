"""Agents, their devices and the CSV import plan, sans I/O.

An import is checked whole before anything is written: every row is read,
every cell checked, ids compared across the file and against the database
snapshot, and licences counted per tenant. The result is a plan (what to
create, what to change, what is already so) and the errors, each with the
physical CSV line, the column and the reason. The store applies a plan in one
transaction; applying the same file again finds everything unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum

from gateway.auth import token_hash
from gateway.ids import new_secret
from gateway.sip.digest import ha1, new_password

LANGUAGES = ("fr", "en")
"""Languages the gateway speaks and recognises on alarm calls."""

COLUMNS = (
    "agent_id",
    "name",
    "tenant",
    "site",
    "agent_group",
    "language",
    "phone",
    "safety_notes",
    "device_id",
    "sip_uri",
    "label",
    "dc09_account",
)
REQUIRED_COLUMNS = ("agent_id", "name", "tenant")
DEVICE_COLUMNS = ("sip_uri", "label", "dc09_account")
MAX_ROWS = 100_000

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PHONE_SEPARATORS = re.compile(r"[\s.()/-]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_SIP_URI = re.compile(
    r"^(sips?):([A-Za-z0-9._~!$&'*+=%-]+)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$", re.IGNORECASE
)
_DC09_ACCOUNT = re.compile(r"^[0-9A-Fa-f]{3,16}$")


def check_name(value: str) -> str:
    """An id or scope name (agent, device, tenant, site, group): safe in URLs and logs."""
    if len(value) > 64:
        raise ValueError("at most 64 characters")
    if not _NAME.match(value):
        raise ValueError(
            "expected letters, digits, '.', '_' or '-' (starting with one of the first two)"
        )
    return value


def check_language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"unknown language {value!r}; expected one of {', '.join(LANGUAGES)}")
    return value


def check_phone(value: str) -> str:
    """An international number, stored in E.164 form: ``+33 6 12-34.56.78`` -> ``+33612345678``."""
    number = _PHONE_SEPARATORS.sub("", value)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not _E164.match(number):
        raise ValueError(f"expected an international number such as +33612345678, got {value!r}")
    return number


def check_sip_uri(value: str) -> str:
    """A phone's SIP identity as calls are matched: ``sip:user@host``, scheme and host lowercase."""
    match = _SIP_URI.match(value)
    if match is None:
        raise ValueError(
            f"expected a SIP URI such as sip:agent42@example.org (no port or parameters), "
            f"got {value!r}"
        )
    scheme, user, host = match.groups()
    uri = f"{scheme.lower()}:{user}@{host.lower()}"
    if len(uri) > 255:
        raise ValueError("at most 255 characters")
    return uri


def check_dc09_account(value: str) -> str:
    if not _DC09_ACCOUNT.match(value):
        raise ValueError(f"expected 3 to 16 hexadecimal digits (DC-09 account), got {value!r}")
    return value.upper()


def _text(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters, got {len(value)}")
        return value

    return check


CHECKS: dict[str, Callable[[str], str]] = {
    "agent_id": check_name,
    "name": _text(128),
    "tenant": check_name,
    "site": check_name,
    "agent_group": check_name,
    "language": check_language,
    "phone": check_phone,
    "safety_notes": _text(4000),
    "device_id": check_name,
    "sip_uri": check_sip_uri,
    "label": _text(255),
    "dc09_account": check_dc09_account,
}


def licence_refusal(tenant: str, licences: int) -> str:
    """The one message for a device beyond the tenant's licences (API, CLI, import)."""
    return f"tenant {tenant!r} has {licences} licences, all in use"


class Keep(Enum):
    """Leave a field as it is (where None would mean "clear" or "unlimited")."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, slots=True)
class TenantUse:
    """A tenant with what it uses: licences taken, agents, sites and groups in use."""

    name: str
    pilot: bool
    licences: int | None
    """Active devices allowed; None: unlimited."""
    used: int
    """Active (not revoked) devices."""
    agents: int
    sites: tuple[str, ...]
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceSecrets:
    """A device's new credentials: the plain values are shown once, only hashes are stored."""

    token: str
    token_hash: str
    sip_username: str
    sip_password: str
    sip_ha1: str

    @classmethod
    def issue(cls, sip_username: str, realm: str) -> DeviceSecrets:
        token, password = new_secret(), new_password()
        return cls(
            token, token_hash(token), sip_username, password, ha1(sip_username, realm, password)
        )


@dataclass(frozen=True, slots=True)
class Agent:
    """A person equipped with one or more devices."""

    id: str
    name: str
    tenant: str | None
    site: str | None = None
    agent_group: str | None = None
    language: str | None = None
    """Language they speak on alarm calls; a device's own language comes first."""
    phone: str | None = None
    """Their number in E.164 form, for the operator to call back."""
    safety_notes: str | None = None
    """Personal facts the operator must know (health, hearing, usual route)."""


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """What the back office sets on a device; tenant, site and group copy its agent's."""

    id: str
    agent_id: str | None
    sip_uri: str | None = None
    label: str | None = None
    dc09_account: str | None = None
    tenant: str | None = None
    site: str | None = None
    agent_group: str | None = None

    @classmethod
    def of(
        cls,
        device_id: str,
        agent: Agent,
        *,
        sip_uri: str | None = None,
        label: str | None = None,
        dc09_account: str | None = None,
    ) -> DeviceEntry:
        return cls(
            device_id,
            agent.id,
            sip_uri,
            label,
            dc09_account,
            agent.tenant,
            agent.site,
            agent.agent_group,
        )


@dataclass(frozen=True, slots=True)
class KnownDevice:
    entry: DeviceEntry
    active: bool
    """Not revoked: only active devices use a licence."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the database holds about a file's ids, read in the import's transaction."""

    licences: Mapping[str, int | None]
    """Every tenant and its licence count (None: unlimited)."""
    used: Mapping[str, int]
    """Active devices per tenant."""
    agents: Mapping[str, Agent] = field(default_factory=dict)
    devices: Mapping[str, KnownDevice] = field(default_factory=dict)
    sip_owners: Mapping[str, str] = field(default_factory=dict)
    """SIP URI -> the device holding it."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    """Physical line in the file (1 is the header)."""
    column: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    cells: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    """The file's rows, cells stripped; errors here are about the file's shape."""

    rows: tuple[Row, ...]
    errors: tuple[RowError, ...]
    records: int = 0
    """Data rows in the file, including those refused here."""

    def ids(self, column: str) -> frozenset[str]:
        """Every non-empty value of ``column``: what to read from the database."""
        return frozenset(v for row in self.rows if (v := row.cells.get(column, "")))

    def sip_uris(self) -> frozenset[str]:
        uris = set()
        for row in self.rows:
            try:
                uris.add(check_sip_uri(row.cells.get("sip_uri", "")))
            except ValueError:
                continue
        return frozenset(uris)


@dataclass(frozen=True, slots=True)
class Counts:
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class ImportPlan:
    rows: int
    new_agents: tuple[Agent, ...]
    changed_agents: tuple[Agent, ...]
    same_agents: int
    new_devices: tuple[DeviceEntry, ...]
    changed_devices: tuple[DeviceEntry, ...]
    same_devices: int
    errors: tuple[RowError, ...]

    @property
    def agent_counts(self) -> Counts:
        return Counts(len(self.new_agents), len(self.changed_agents), self.same_agents)

    @property
    def device_counts(self) -> Counts:
        return Counts(len(self.new_devices), len(self.changed_devices), self.same_devices)

    @property
    def bad_lines(self) -> int:
        return len({e.line for e in self.errors})


@dataclass(frozen=True, slots=True)
class ImportResult:
    plan: ImportPlan
    applied: bool
    """Whether the plan's good rows were written (not for a dry run or a refused file)."""
    credentials: tuple[tuple[str, DeviceSecrets], ...] = ()
    """(device id, secrets) of each device created, to be shown once."""
    dry_run: bool = False

    def counts(self) -> dict[str, object]:
        """What the audit log keeps of an import: counts, never names or notes."""
        plan = self.plan
        return {
            "rows": plan.rows,
            "refused": plan.bad_lines,
            "agents": asdict(plan.agent_counts),
            "devices": asdict(plan.device_counts),
        }

    def credentials_csv(self) -> str:
        """The new devices' secrets as CSV, to hand over to whoever sets up the phones."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("device_id", "token", "sip_username", "sip_password"))
        for device_id, secrets in self.credentials:
            writer.writerow((device_id, secrets.token, secrets.sip_username, secrets.sip_password))
        return out.getvalue()

    def summary(self) -> str:
        """One sentence saying what happened, for the API answer and the command line."""
        plan = self.plan
        agents, devices = plan.agent_counts, plan.device_counts
        done = (
            f"agents {agents.created} created, {agents.updated} updated, "
            f"{agents.unchanged} unchanged; devices {devices.created} created, "
            f"{devices.updated} updated, {devices.unchanged} unchanged"
        )
        if not plan.errors:
            return done if self.applied else f"all {plan.rows} rows are valid; would do: {done}"
        bad = f"{plan.bad_lines} of {plan.rows} rows refused"
        if self.applied:
            return f"{bad}; the others imported: {done}"
        if self.dry_run:
            return f"{bad}; the others would do: {done}"
        return f"{bad}; nothing imported (a partial import takes the good rows alone)"


def parse_csv(text: str) -> ParsedCsv:
    """Split the file into rows keyed by column; header problems stop here."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[Row] = []
    errors: list[RowError] = []
    last = records = 0
    try:
        for record in reader:
            line, last = last + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header, header_line = [c.strip().lower() for c in record], line
                errors.extend(_header_errors(header, line))
                if errors:
                    return ParsedCsv((), tuple(errors))
                continue
            records += 1
            if records > MAX_ROWS:
                errors.append(RowError(line, None, f"more than {MAX_ROWS} rows; split the file"))
                break
            if len(record) != len(header):
                reason = (
                    f"{len(record)} cells, but the header on line {header_line} has {len(header)}"
                )
                errors.append(RowError(line, None, reason))
                continue
            rows.append(Row(line, {c: v.strip() for c, v in zip(header, record, strict=True)}))
    except csv.Error as exc:
        errors.append(RowError(last + 1, None, f"unreadable CSV: {exc}"))
    if header is None:
        errors.append(RowError(1, None, "empty file: the first line must name the columns"))
    return ParsedCsv(tuple(rows), tuple(errors), records)


def _header_errors(header: list[str], line: int) -> Iterable[RowError]:
    seen: set[str] = set()
    for name in header:
        if name not in CHECKS:
            yield RowError(line, name, f"unknown column; expected some of {', '.join(COLUMNS)}")
        elif name in seen:
            yield RowError(line, name, "column named twice")
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            yield RowError(line, name, "required column missing from the header")


@dataclass(slots=True)
class _Checked:
    """One row once its cells are read: the agent and device it describes."""

    line: int
    agent: Agent
    device: DeviceEntry | None


class _Planner:
    """Checks rows in file order; state carried from row to row (first sightings, licences)."""

    def __init__(self, snapshot: Snapshot, allows: Callable[[str | None], bool]) -> None:
        self.snapshot = snapshot
        self.allows = allows
        self.errors: list[RowError] = []
        self.agent_lines: dict[str, tuple[int, Agent]] = {}
        self.device_lines: dict[str, int] = {}
        self.sip_lines: dict[str, int] = {}

    def read(self, row: Row) -> _Checked | None:
        """The row's agent and device, or None after recording why it is refused."""
        values: dict[str, str | None] = {}
        before = len(self.errors)
        for column in COLUMNS:
            raw = row.cells.get(column, "")
            values[column] = None
            if not raw:
                if column in REQUIRED_COLUMNS:
                    self.errors.append(RowError(row.line, column, "required; the cell is empty"))
                continue
            try:
                values[column] = CHECKS[column](raw)
            except ValueError as exc:
                self.errors.append(RowError(row.line, column, str(exc)))
        device_id = values["device_id"]
        self._check_device_ids(row.line, device_id, values["sip_uri"])
        if device_id is None:
            for column in DEVICE_COLUMNS:
                if values[column] is not None:
                    self.errors.append(RowError(row.line, column, "needs a device_id"))
        if len(self.errors) > before:
            return None
        agent_id, name = values["agent_id"], values["name"]
        assert agent_id is not None and name is not None  # required, checked above
        agent = Agent(
            agent_id,
            name,
            values["tenant"],
            values["site"],
            values["agent_group"],
            values["language"],
            values["phone"],
            values["safety_notes"],
        )
        device = None
        if device_id is not None:
            device = DeviceEntry.of(
                device_id,
                agent,
                sip_uri=values["sip_uri"],
                label=values["label"],
                dc09_account=values["dc09_account"],
            )
        return self._check_against_database(row.line, agent, device)

    def _check_device_ids(self, line: int, device_id: str | None, sip_uri: str | None) -> None:
        if device_id is not None:
            first = self.device_lines.setdefault(device_id, line)
            if first != line:
                self.errors.append(
                    RowError(line, "device_id", f"device {device_id!r} is already on line {first}")
                )
        if sip_uri is not None:
            first = self.sip_lines.setdefault(sip_uri, line)
            if first != line:
                self.errors.append(
                    RowError(line, "sip_uri", f"{sip_uri} is already on line {first}")
                )

    def _check_against_database(
        self, line: int, agent: Agent, device: DeviceEntry | None
    ) -> _Checked | None:
        snapshot = self.snapshot
        reasons: list[tuple[str, str]] = []
        tenant = agent.tenant
        if not self.allows(tenant):
            reasons.append(("tenant", f"tenant {tenant!r} is not one of your tenants"))
        elif tenant not in snapshot.licences:
            reasons.append(("tenant", f"no tenant {tenant!r}; create it first"))
        known = snapshot.agents.get(agent.id)
        if known is not None and known.tenant != tenant:
            where = repr(known.tenant) if self.allows(known.tenant) else "another tenant"
            reasons.append(
                (
                    "tenant",
                    f"agent {agent.id!r} belongs to {where}; an agent does not change tenant",
                )
            )
        first = self.agent_lines.get(agent.id)
        if first is not None and first[1] != agent:
            differ = [
                f.name for f in fields(Agent) if getattr(agent, f.name) != getattr(first[1], f.name)
            ]
            reasons.append(
                (
                    "agent_id",
                    f"agent {agent.id!r} is on line {first[0]} with another {', '.join(differ)}",
                )
            )
        if device is not None:
            held = snapshot.devices.get(device.id)
            if held is not None and not self.allows(held.entry.tenant):
                reasons.append(("device_id", f"device {device.id!r} belongs to another tenant"))
            owner = snapshot.sip_owners.get(device.sip_uri or "")
            if owner is not None and owner != device.id:
                reasons.append(
                    ("sip_uri", f"{device.sip_uri} is the SIP identity of another device")
                )
        self.errors.extend(RowError(line, column, reason) for column, reason in reasons)
        if reasons:
            return None
        self.agent_lines.setdefault(agent.id, (line, agent))
        return _Checked(line, agent, device)

    def within_licences(self, checked: list[_Checked]) -> list[_Checked]:
        """The rows whose device fits its tenant's licences, in file order."""
        used = dict(self.snapshot.used)
        kept: list[_Checked] = []
        for row in checked:
            device = row.device
            held = None if device is None else self.snapshot.devices.get(device.id)
            if (
                device is None
                or device.tenant is None
                # revoked devices use no licence; one staying in its tenant takes no new one
                or (held is not None and (not held.active or held.entry.tenant == device.tenant))
            ):
                kept.append(row)
                continue
            licences = self.snapshot.licences.get(device.tenant)
            if licences is not None and used.get(device.tenant, 0) >= licences:
                self.errors.append(
                    RowError(row.line, "device_id", licence_refusal(device.tenant, licences))
                )
                continue
            used[device.tenant] = used.get(device.tenant, 0) + 1
            if held is not None and held.entry.tenant is not None:
                used[held.entry.tenant] -= 1
            kept.append(row)
        return kept


def plan_import(
    parsed: ParsedCsv,
    snapshot: Snapshot,
    allows: Callable[[str | None], bool] = lambda _tenant: True,
) -> ImportPlan:
    """Check every row and sort the good ones into creations, changes and no-ops.

    ``allows(tenant)`` says whether the importing admin may act on that tenant.
    The plan lists every error; whether to apply the good rows despite them
    (partial import) is the caller's choice.
    """
    planner = _Planner(snapshot, allows)
    planner.errors.extend(parsed.errors)
    checked = [c for row in parsed.rows if (c := planner.read(row)) is not None]
    good = planner.within_licences(checked)
    new_agents: dict[str, Agent] = {}
    changed_agents: dict[str, Agent] = {}
    same_agents: set[str] = set()
    new_devices: list[DeviceEntry] = []
    changed_devices: list[DeviceEntry] = []
    same_devices = 0
    for row in good:
        agent, known = row.agent, snapshot.agents.get(row.agent.id)
        if known is None:
            new_agents[agent.id] = agent
        elif known != agent:
            changed_agents[agent.id] = agent
        else:
            same_agents.add(agent.id)
        if row.device is None:
            continue
        held = snapshot.devices.get(row.device.id)
        if held is None:
            new_devices.append(row.device)
        elif held.entry != row.device:
            changed_devices.append(row.device)
        else:
            same_devices += 1
    return ImportPlan(
        rows=parsed.records,
        new_agents=tuple(new_agents.values()),
        changed_agents=tuple(changed_agents.values()),
        same_agents=len(same_agents),
        new_devices=tuple(new_devices),
        changed_devices=tuple(changed_devices),
        same_devices=same_devices,
        errors=tuple(sorted(planner.errors, key=lambda e: e.line)),
    )
