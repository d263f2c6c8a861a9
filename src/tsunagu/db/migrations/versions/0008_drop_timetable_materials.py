"""timetable: drop timetable_materials (materials are LTI resource links by placement)

The table came with 0007, before the portal placed materials as LTI resource links; nothing has
written or read it since, and loading a slot still cost a second SELECT on it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:25:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("timetable_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timetable_materials_slot_id"))
    op.drop_table("timetable_materials")


def downgrade() -> None:
    op.create_table(
        "timetable_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("resource_link_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("tool_name", sa.Text(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["timetable_slots.id"],
            name=op.f("fk_timetable_materials_slot_id_timetable_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timetable_materials")),
    )
    with op.batch_alter_table("timetable_materials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timetable_materials_slot_id"), ["slot_id"], unique=False
        )
