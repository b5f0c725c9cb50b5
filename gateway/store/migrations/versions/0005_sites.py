"""sites and agent groups

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:59:32.154174
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("agent_group", sa.String(length=64), nullable=True))

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("agent_group", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("agent_group")
        batch_op.drop_column("site")

    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_column("agent_group")
        batch_op.drop_column("site")
