"""Alembic environment: run migrations on the connection the gateway hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through gateway.store.migrate, not the alembic command")
_run(connection)
