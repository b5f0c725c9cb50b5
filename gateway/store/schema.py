"""Tables, in SQLAlchemy Core so SQLite and PostgreSQL share one definition.

Migrations in ``migrations/versions`` must produce exactly this schema; a test
compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = Table(
    "tenants",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("pilot", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("licences", Integer, nullable=True),  # devices allowed; unset: no limit
)

# The people equipped; a device belongs to one agent (an agent may have several).
agents = Table(
    "agents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.name"), nullable=True),
    Column("name", String(128), nullable=False),
    Column("site", String(64), nullable=True),
    Column("agent_group", String(64), nullable=True),
    Column("language", String(8), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("safety_notes", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("sip_uri", String(255), nullable=True, unique=True),
    Column("label", String(255), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("dc09_account", String(16), nullable=True),
    Column("language", String(8), nullable=True),
    Column("tenant", String(64), ForeignKey("tenants.name"), nullable=True),
    Column("site", String(64), nullable=True),
    Column("agent_group", String(64), nullable=True),
    Column("agent_id", String(64), ForeignKey("agents.id"), nullable=True),
    # Digest credentials: HA1 = MD5(username:realm:password), as SIP edges (Kamailio) read it.
    Column("sip_username", String(64), nullable=True, unique=True),
    Column("sip_ha1", String(64), nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
)

# Tenants a staff member may see; a user with none is centre-wide staff.
user_tenants = Table(
    "user_tenants",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.name"), primary_key=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("outcome", String(32), nullable=True),
    Column("handler", String(64), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("accuracy_m", Float, nullable=True),
    Column("battery_pct", Integer, nullable=True),
    Column("idempotency_key", String(128), nullable=True),
    Column("request_hash", String(64), nullable=True),
    Column("tenant", String(64), nullable=True),
    Column("pilot", Boolean, nullable=False, default=False, server_default=false()),
    Column("site", String(64), nullable=True),
    Column("agent_group", String(64), nullable=True),
    # The gateway instance that runs the alarm's call and escalation (several on PostgreSQL).
    Column("owner", String(64), nullable=True),
    UniqueConstraint("device_id", "idempotency_key", name="uq_alarms_device_idempotency"),
    Index("ix_alarms_state", "state"),
    Index("ix_alarms_received_at", "received_at"),
)

timeline = Table(
    "timeline",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("alarm_id", String(32), ForeignKey("alarms.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", JSON, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("alarm_id", String(32), ForeignKey("alarms.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("reference_url", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("alarm_id", "seq", name="uq_outbox_alarm_seq"),
)

outbox_cursors = Table(
    "outbox_cursors",
    metadata,
    Column("sink", String(64), primary_key=True),
    Column("last_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UTCDateTime(), nullable=True),
    # The instance delivering to this sink until lease_until; the others stand by.
    Column("owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
)

# Gateway instances sharing the database; one whose heartbeat is old is dead.
instances = Table(
    "instances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
)

outbox_dead_letters = Table(
    "outbox_dead_letters",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("sink", String(64), nullable=False),
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

# Back office: scoped from general to specific; an unset scope column matches anything.
instructions = Table(
    "instructions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=True),
    Column("site", String(64), nullable=True),
    Column("agent_group", String(64), nullable=True),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=True),
    Column("alarm_types", JSON, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=True),
    Column("site", String(64), nullable=True),
    Column("agent_group", String(64), nullable=True),
    Column("device_id", String(64), ForeignKey("devices.id"), nullable=True),
    Column("name", String(128), nullable=False),
    Column("role", String(64), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("sip_uri", String(255), nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("hours", JSON, nullable=False),
    Column("zone", String(64), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Append-only and tamper-evident: each entry's hash covers the previous entry's hash.
audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("source", String(128), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=True),
    Column("tenant", String(64), nullable=True),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_audit_log_at", "at"),
)
