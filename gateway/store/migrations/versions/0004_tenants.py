"""tenants and pilot mode

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 21:36:54.433472
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("pilot", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tenants")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("pilot", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_devices_tenant_tenants"), "tenants", ["tenant"], ["name"]
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_devices_tenant_tenants"), type_="foreignkey")
        batch_op.drop_column("tenant")

    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_column("pilot")
        batch_op.drop_column("tenant")

    op.drop_table("tenants")
