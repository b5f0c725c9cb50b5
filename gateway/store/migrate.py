"""Bring a database to the current schema with Alembic, at every start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from gateway.store.schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection) -> None:
    """Apply every pending migration (idempotent)."""
    command.upgrade(alembic_config(connection), "head")


def drift(connection: Connection) -> list[object]:
    """Differences between the migrated database and ``schema.py`` (empty when in sync)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))
