"""lrs: xAPI credentials, statements and their index tables, activities, documents, attachments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 04:06:16.014990
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "lrs_activities",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "activity_id", name=op.f("pk_lrs_activities")),
    )
    op.create_table(
        "lrs_attachments",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("sha2", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "sha2", name=op.f("pk_lrs_attachments")),
    )
    op.create_table(
        "lrs_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("agent_ifi", sa.Text(), nullable=False),
        sa.Column("registration", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("etag", sa.String(length=40), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lrs_documents")),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "activity_id",
            "agent_ifi",
            "registration",
            "document_id",
            name=op.f(
                "uq_lrs_documents_tenant_id_kind_activity_id_agent_ifi_registration_document_id"
            ),
        ),
    )
    with op.batch_alter_table("lrs_documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lrs_documents_set", ["tenant_id", "kind", "activity_id", "agent_ifi"], unique=False
        )

    op.create_table(
        "lrs_statement_activities",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("related", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "activity_id", name=op.f("pk_lrs_statement_activities")),
    )
    with op.batch_alter_table("lrs_statement_activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lrs_statement_activities_id", ["tenant_id", "activity_id", "seq"], unique=False
        )

    op.create_table(
        "lrs_statement_agents",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("ifi", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("related", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "ifi", name=op.f("pk_lrs_statement_agents")),
    )
    with op.batch_alter_table("lrs_statement_agents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lrs_statement_agents_ifi", ["tenant_id", "ifi", "seq"], unique=False
        )

    op.create_table(
        "lrs_statements",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.Column("verb_id", sa.Text(), nullable=False),
        sa.Column("registration", sa.String(length=36), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("voiding_target", sa.String(length=36), nullable=True),
        sa.Column("ref_target", sa.String(length=36), nullable=True),
        sa.Column("stored", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_lrs_statements")),
        sa.UniqueConstraint(
            "tenant_id", "statement_id", name=op.f("uq_lrs_statements_tenant_id_statement_id")
        ),
    )
    with op.batch_alter_table("lrs_statements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lrs_statements_credential", ["tenant_id", "credential_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_lrs_statements_ref_target", ["tenant_id", "ref_target"], unique=False
        )
        batch_op.create_index(
            "ix_lrs_statements_registration", ["tenant_id", "registration", "seq"], unique=False
        )
        batch_op.create_index("ix_lrs_statements_tenant_seq", ["tenant_id", "seq"], unique=False)
        batch_op.create_index(
            "ix_lrs_statements_verb", ["tenant_id", "verb_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_lrs_statements_voiding", ["tenant_id", "voiding_target"], unique=False
        )

    op.create_table(
        "lrs_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_lrs_credentials_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lrs_credentials")),
        sa.UniqueConstraint("key", name=op.f("uq_lrs_credentials_key")),
    )
    with op.batch_alter_table("lrs_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lrs_credentials_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("lrs_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lrs_credentials_tenant_id"))

    op.drop_table("lrs_credentials")
    with op.batch_alter_table("lrs_statements", schema=None) as batch_op:
        batch_op.drop_index("ix_lrs_statements_voiding")
        batch_op.drop_index("ix_lrs_statements_verb")
        batch_op.drop_index("ix_lrs_statements_tenant_seq")
        batch_op.drop_index("ix_lrs_statements_registration")
        batch_op.drop_index("ix_lrs_statements_ref_target")
        batch_op.drop_index("ix_lrs_statements_credential")

    op.drop_table("lrs_statements")
    with op.batch_alter_table("lrs_statement_agents", schema=None) as batch_op:
        batch_op.drop_index("ix_lrs_statement_agents_ifi")

    op.drop_table("lrs_statement_agents")
    with op.batch_alter_table("lrs_statement_activities", schema=None) as batch_op:
        batch_op.drop_index("ix_lrs_statement_activities_id")

    op.drop_table("lrs_statement_activities")
    with op.batch_alter_table("lrs_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_lrs_documents_set")

    op.drop_table("lrs_documents")
    op.drop_table("lrs_attachments")
    op.drop_table("lrs_activities")
