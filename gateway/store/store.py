"""The async store: every alarm change, its timeline entry and its outbox event in one transaction.

The pure alarm machine decides; this module only loads state, asks the machine,
and persists what it returned. SQLite (default) and PostgreSQL share the code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import ReturningInsert

from gateway.alarm.events import AlarmEvent, Position, Raised
from gateway.alarm.machine import AlarmMachine, TimelineEntry, Transition
from gateway.alarm.types import AlarmState, AlarmType, Outcome
from gateway.audit.chain import GENESIS, AuditEntry, canonical_details, entry_hash
from gateway.backoffice.agents import (
    KEEP,
    Agent,
    DeviceEntry,
    DeviceSecrets,
    ImportResult,
    Keep,
    KnownDevice,
    ParsedCsv,
    Snapshot,
    TenantUse,
    licence_refusal,
    plan_import,
)
from gateway.backoffice.rules import Contact, Instruction, Scope, parse_window
from gateway.ids import new_alarm_id
from gateway.outbox.events import EventKind, OutboxEvent
from gateway.privacy import (
    REMOVED,
    TRANSCRIPT_KINDS,
    PersonalData,
    anonymised_payload,
    erased_entry,
    payload_without_words,
    without_transcript,
)
from gateway.store import migrate
from gateway.store.errors import Conflict, NotFound, StoreError
from gateway.store.records import AlarmRecord, Device, NewAlarm, Role, Tenant, User
from gateway.store.schema import (
    agents,
    alarms,
    audit_log,
    contacts,
    devices,
    instructions,
    outbox,
    outbox_cursors,
    outbox_dead_letters,
    sessions,
    tenants,
    timeline,
    user_tenants,
    users,
)

T = TypeVar("T")
DEVICE_CACHE_SECONDS = 5.0
DEVICE_CACHE_SIZE = 100_000
AUDIT_LOCK = 0x61756469  # PostgreSQL advisory lock key serialising audit appends ("audi")


class Store:
    """Access to the gateway's database. Create with :meth:`open`.

    Each public method is one transaction run whole in a worker thread, so the
    event loop pays one thread hop per operation, not one per statement. SQLite
    has one writer at a time, so writes go through a single writer thread.
    """

    def __init__(self, engine: Engine, reference_base: str, pool_size: int = 8) -> None:
        self._engine = engine
        self._reference_base = reference_base.rstrip("/")
        sqlite = engine.dialect.name == "sqlite"
        writers = 1 if sqlite else pool_size
        self._writer = ThreadPoolExecutor(writers, thread_name_prefix="store-write")
        self._readers = ThreadPoolExecutor(4, thread_name_prefix="store-read")
        # token hash -> (device, monotonic expiry): every alarm request authenticates its device
        self._device_cache: dict[str, tuple[Device, float]] = {}
        self._outbox_signals: list[asyncio.Event] = []
        self._closed = False
        self.instance_id: str | None = None
        """The gateway instance using the store: alarms raised through it are its own."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        reference_base: str,
        sqlite_synchronous: str = "full",
        pool_size: int = 8,
    ) -> Store:
        """Connect and migrate to the current schema."""
        engine = create_engine(url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, sqlite_synchronous)

        def upgrade() -> None:
            with engine.begin() as conn:
                migrate.upgrade(conn)

        await asyncio.to_thread(upgrade)
        return cls(engine, reference_base, pool_size)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: what only one backend can do (LISTEN/NOTIFY)."""
        return self._engine.dialect.name

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` as one write transaction (steps from ``gateway.store.instances``)."""
        return await self._write(work)

    async def close(self) -> None:
        self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self._engine.dispose()

    async def _write(self, work: Callable[[Connection], T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")

        def run() -> T:
            with self._engine.begin() as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._writer, run)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")

        def run() -> T:
            with self._engine.connect() as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._readers, run)

    # --- devices and users ---------------------------------------------------------

    async def add_tenant(
        self, name: str, now: datetime, *, pilot: bool = False, licences: int | None = None
    ) -> None:
        """``licences``: active devices allowed (None: unlimited)."""
        statement = insert(tenants).values(
            name=name, pilot=pilot, created_at=now, licences=licences
        )
        try:
            await self._write(lambda conn: conn.execute(statement))
        except IntegrityError:
            raise Conflict(f"tenant {name!r} already exists") from None

    async def tenant(self, name: str) -> Tenant | None:
        query = select(tenants).where(tenants.c.name == name)
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else Tenant(row.name, row.pilot)

    async def add_device(
        self,
        device_id: str,
        token_hash: str,
        now: datetime,
        *,
        sip_uri: str | None = None,
        label: str | None = None,
        dc09_account: str | None = None,
        language: str | None = None,
        tenant: str | None = None,
        site: str | None = None,
        agent_group: str | None = None,
    ) -> None:
        values = dict(
            id=device_id,
            token_hash=token_hash,
            sip_uri=sip_uri,
            label=label,
            created_at=now,
            dc09_account=dc09_account,
            language=language,
            tenant=tenant,
            site=site,
            agent_group=agent_group,
        )

        def write(conn: Connection) -> None:
            _check_licence(conn, tenant)
            conn.execute(insert(devices).values(**values))

        try:
            await self._write(write)
        except IntegrityError:
            raise Conflict(
                f"device {device_id!r} or its SIP URI is already registered, or tenant "
                f"{tenant!r} does not exist"
            ) from None

    async def device_by_token_hash(self, token_hash: str) -> Device | None:
        """The device holding this token; cached a few seconds (a revocation takes that long)."""
        cached = self._device_cache.get(token_hash)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        query = select(devices).where(devices.c.token_hash == token_hash)
        row = await self._read(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        device = _device(row)
        if len(self._device_cache) >= DEVICE_CACHE_SIZE:
            self._device_cache.clear()
        self._device_cache[token_hash] = (device, time.monotonic() + DEVICE_CACHE_SECONDS)
        return device

    async def device_by_id(self, device_id: str) -> Device | None:
        query = select(devices).where(devices.c.id == device_id)
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _device(row)

    async def latest_open_alarm(self, device_id: str) -> AlarmRecord | None:
        """The device's most recent alarm not yet closed: where its voice call belongs."""
        query = (
            select(alarms.c.id)
            .where(alarms.c.device_id == device_id, alarms.c.state != AlarmState.CLOSED.value)
            .order_by(alarms.c.received_at.desc())
            .limit(1)
        )

        def read(conn: Connection) -> AlarmRecord | None:
            alarm_id = conn.execute(query).scalar_one_or_none()
            return None if alarm_id is None else _load(conn, alarm_id)

        return await self._read(read)

    async def device_by_sip_uri(self, sip_uri: str) -> Device | None:
        query = select(devices).where(devices.c.sip_uri == sip_uri)
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _device(row)

    async def rotate_device_token(self, device_id: str, token_hash: str) -> None:
        """Give the device a new token; the old one is refused from now on.

        Raises NotFound, or Conflict if the device is revoked (re-register it instead).
        """

        await self._write(
            lambda conn: _update_active_device(
                conn, device_id, "its token cannot be rotated", token_hash=token_hash
            )
        )
        self._forget_device(device_id)

    async def revoke_device(self, device_id: str, now: datetime) -> None:
        """Refuse the device's token and SIP calls from now on (idempotent). Raises NotFound."""
        statement = (
            update(devices)
            .where(devices.c.id == device_id, devices.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

        def write(conn: Connection) -> None:
            if conn.execute(statement).rowcount == 0 and (
                conn.execute(select(devices.c.id).where(devices.c.id == device_id)).first() is None
            ):
                raise NotFound(f"no device {device_id!r}")

        await self._write(write)
        self._forget_device(device_id)

    def _forget_device(self, device_id: str) -> None:
        """Drop the device from the token cache so a change applies at once in this process."""
        stale = [h for h, (device, _) in self._device_cache.items() if device.id == device_id]
        for token_hash in stale:
            del self._device_cache[token_hash]

    async def add_user(
        self,
        name: str,
        role: Role,
        password_hash: str,
        now: datetime,
        *,
        tenant_names: frozenset[str] = frozenset(),
    ) -> None:
        """A staff account seeing ``tenant_names`` (none: centre-wide), made in one transaction.

        Raises Conflict if the name is taken or a tenant does not exist.
        """
        statement = insert(users).values(
            name=name, role=role.value, password_hash=password_hash, created_at=now
        )

        def write(conn: Connection) -> None:
            try:
                user_id = int(conn.execute(statement.returning(users.c.id)).scalar_one())
            except IntegrityError:
                raise Conflict(f"user {name!r} already exists") from None
            _replace_user_tenants(conn, user_id, tenant_names)

        await self._write(write)

    async def user_by_name(self, name: str) -> User | None:
        query = select(users).where(users.c.name == name, users.c.disabled_at.is_(None))
        return await self._one_user(query)

    async def add_session(
        self, token_hash: str, user_id: int, now: datetime, expires_at: datetime
    ) -> None:
        statement = insert(sessions).values(
            token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
        await self._write(lambda conn: conn.execute(statement))

    async def session_user(self, token_hash: str, now: datetime) -> User | None:
        query = (
            select(users)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(
                sessions.c.token_hash == token_hash,
                sessions.c.expires_at > now,
                users.c.disabled_at.is_(None),
            )
        )
        return await self._one_user(query)

    async def _one_user(self, query: Select[Any]) -> User | None:
        """The user the query finds, with their tenants read in the same transaction."""

        def read(conn: Connection) -> User | None:
            row = conn.execute(query).first()
            return None if row is None else _user(row, _user_tenants(conn, row.id))

        return await self._read(read)

    async def user_tenants(self, user_id: int) -> frozenset[str]:
        """The tenants the user may see; empty: centre-wide staff."""
        return await self._read(lambda conn: _user_tenants(conn, user_id))

    async def set_user_tenants(self, user_id: int, tenant_names: frozenset[str]) -> None:
        """Replace the user's tenants (empty: centre-wide). Raises NotFound or Conflict."""

        def write(conn: Connection) -> None:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
                raise NotFound(f"no user {user_id}")
            _replace_user_tenants(conn, user_id, tenant_names)

        await self._write(write)

    async def users(self) -> list[User]:
        """Every staff account, disabled ones included, by name."""

        def read(conn: Connection) -> list[User]:
            assigned: dict[int, set[str]] = {}
            for row in conn.execute(select(user_tenants)):
                assigned.setdefault(row.user_id, set()).add(row.tenant)
            rows = conn.execute(select(users).order_by(users.c.name)).all()
            return [_user(row, frozenset(assigned.get(row.id, ()))) for row in rows]

        return await self._read(read)

    async def disable_user(self, user_id: int, now: datetime) -> None:
        """Refuse the account's logins from now on and end its sessions (idempotent)."""

        def write(conn: Connection) -> None:
            conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.disabled_at.is_(None))
                .values(disabled_at=now)
            )
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))

        await self._write(write)

    # --- privacy: retention, access and erasure of personal data ---------------------

    async def purge_transcripts(self, closed_before: datetime) -> dict[str, int]:
        """Replace the words of alarms closed before ``closed_before``; entries stay.

        Returns alarm id -> timeline entries changed (already purged ones are not
        counted again). The cue events' copies in the outbox lose their words too.
        """
        old = select(alarms.c.id).where(alarms.c.closed_at < closed_before)
        entries = select(
            timeline.c.id, timeline.c.alarm_id, timeline.c.kind, timeline.c.data
        ).where(timeline.c.alarm_id.in_(old), timeline.c.kind.in_([*TRANSCRIPT_KINDS, "noted"]))
        cues = select(outbox.c.id, outbox.c.payload).where(
            outbox.c.alarm_id.in_(old), outbox.c.kind == EventKind.CUE_DETECTED.value
        )

        def write(conn: Connection) -> dict[str, int]:
            _rewrite_outbox(conn, cues, payload_without_words)
            return _rewrite_timeline(conn, entries, without_transcript)

        return await self._write(write)

    async def personal_data(self, agent_id: str) -> PersonalData | None:
        """The agent's record, devices and alarms with their timelines; None if unknown."""

        def read(conn: Connection) -> PersonalData | None:
            agent = conn.execute(select(agents).where(agents.c.id == agent_id)).first()
            if agent is None:
                return None
            carried = conn.execute(
                select(devices).where(devices.c.agent_id == agent_id).order_by(devices.c.id)
            ).all()
            raised = (
                select(alarms.c.id)
                .where(alarms.c.device_id.in_([d.id for d in carried]))
                .order_by(alarms.c.received_at, alarms.c.id)
            )
            records = [_load(conn, alarm_id) for alarm_id in conn.execute(raised).scalars()]
            return PersonalData(
                _plain(agent),
                [_plain(d, exclude=("token_hash", "sip_ha1")) for d in carried],
                [r for r in records if r is not None],
            )

        return await self._read(read)

    async def erase_agent(self, agent_id: str, now: datetime) -> list[str]:
        """Remove the agent's name, phone, notes, device labels, and their alarms' positions
        and words; the alarms stay as anonymous statistics. Idempotent; returns the ids of
        their alarms. Raises NotFound.
        """
        carried = select(devices.c.id).where(devices.c.agent_id == agent_id)
        theirs = select(alarms.c.id).where(alarms.c.device_id.in_(carried))
        entries = select(
            timeline.c.id, timeline.c.alarm_id, timeline.c.kind, timeline.c.data
        ).where(timeline.c.alarm_id.in_(theirs))
        events = select(outbox.c.id, outbox.c.payload).where(outbox.c.alarm_id.in_(theirs))

        def write(conn: Connection) -> list[str]:
            erased = conn.execute(
                update(agents)
                .where(agents.c.id == agent_id)
                .values(name=REMOVED, phone=None, safety_notes=None, updated_at=now)
            )
            if erased.rowcount == 0:
                raise NotFound(f"no agent {agent_id!r}")
            conn.execute(update(devices).where(devices.c.agent_id == agent_id).values(label=None))
            conn.execute(
                update(alarms)
                .where(alarms.c.id.in_(theirs))
                .values(lat=None, lon=None, accuracy_m=None)
            )
            _rewrite_timeline(conn, entries, erased_entry)
            _rewrite_outbox(conn, events, anonymised_payload)
            return list(conn.execute(theirs.order_by(alarms.c.id)).scalars())

        return await self._write(write)

    async def delete_session(self, token_hash: str) -> None:
        statement = delete(sessions).where(sessions.c.token_hash == token_hash)
        await self._write(lambda conn: conn.execute(statement))

    # --- back office ---------------------------------------------------------------

    async def add_instruction(
        self, scope: Scope, text: str, alarm_types: frozenset[AlarmType], now: datetime
    ) -> Instruction:
        """Store a safety instruction. Raises Conflict if its device does not exist."""
        statement = insert(instructions).values(
            **_scope_values(scope),
            alarm_types=sorted(t.value for t in alarm_types),
            text=text,
            created_at=now,
        )
        try:
            new_id = await self._insert(statement.returning(instructions.c.id))
        except IntegrityError:
            raise Conflict(f"no device {scope.device_id!r} to attach the instruction to") from None
        return Instruction(new_id, scope, text, alarm_types)

    async def instructions(self) -> list[Instruction]:
        query = select(instructions).order_by(instructions.c.id)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_instruction(row) for row in rows]

    async def delete_instruction(self, instruction_id: int) -> None:
        """Raises NotFound."""
        await self._delete(instructions, instruction_id, "instruction")

    async def add_contact(self, contact: Contact, now: datetime) -> Contact:
        """Store an escalation contact (its ``id`` is ignored); returns it with its new id.

        Raises Conflict if its device does not exist.
        """
        statement = insert(contacts).values(
            **_scope_values(contact.scope),
            name=contact.name,
            role=contact.role,
            phone=contact.phone,
            sip_uri=contact.sip_uri,
            webhook_url=contact.webhook_url,
            hours=[window.describe() for window in contact.hours],
            zone=contact.zone.key,
            rank=contact.rank,
            created_at=now,
        )
        try:
            new_id = await self._insert(statement.returning(contacts.c.id))
        except IntegrityError:
            device = contact.scope.device_id
            raise Conflict(f"no device {device!r} to attach the contact to") from None
        return replace(contact, id=new_id)

    async def contacts(self) -> list[Contact]:
        query = select(contacts).order_by(contacts.c.id)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_contact(row) for row in rows]

    async def delete_contact(self, contact_id: int) -> None:
        """Raises NotFound."""
        await self._delete(contacts, contact_id, "contact")

    async def _insert(self, statement: ReturningInsert[Any]) -> int:
        """Run an INSERT ... RETURNING id; the new id."""
        return await self._write(lambda conn: int(conn.execute(statement).scalar_one()))

    async def _delete(self, table: Table, row_id: int, what: str) -> None:
        def write(conn: Connection) -> None:
            if conn.execute(delete(table).where(table.c.id == row_id)).rowcount == 0:
                raise NotFound(f"no {what} {row_id}")

        await self._write(write)

    # --- agents, their devices, licences, CSV import ------------------------------

    async def tenant_uses(self, names: frozenset[str] | None = None) -> list[TenantUse]:
        """Tenants (only ``names`` when given) with their licences in use, sites and groups."""
        return await self._read(lambda conn: _tenant_uses(conn, names))

    async def update_tenant(
        self, name: str, *, pilot: bool | None = None, licences: int | Keep | None = KEEP
    ) -> TenantUse:
        """Change a tenant. Raises NotFound, or Conflict when licences would fall below use."""

        def write(conn: Connection) -> TenantUse:
            found = _tenant_uses(conn, frozenset({name}))
            if not found:
                raise NotFound(f"no tenant {name!r}")
            changes: dict[str, Any] = {} if pilot is None else {"pilot": pilot}
            if not isinstance(licences, Keep):
                if licences is not None and licences < found[0].used:
                    raise Conflict(
                        f"tenant {name!r} uses {found[0].used} licences; revoke devices "
                        f"before lowering it to {licences}"
                    )
                changes["licences"] = licences
            if changes:
                conn.execute(update(tenants).where(tenants.c.name == name).values(**changes))
            return _tenant_uses(conn, frozenset({name}))[0]

        return await self._write(write)

    async def add_agent(self, agent: Agent, now: datetime) -> None:
        """Raises Conflict if the id is taken or the tenant does not exist."""
        statement = insert(agents).values(**_agent_values(agent), created_at=now, updated_at=now)
        try:
            await self._write(lambda conn: conn.execute(statement))
        except IntegrityError:
            raise Conflict(
                f"agent {agent.id!r} already exists, or tenant {agent.tenant!r} does not"
            ) from None

    async def agent(self, agent_id: str) -> Agent | None:
        query = select(agents).where(agents.c.id == agent_id)
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _agent(row)

    async def agents(self, tenant_names: frozenset[str] | None = None) -> list[Agent]:
        """Every agent (of ``tenant_names`` when given), by id."""
        query = select(agents).order_by(agents.c.id)
        if tenant_names is not None:
            query = query.where(agents.c.tenant.in_(sorted(tenant_names)))
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_agent(row) for row in rows]

    async def update_agent(self, agent: Agent, now: datetime) -> None:
        """Rewrite the agent (not its tenant); its devices follow its site and group.

        Raises NotFound.
        """

        def write(conn: Connection) -> list[str]:
            values = _agent_values(agent)
            del values["id"], values["tenant"]
            changed = conn.execute(
                update(agents).where(agents.c.id == agent.id).values(**values, updated_at=now)
            )
            if changed.rowcount == 0:
                raise NotFound(f"no agent {agent.id!r}")
            conn.execute(
                update(devices)
                .where(devices.c.agent_id == agent.id)
                .values(site=agent.site, agent_group=agent.agent_group)
            )
            query = select(devices.c.id).where(devices.c.agent_id == agent.id)
            return list(conn.execute(query).scalars())

        self._forget_devices(set(await self._write(write)))

    async def delete_agent(self, agent_id: str) -> None:
        """Delete the person's record; their devices stay, belonging to no agent.

        Raises NotFound.
        """

        def write(conn: Connection) -> None:
            conn.execute(
                update(devices).where(devices.c.agent_id == agent_id).values(agent_id=None)
            )
            if conn.execute(delete(agents).where(agents.c.id == agent_id)).rowcount == 0:
                raise NotFound(f"no agent {agent_id!r}")

        await self._write(write)

    async def devices(
        self, tenant_names: frozenset[str] | None = None, *, agent_id: str | None = None
    ) -> list[Device]:
        """Devices by id: of ``tenant_names`` and of ``agent_id`` when given."""
        query = select(devices).order_by(devices.c.id)
        if tenant_names is not None:
            query = query.where(devices.c.tenant.in_(sorted(tenant_names)))
        if agent_id is not None:
            query = query.where(devices.c.agent_id == agent_id)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_device(row) for row in rows]

    async def add_agent_device(
        self, device_id: str, agent_id: str, secrets: DeviceSecrets, now: datetime, **extra: Any
    ) -> Device:
        """Give an agent a device (``extra``: sip_uri, label, dc09_account) within licences.

        Raises NotFound (no such agent) or Conflict (id or SIP URI taken, licences all used).
        """

        def write(conn: Connection) -> Device:
            row = conn.execute(select(agents).where(agents.c.id == agent_id)).first()
            if row is None:
                raise NotFound(f"no agent {agent_id!r}")
            entry = DeviceEntry.of(device_id, _agent(row), **extra)
            _check_licence(conn, entry.tenant)
            conn.execute(insert(devices), [_new_device_values(entry, secrets, now)])
            return _device(conn.execute(select(devices).where(devices.c.id == device_id)).one())

        try:
            return await self._write(write)
        except IntegrityError:
            raise Conflict(f"device {device_id!r} or its SIP URI is already registered") from None

    async def set_sip_credentials(self, device_id: str, sip_username: str, sip_ha1: str) -> None:
        """Replace the device's SIP digest credentials. Raises NotFound, or Conflict if revoked."""

        try:
            await self._write(
                lambda conn: _update_active_device(
                    conn, device_id, "register it again", sip_username=sip_username, sip_ha1=sip_ha1
                )
            )
        except IntegrityError:
            raise Conflict(f"SIP username {sip_username!r} belongs to another device") from None

    async def import_agents(
        self,
        parsed: ParsedCsv,
        now: datetime,
        *,
        realm: str,
        allows: Callable[[str | None], bool] = lambda _tenant: True,
        partial: bool = False,
        dry_run: bool = False,
    ) -> ImportResult:
        """Plan the import against the database and, unless refused, apply it: one transaction.

        Without ``partial`` any bad row means nothing is written. New devices get
        a token and SIP credentials (in the result, to be shown once); known
        ones keep theirs, so importing the same file again changes nothing.
        """

        def write(conn: Connection) -> ImportResult:
            plan = plan_import(parsed, _snapshot(conn, parsed), allows)
            if dry_run or (plan.errors and not partial):
                return ImportResult(plan, applied=False, dry_run=dry_run)
            issued = [(entry, DeviceSecrets.issue(entry.id, realm)) for entry in plan.new_devices]
            if plan.new_agents:
                created = [
                    {**_agent_values(a), "created_at": now, "updated_at": now}
                    for a in plan.new_agents
                ]
                conn.execute(insert(agents), created)
            if plan.changed_agents:
                conn.execute(
                    update(agents)
                    .where(agents.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in _AGENT_CHANGES}, updated_at=now),
                    [{**_agent_values(a), "_id": a.id} for a in plan.changed_agents],
                )
                conn.execute(
                    update(devices)
                    .where(devices.c.agent_id == bindparam("_id"))
                    .values(site=bindparam("site"), agent_group=bindparam("agent_group")),
                    [
                        {"_id": a.id, "site": a.site, "agent_group": a.agent_group}
                        for a in plan.changed_agents
                    ],
                )
            if issued:
                conn.execute(insert(devices), [_new_device_values(e, s, now) for e, s in issued])
            if plan.changed_devices:
                conn.execute(
                    update(devices)
                    .where(devices.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in _DEVICE_CHANGES}),
                    [{**_device_values(d), "_id": d.id} for d in plan.changed_devices],
                )
            return ImportResult(plan, applied=True, credentials=tuple((e.id, s) for e, s in issued))

        result = await self._write(write)
        self._forget_devices({d.id for d in result.plan.changed_devices})
        return result

    async def sip_credentials(self, sip_username: str) -> tuple[str, str] | None:
        """(device id, HA1) of an active device's SIP username, for digest checks."""
        query = select(devices.c.id, devices.c.sip_ha1).where(
            devices.c.sip_username == sip_username,
            devices.c.revoked_at.is_(None),
            devices.c.sip_ha1.is_not(None),
        )
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else (row.id, row.sip_ha1)

    def _forget_devices(self, device_ids: set[str]) -> None:
        """Drop these devices from the token cache (tenant, site or group changed)."""
        stale = [h for h, (device, _) in self._device_cache.items() if device.id in device_ids]
        for token_hash in stale:
            del self._device_cache[token_hash]

    # --- alarms --------------------------------------------------------------------

    async def raise_alarm(self, new: NewAlarm, now: datetime) -> tuple[AlarmRecord, bool]:
        """Store a new alarm; with a known idempotency key, return the first one instead.

        Returns (alarm, created). Raises Conflict if the key was used for another request.
        """
        alarm_id = new_alarm_id(int(now.timestamp() * 1000))
        machine = AlarmMachine()
        transition = machine.handle(
            Raised(new.alarm_type, new.position, new.battery_pct, new.channel),
            now,
            f"device:{new.device_id}",
        )
        record = AlarmRecord(
            id=alarm_id,
            device_id=new.device_id,
            alarm_type=new.alarm_type,
            state=machine.state,
            outcome=None,
            handler=None,
            channel=new.channel,
            occurred_at=new.occurred_at,
            received_at=now,
            updated_at=now,
            closed_at=None,
            position=new.position,
            battery_pct=new.battery_pct,
            timeline=(transition.entry,),
        )
        position = new.position

        def write(conn: Connection) -> AlarmRecord:
            where = _tenancy(conn, new.device_id)
            conn.execute(
                insert(alarms).values(
                    id=alarm_id,
                    device_id=new.device_id,
                    type=new.alarm_type.value,
                    state=machine.state.value,
                    channel=new.channel,
                    occurred_at=new.occurred_at,
                    received_at=now,
                    updated_at=now,
                    lat=position.lat if position else None,
                    lon=position.lon if position else None,
                    accuracy_m=position.accuracy_m if position else None,
                    battery_pct=new.battery_pct,
                    idempotency_key=new.idempotency_key,
                    request_hash=new.request_hash,
                    tenant=where.tenant,
                    pilot=where.pilot,
                    site=where.site,
                    agent_group=where.agent_group,
                    owner=self.instance_id,
                )
            )
            stored = replace(
                record,
                tenant=where.tenant,
                pilot=where.pilot,
                site=where.site,
                agent_group=where.agent_group,
            )
            self._persist(conn, stored, transition, seq=1, occurred_at=new.occurred_at)
            return stored

        try:
            record = await self._write(write)
            self._outbox_written()
        except IntegrityError:
            # the idempotency key is known (a retry): answer with the first alarm
            existing = await self._by_idempotency_key(new) if new.idempotency_key else None
            if existing is None:
                raise
            return existing, False
        return record, True

    async def _by_idempotency_key(self, new: NewAlarm) -> AlarmRecord | None:
        def read(conn: Connection) -> AlarmRecord | None:
            row = conn.execute(
                select(alarms).where(
                    alarms.c.device_id == new.device_id,
                    alarms.c.idempotency_key == new.idempotency_key,
                )
            ).first()
            if row is None:
                return None
            if row.request_hash != new.request_hash:
                raise Conflict("Idempotency-Key was already used for a different alarm request")
            return _load(conn, row.id)

        return await self._read(read)

    async def apply(
        self, alarm_id: str, alarm_event: AlarmEvent, actor: str, now: datetime
    ) -> AlarmRecord:
        """Run ``alarm_event`` through the alarm's machine and persist the result.

        Returns the alarm as it now is, its ``timeline`` holding only the new entry
        (``get_alarm`` reads the whole timeline). Raises NotFound, or
        AlarmProtocolError (nothing written) if the machine refuses.
        """
        return await self.apply_all(alarm_id, (alarm_event,), actor, now)

    async def apply_all(
        self, alarm_id: str, alarm_events: Sequence[AlarmEvent], actor: str, now: datetime
    ) -> AlarmRecord:
        """Several events in one transaction: all are stored, or none if one is refused."""

        def write(conn: Connection) -> AlarmRecord:
            row = conn.execute(
                select(alarms).where(alarms.c.id == alarm_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"no alarm {alarm_id!r}")
            machine = AlarmMachine(
                state=AlarmState(row.state),
                handler=row.handler,
                outcome=Outcome(row.outcome) if row.outcome else None,
                raised=True,
            )
            transitions = [machine.handle(event, now, actor) for event in alarm_events]
            changes: dict[str, Any] = {
                "state": machine.state.value,
                "handler": machine.handler,
                "updated_at": now,
                "outcome": machine.outcome.value if machine.outcome else None,
            }
            if machine.state is AlarmState.CLOSED and row.closed_at is None:
                changes["closed_at"] = now
            for transition in transitions:
                position = transition.entry.data.get("position")
                if isinstance(position, dict):
                    changes.update(
                        lat=position["lat"],
                        lon=position["lon"],
                        accuracy_m=position.get("accuracy_m"),
                    )
            conn.execute(update(alarms).where(alarms.c.id == alarm_id).values(**changes))
            updated = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one()
            record = _alarm(updated, tuple(t.entry for t in transitions))
            seq = 0
            if any(t.outbox is not None for t in transitions):
                seq = conn.execute(
                    select(func.coalesce(func.max(outbox.c.seq), 0)).where(
                        outbox.c.alarm_id == alarm_id
                    )
                ).scalar_one()
            for transition in transitions:
                seq += transition.outbox is not None
                self._persist(conn, record, transition, seq=seq, occurred_at=now)
            return record

        record = await self._write(write)
        self._outbox_written()
        return record

    def _persist(
        self,
        conn: Connection,
        record: AlarmRecord,
        transition: Transition,
        *,
        seq: int,
        occurred_at: datetime,
    ) -> None:
        entry = transition.entry
        conn.execute(
            insert(timeline).values(
                alarm_id=record.id,
                at=entry.at,
                actor=entry.actor,
                kind=entry.kind,
                state=entry.state.value,
                data=dict(entry.data),
            )
        )
        if transition.outbox is not None:
            conn.execute(
                insert(outbox).values(
                    alarm_id=record.id,
                    seq=seq,
                    kind=transition.outbox.value,
                    occurred_at=occurred_at,
                    payload=_payload(record, entry, _dc09_account(conn, record.device_id)),
                    created_at=entry.at,
                    reference_url=f"{self._reference_base}/alarms/{record.id}",
                )
            )

    async def get_alarm(self, alarm_id: str) -> AlarmRecord | None:
        return await self._read(lambda conn: _load(conn, alarm_id))

    async def list_alarms(
        self,
        *,
        states: Sequence[AlarmState] = (),
        limit: int = 100,
        received_before: datetime | None = None,
        tenant_names: frozenset[str] | None = None,
    ) -> list[AlarmRecord]:
        """Newest first, without timelines (fetch one alarm for its timeline).

        ``tenant_names``: only those tenants' alarms (None: all, with or without a tenant).
        """
        query = select(alarms).order_by(alarms.c.received_at.desc(), alarms.c.id.desc())
        if tenant_names is not None:
            query = query.where(alarms.c.tenant.in_(tenant_names))
        if states:
            query = query.where(alarms.c.state.in_([s.value for s in states]))
        if received_before is not None:
            query = query.where(alarms.c.received_at < received_before)
        rows = await self._read(lambda conn: conn.execute(query.limit(limit)).all())
        return [_alarm(row, ()) for row in rows]

    async def history(
        self,
        received_from: datetime,
        received_to: datetime,
        limit: int = 10_000,
        tenant_names: frozenset[str] | None = None,
    ) -> list[AlarmRecord]:
        """Alarms received in [from, to), oldest first, each with its full timeline (review).

        ``tenant_names``: only those tenants' alarms (None: all, with or without a tenant).
        """
        query = select(alarms).where(
            alarms.c.received_at >= received_from, alarms.c.received_at < received_to
        )
        if tenant_names is not None:
            query = query.where(alarms.c.tenant.in_(tenant_names))

        def read(conn: Connection) -> list[AlarmRecord]:
            rows = conn.execute(
                query.order_by(alarms.c.received_at, alarms.c.id).limit(limit)
            ).all()
            ids = [row.id for row in rows]
            entries: dict[str, list[TimelineEntry]] = {alarm_id: [] for alarm_id in ids}
            for chunk in range(0, len(ids), 500):
                for e in conn.execute(
                    select(timeline)
                    .where(timeline.c.alarm_id.in_(ids[chunk : chunk + 500]))
                    .order_by(timeline.c.id)
                ):
                    entries[e.alarm_id].append(_entry(e))
            return [_alarm(row, tuple(entries[row.id])) for row in rows]

        return await self._read(read)

    async def count_open_alarms(self) -> int:
        query = (
            select(func.count())
            .select_from(alarms)
            .where(alarms.c.state != AlarmState.CLOSED.value)
        )
        return int(await self._read(lambda conn: conn.execute(query).scalar_one()))

    # --- outbox --------------------------------------------------------------------

    def outbox_signal(self) -> asyncio.Event:
        """An event set whenever a transaction added outbox rows (one per waiter)."""
        signal = asyncio.Event()
        self._outbox_signals.append(signal)
        return signal

    def _outbox_written(self) -> None:
        for signal in self._outbox_signals:
            signal.set()

    async def ensure_cursor(self, sink: str) -> None:
        """Create the sink's cursor at 0 (deliver everything) if it has none yet."""

        def write(conn: Connection) -> None:
            exists = conn.execute(
                select(outbox_cursors.c.sink).where(outbox_cursors.c.sink == sink)
            ).first()
            if exists is None:
                conn.execute(
                    insert(outbox_cursors).values(sink=sink, last_id=0, updated_at=_utc_now())
                )

        await self._write(write)

    async def cursor(self, sink: str) -> int:
        query = select(outbox_cursors.c.last_id).where(outbox_cursors.c.sink == sink)
        return int(await self._read(lambda conn: conn.execute(query).scalar_one()))

    async def advance_cursor(self, sink: str, event_id: int, *, skipped: bool = False) -> None:
        """Mark ``event_id`` (and all before it) dealt with for ``sink``."""
        values: dict[str, Any] = {"last_id": event_id, "updated_at": _utc_now()}
        if not skipped:
            values.update(last_error=None, last_error_at=None)
        statement = (
            update(outbox_cursors)
            .where(outbox_cursors.c.sink == sink, outbox_cursors.c.last_id < event_id)
            .values(**values)
        )
        await self._write(lambda conn: conn.execute(statement))

    async def record_delivery_error(self, sink: str, error: str) -> None:
        statement = (
            update(outbox_cursors)
            .where(outbox_cursors.c.sink == sink)
            .values(last_error=error[:2000], last_error_at=_utc_now())
        )
        await self._write(lambda conn: conn.execute(statement))

    async def dead_letter(self, sink: str, event_id: int, reason: str) -> None:
        """Set one refused event aside (kept for review) and move past it."""
        now = _utc_now()

        def write(conn: Connection) -> None:
            conn.execute(
                insert(outbox_dead_letters).values(
                    sink=sink, event_id=event_id, reason=reason[:2000], at=now
                )
            )
            conn.execute(
                update(outbox_cursors)
                .where(outbox_cursors.c.sink == sink, outbox_cursors.c.last_id < event_id)
                .values(last_id=event_id, updated_at=now)
            )

        await self._write(write)

    async def dead_letters(self, sink: str) -> list[tuple[int, str]]:
        query = (
            select(outbox_dead_letters.c.event_id, outbox_dead_letters.c.reason)
            .where(outbox_dead_letters.c.sink == sink)
            .order_by(outbox_dead_letters.c.id)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [(int(r.event_id), str(r.reason)) for r in rows]

    async def alarm_event(self, alarm_id: str, kind: EventKind) -> OutboxEvent | None:
        """The alarm's first outbox event of ``kind`` (e.g. to hand it to a backup centre)."""
        query = (
            select(outbox)
            .where(outbox.c.alarm_id == alarm_id, outbox.c.kind == kind.value)
            .order_by(outbox.c.id)
            .limit(1)
        )
        row = await self._read(lambda conn: conn.execute(query).first())
        return None if row is None else _event(row)

    async def outbox_backlog(self, after_id: int) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.id > after_id)
        return int(await self._read(lambda conn: conn.execute(query).scalar_one()))

    async def outbox_after(self, last_id: int, limit: int = 100) -> list[OutboxEvent]:
        query = select(outbox).where(outbox.c.id > last_id).order_by(outbox.c.id).limit(limit)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_event(row) for row in rows]

    # --- audit log -----------------------------------------------------------------

    async def append_audit(
        self,
        at: datetime,
        actor: str,
        action: str,
        *,
        source: str | None = None,
        target: str | None = None,
        tenant: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> AuditEntry:
        """Chain a new entry to the last one, in one transaction; returns it.

        Appends are serialised so no two entries share a predecessor: by the
        single writer thread and, across processes, SQLite's write lock (taken
        before the last hash is read) or a PostgreSQL advisory lock.
        Raises ValueError if ``details`` is not plain JSON.
        """
        content = canonical_details(details)

        def write(conn: Connection) -> AuditEntry:
            postgresql = conn.dialect.name == "postgresql"
            conn.execute(_AUDIT_PG_LOCK if postgresql else _AUDIT_SQLITE_LOCK)
            prev_hash = conn.execute(_AUDIT_LAST_HASH).scalar_one_or_none() or GENESIS
            entry = AuditEntry(0, at, actor, source, action, target, tenant, content, prev_hash, "")
            entry = replace(entry, hash=entry_hash(entry))
            values = {f: getattr(entry, f) for f in _AUDIT_FIELDS}
            return replace(entry, id=int(conn.execute(_AUDIT_INSERT, values).scalar_one()))

        return await self._write(write)

    async def audit_entries(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        tenants: frozenset[str] | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Audit entries in id (chain) order: ``start`` <= at < ``end``, after ``after_id``.

        ``tenants`` restricts to entries of those tenants (None: all entries).
        """
        query = select(audit_log).where(audit_log.c.id > after_id).order_by(audit_log.c.id)
        if start is not None:
            query = query.where(audit_log.c.at >= start)
        if end is not None:
            query = query.where(audit_log.c.at < end)
        if tenants is not None:
            query = query.where(audit_log.c.tenant.in_(sorted(tenants)))
        if limit is not None:
            query = query.limit(limit)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_audit_entry(row) for row in rows]


def _load(conn: Connection, alarm_id: str) -> AlarmRecord | None:
    row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).first()
    if row is None:
        return None
    entries = conn.execute(
        select(timeline).where(timeline.c.alarm_id == alarm_id).order_by(timeline.c.id)
    ).all()
    return _alarm(row, tuple(_entry(e) for e in entries))


def _event(row: Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        id=row.id,
        alarm_id=row.alarm_id,
        seq=row.seq,
        kind=EventKind(row.kind),
        occurred_at=row.occurred_at,
        payload=row.payload,
        reference_url=row.reference_url,
    )


def _update_active_device(conn: Connection, device_id: str, if_revoked: str, **values: str) -> None:
    """Change a device that is not revoked. Raises NotFound, or Conflict naming what to do."""
    row = conn.execute(select(devices.c.revoked_at).where(devices.c.id == device_id)).first()
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    if row.revoked_at is not None:
        raise Conflict(f"device {device_id!r} is revoked; {if_revoked}")
    conn.execute(update(devices).where(devices.c.id == device_id).values(**values))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _tune_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@dataclass(frozen=True, slots=True)
class _Tenancy:
    tenant: str | None = None
    pilot: bool = False
    site: str | None = None
    agent_group: str | None = None


def _tenancy(conn: Connection, device_id: str) -> _Tenancy:
    """Where the device belongs, and whether its tenant is on trial (pilot)."""
    row = conn.execute(
        select(devices.c.tenant, devices.c.site, devices.c.agent_group, tenants.c.pilot)
        .select_from(devices.outerjoin(tenants, devices.c.tenant == tenants.c.name))
        .where(devices.c.id == device_id)
    ).first()
    if row is None:
        return _Tenancy()
    return _Tenancy(row.tenant, bool(row.pilot), row.site, row.agent_group)


def _dc09_account(conn: Connection, device_id: str) -> str | None:
    query = select(devices.c.dc09_account).where(devices.c.id == device_id)
    account = conn.execute(query).scalar_one_or_none()
    return None if account is None else str(account)


def _payload(record: AlarmRecord, entry: TimelineEntry, account: str | None) -> dict[str, Any]:
    """What receivers are told; ``account`` only when the device has its own."""
    payload: dict[str, Any] = {
        "alarm_type": record.alarm_type.value,
        "device_id": record.device_id,
        **({"account": account} if account else {}),
        "state": entry.state.value,
        **({"tenant": record.tenant} if record.tenant else {}),
        **({"pilot": True} if record.pilot else {}),
        **{k: v for k, v in entry.data.items() if k != "position"},
    }
    if record.position is not None:
        payload.update(lat=record.position.lat, lon=record.position.lon)
        if record.position.accuracy_m is not None:
            payload["accuracy_m"] = record.position.accuracy_m
    if record.battery_pct is not None:
        payload["battery_pct"] = record.battery_pct
    return payload


def _device(row: Row[Any]) -> Device:
    return Device(
        row.id,
        row.sip_uri,
        row.label,
        row.created_at,
        row.revoked_at,
        row.dc09_account,
        row.language,
        row.tenant,
        row.site,
        row.agent_group,
        row.agent_id,
        row.sip_username,
    )


_AGENT_CHANGES = ("name", "site", "agent_group", "language", "phone", "safety_notes")
_DEVICE_CHANGES = ("agent_id", "sip_uri", "label", "dc09_account", "tenant", "site", "agent_group")


def _agent_values(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "tenant": agent.tenant,
        "name": agent.name,
        "site": agent.site,
        "agent_group": agent.agent_group,
        "language": agent.language,
        "phone": agent.phone,
        "safety_notes": agent.safety_notes,
    }


def _agent(row: Row[Any]) -> Agent:
    return Agent(
        row.id,
        row.name,
        row.tenant,
        row.site,
        row.agent_group,
        row.language,
        row.phone,
        row.safety_notes,
    )


def _device_values(entry: DeviceEntry) -> dict[str, Any]:
    return {column: getattr(entry, column) for column in _DEVICE_CHANGES}


def _new_device_values(entry: DeviceEntry, secrets: DeviceSecrets, now: datetime) -> dict[str, Any]:
    return {
        "id": entry.id,
        **_device_values(entry),
        "token_hash": secrets.token_hash,
        "sip_username": secrets.sip_username,
        "sip_ha1": secrets.sip_ha1,
        "created_at": now,
    }


def _check_licence(conn: Connection, tenant: str | None) -> None:
    """Refuse one more active device beyond the tenant's licences.

    The tenant's row is locked first (PostgreSQL), and SQLite has one writer, so
    two devices added at once cannot both take the last licence.
    """
    if tenant is None:
        return
    query = select(tenants.c.licences).where(tenants.c.name == tenant).with_for_update()
    licences = conn.execute(query).scalar_one_or_none()
    if licences is None:
        return
    used = conn.execute(
        select(func.count())
        .select_from(devices)
        .where(devices.c.tenant == tenant, devices.c.revoked_at.is_(None))
    ).scalar_one()
    if used >= licences:
        raise Conflict(licence_refusal(tenant, licences))


def _licences_used(conn: Connection, names: frozenset[str] | None) -> dict[str, int]:
    query = (
        select(devices.c.tenant, func.count())
        .where(devices.c.revoked_at.is_(None), devices.c.tenant.is_not(None))
        .group_by(devices.c.tenant)
    )
    if names is not None:
        query = query.where(devices.c.tenant.in_(sorted(names)))
    return {tenant: int(count) for tenant, count in conn.execute(query)}


def _tenant_uses(conn: Connection, names: frozenset[str] | None) -> list[TenantUse]:
    query = select(tenants).order_by(tenants.c.name)
    people = select(agents.c.tenant, agents.c.site, agents.c.agent_group)
    equipment = select(devices.c.tenant, devices.c.site, devices.c.agent_group)
    if names is not None:
        query = query.where(tenants.c.name.in_(sorted(names)))
        people = people.where(agents.c.tenant.in_(sorted(names)))
        equipment = equipment.where(devices.c.tenant.in_(sorted(names)))
    used = _licences_used(conn, names)
    counted: dict[str | None, int] = {}
    sites: dict[str | None, set[str]] = {}
    groups: dict[str | None, set[str]] = {}
    for is_agent, rows in ((True, conn.execute(people)), (False, conn.execute(equipment))):
        for tenant, site, group in rows:
            counted[tenant] = counted.get(tenant, 0) + is_agent
            sites.setdefault(tenant, set()).update([site] if site else [])
            groups.setdefault(tenant, set()).update([group] if group else [])
    return [
        TenantUse(
            row.name,
            row.pilot,
            row.licences,
            used.get(row.name, 0),
            counted.get(row.name, 0),
            tuple(sorted(sites.get(row.name, ()))),
            tuple(sorted(groups.get(row.name, ()))),
        )
        for row in conn.execute(query)
    ]


def _chunks(values: frozenset[str], size: int = 500) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _snapshot(conn: Connection, parsed: ParsedCsv) -> Snapshot:
    """What the database holds about the file's tenants, agents, devices and SIP URIs."""
    query = select(tenants.c.name, tenants.c.licences).with_for_update()
    licences = {name: count for name, count in conn.execute(query)}
    known_agents: dict[str, Agent] = {}
    for ids in _chunks(parsed.ids("agent_id")):
        for row in conn.execute(select(agents).where(agents.c.id.in_(ids))):
            known_agents[row.id] = _agent(row)
    known_devices: dict[str, KnownDevice] = {}
    for ids in _chunks(parsed.ids("device_id")):
        for row in conn.execute(select(devices).where(devices.c.id.in_(ids))):
            entry = DeviceEntry(row.id, *(getattr(row, column) for column in _DEVICE_CHANGES))
            known_devices[row.id] = KnownDevice(entry, active=row.revoked_at is None)
    owners: dict[str, str] = {}
    for uris in _chunks(parsed.sip_uris()):
        query = select(devices.c.sip_uri, devices.c.id).where(devices.c.sip_uri.in_(uris))
        owners.update({uri: device_id for uri, device_id in conn.execute(query)})
    return Snapshot(licences, _licences_used(conn, None), known_agents, known_devices, owners)


def _scope_values(scope: Scope) -> dict[str, str | None]:
    return {
        "tenant": scope.tenant,
        "site": scope.site,
        "agent_group": scope.agent_group,
        "device_id": scope.device_id,
    }


def _scope(row: Row[Any]) -> Scope:
    return Scope(row.tenant, row.site, row.agent_group, row.device_id)


def _instruction(row: Row[Any]) -> Instruction:
    types = frozenset(AlarmType(t) for t in row.alarm_types)
    return Instruction(row.id, _scope(row), row.text, types)


_AUDIT_FIELDS = tuple(f.name for f in fields(AuditEntry) if f.name != "id")
_AUDIT_PG_LOCK = select(func.pg_advisory_xact_lock(AUDIT_LOCK))
# a no-op write: SQLite takes its write lock before the last hash is read
_AUDIT_SQLITE_LOCK = update(audit_log).where(audit_log.c.id == -1).values(actor="")
_AUDIT_LAST_HASH = select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)
_AUDIT_INSERT = insert(audit_log).returning(audit_log.c.id)


def _audit_entry(row: Row[Any]) -> AuditEntry:
    return AuditEntry(row.id, *(getattr(row, f) for f in _AUDIT_FIELDS))


def _contact(row: Row[Any]) -> Contact:
    return Contact(
        id=row.id,
        scope=_scope(row),
        name=row.name,
        role=row.role,
        phone=row.phone,
        sip_uri=row.sip_uri,
        webhook_url=row.webhook_url,
        hours=tuple(parse_window(text) for text in row.hours),
        zone=ZoneInfo(row.zone),
        rank=row.rank,
    )


def _user(row: Row[Any], tenant_names: frozenset[str] = frozenset()) -> User:
    disabled = row.disabled_at is not None
    return User(row.id, row.name, Role(row.role), row.password_hash, tenant_names, disabled)


def _rewrite_timeline(
    conn: Connection,
    entries: Select[Any],
    change: Callable[[str, Mapping[str, Any]], dict[str, Any] | None],
) -> dict[str, int]:
    """Apply ``change`` to each entry (id, alarm_id, kind, data); alarm id -> entries changed."""
    changed: dict[str, int] = {}
    for row in conn.execute(entries).all():
        data = change(row.kind, row.data)
        if data is not None:
            conn.execute(update(timeline).where(timeline.c.id == row.id).values(data=data))
            changed[row.alarm_id] = changed.get(row.alarm_id, 0) + 1
    return changed


def _rewrite_outbox(
    conn: Connection,
    events: Select[Any],
    change: Callable[[Mapping[str, Any]], dict[str, Any] | None],
) -> None:
    """Apply ``change`` to each outbox payload (rows of id, payload)."""
    for row in conn.execute(events).all():
        payload = change(row.payload)
        if payload is not None:
            conn.execute(update(outbox).where(outbox.c.id == row.id).values(payload=payload))


def _plain(row: Row[Any], exclude: Sequence[str] = ()) -> dict[str, Any]:
    """A row as JSON-ready values (times in ISO 8601), without the ``exclude`` columns."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in row._mapping.items()
        if key not in exclude
    }


def _replace_user_tenants(conn: Connection, user_id: int, tenant_names: frozenset[str]) -> None:
    """Raises Conflict naming the tenants that do not exist."""
    query = select(tenants.c.name).where(tenants.c.name.in_(tenant_names))
    missing = sorted(tenant_names - set(conn.execute(query).scalars().all()))
    if missing:
        raise Conflict(f"no tenant {', '.join(map(repr, missing))}")
    conn.execute(delete(user_tenants).where(user_tenants.c.user_id == user_id))
    for name in sorted(tenant_names):
        conn.execute(insert(user_tenants).values(user_id=user_id, tenant=name))


def _user_tenants(conn: Connection, user_id: int) -> frozenset[str]:
    query = select(user_tenants.c.tenant).where(user_tenants.c.user_id == user_id)
    return frozenset(conn.execute(query).scalars().all())


def _entry(row: Row[Any]) -> TimelineEntry:
    return TimelineEntry(row.at, row.actor, row.kind, AlarmState(row.state), row.data)


def _alarm(row: Row[Any], entries: tuple[TimelineEntry, ...]) -> AlarmRecord:
    position = (
        Position(row.lat, row.lon, row.accuracy_m)
        if row.lat is not None and row.lon is not None
        else None
    )
    return AlarmRecord(
        id=row.id,
        device_id=row.device_id,
        alarm_type=AlarmType(row.type),
        state=AlarmState(row.state),
        outcome=Outcome(row.outcome) if row.outcome else None,
        handler=row.handler,
        channel=row.channel,
        occurred_at=row.occurred_at,
        received_at=row.received_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        position=position,
        battery_pct=row.battery_pct,
        timeline=entries,
        tenant=row.tenant,
        pilot=bool(row.pilot),
        site=row.site,
        agent_group=row.agent_group,
    )
