"""lrs profiles: the Japan profile template each statement matches; per-tenant strict mode

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lrs_statements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile_template", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("profile_rules", sa.Text(), nullable=True))
    op.create_table(
        "lrs_tenant_settings",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("profile_strict", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_lrs_tenant_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_lrs_tenant_settings")),
    )


def downgrade() -> None:
    op.drop_table("lrs_tenant_settings")
    with op.batch_alter_table("lrs_statements", schema=None) as batch_op:
        batch_op.drop_column("profile_rules")
        batch_op.drop_column("profile_template")
