"""lrs: statement-id registry, stored-time index; monthly partitions of statements on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:30:00

* ``lrs_statement_ids`` (every dialect): the ``(tenant, statement id)`` unique key, with the
  content hash and voiding target the write path checks. Filled from existing statements.
* ``lrs_statements`` loses its unique constraint (the registry holds it) and the voiding index
  (the registry answers that lookup), and gains ``(tenant_id, statement_id)`` and
  ``(tenant_id, stored)`` indexes.
* PostgreSQL: ``lrs_statements`` becomes a table partitioned by RANGE (``stored``), one partition
  per UTC month, from the month of the oldest stored statement to three months ahead. Existing
  rows are copied in this migration's transaction (PostgreSQL DDL is transactional: a failure
  leaves the old table as it was); ``seq`` keeps its sequence, so ``more`` tokens stay valid.
  Large existing stores copy at roughly the speed of an INSERT … SELECT; plan the upgrade.
* ``lrs_statement_agents`` / ``lrs_statement_activities`` gain ``stored`` (copied from their
  statement), so a filter's join on ``(seq, stored)`` probes one partition per candidate instead
  of every month; their primary key becomes the filter index ``(tenant_id, value, seq)``
  (INCLUDE stored, related on PostgreSQL) and the separate filter index goes.
* The ``ref_target`` and registry ``voiding_target`` indexes become partial (``IS NOT NULL``):
  most statements have neither, and a NULL entry is index work on every insert for nothing.
  The Japan profile columns of 0003 (``profile_template``, ``profile_rules``) are carried over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "seq, tenant_id, statement_id, credential_id, verb_id, registration, voided, "
    "voiding_target, ref_target, stored, content_hash, payload, profile_template, profile_rules"
)
_INDEXES = (
    ("ix_lrs_statements_statement_id", "tenant_id, statement_id"),
    ("ix_lrs_statements_tenant_seq", "tenant_id, seq"),
    ("ix_lrs_statements_stored", "tenant_id, stored"),
    ("ix_lrs_statements_verb", "tenant_id, verb_id, seq"),
    ("ix_lrs_statements_registration", "tenant_id, registration, seq"),
    ("ix_lrs_statements_ref_target", "tenant_id, ref_target) WHERE (ref_target IS NOT NULL"),
    ("ix_lrs_statements_credential", "tenant_id, credential_id, seq"),
)


def _create_registry() -> None:
    op.create_table(
        "lrs_statement_ids",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("voiding_target", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "statement_id", name=op.f("pk_lrs_statement_ids")),
    )
    op.create_index(
        "ix_lrs_statement_ids_voiding",
        "lrs_statement_ids",
        ["tenant_id", "voiding_target"],
        postgresql_where=sa.text("voiding_target IS NOT NULL"),
        sqlite_where=sa.text("voiding_target IS NOT NULL"),
    )
    op.execute(
        "INSERT INTO lrs_statement_ids (tenant_id, statement_id, seq, content_hash, "
        "voiding_target) SELECT tenant_id, statement_id, seq, content_hash, voiding_target "
        "FROM lrs_statements"
    )


# (table, filter index, its value column)
_INDEX_TABLES = (
    ("lrs_statement_agents", "ix_lrs_statement_agents_ifi", "ifi"),
    ("lrs_statement_activities", "ix_lrs_statement_activities_id", "activity_id"),
)


def _index_tables_stored() -> None:
    """``stored`` of each index row, copied from its statement, NOT NULL; the primary key
    becomes the filter index ``(tenant_id, value, seq)`` (on PostgreSQL INCLUDE stored, related)
    and the separate filter index goes: one index per table, one entry less per row written."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, index, value in _INDEX_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("stored", sa.DateTime(timezone=True), nullable=True))
        op.execute(
            f"UPDATE {table} SET stored = (SELECT s.stored FROM lrs_statements s "  # noqa: S608
            f"WHERE s.seq = {table}.seq)"
        )
        if postgresql:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN stored SET NOT NULL")
            op.execute(f"DROP INDEX {index}")
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} "
                f"PRIMARY KEY (tenant_id, {value}, seq) INCLUDE (stored, related)"
            )
            continue
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column("stored", existing_type=sa.DateTime(timezone=True), nullable=False)
            batch.drop_index(index)
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["tenant_id", value, "seq"])


def _index_tables_unstored() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, index, value in _INDEX_TABLES:
        if postgresql:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (seq, {value})")
            op.execute(f"ALTER TABLE {table} DROP COLUMN stored")
            op.execute(f"CREATE INDEX {index} ON {table} (tenant_id, {value}, seq)")
            continue
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["seq", value])
            batch.drop_column("stored")
            batch.create_index(index, ["tenant_id", value, "seq"])


def upgrade() -> None:
    _create_registry()
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("lrs_statements") as batch:
            batch.drop_constraint("uq_lrs_statements_tenant_id_statement_id", type_="unique")
            batch.drop_index("ix_lrs_statements_voiding")
            batch.create_index("ix_lrs_statements_statement_id", ["tenant_id", "statement_id"])
            batch.create_index("ix_lrs_statements_stored", ["tenant_id", "stored"])
            batch.drop_index("ix_lrs_statements_ref_target")
            batch.create_index(
                "ix_lrs_statements_ref_target",
                ["tenant_id", "ref_target"],
                sqlite_where=sa.text("ref_target IS NOT NULL"),
            )
    else:
        _partition_postgresql()
    _index_tables_stored()


def _partition_postgresql() -> None:
    from tsunagu.lrs.partitions import Month, months_between

    bind = op.get_bind()
    oldest = bind.execute(sa.text("SELECT min(stored) FROM lrs_statements")).scalar()
    now = datetime.now(UTC)
    first = Month.of(oldest) if oldest is not None else Month.of(now)
    last = Month.of(now)
    for _ in range(3):
        last = last.next()

    # The old table's indexes and constraints go first (their names are reused); its sequence
    # is kept for the new table so seq values (and outstanding ``more`` tokens) continue.
    for name, _ in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP INDEX IF EXISTS ix_lrs_statements_voiding")
    op.execute(
        "ALTER TABLE lrs_statements DROP CONSTRAINT uq_lrs_statements_tenant_id_statement_id"
    )
    op.execute("ALTER TABLE lrs_statements DROP CONSTRAINT pk_lrs_statements")
    op.execute("ALTER SEQUENCE lrs_statements_seq_seq OWNED BY NONE")
    op.execute("ALTER TABLE lrs_statements ALTER COLUMN seq DROP DEFAULT")
    op.execute("ALTER TABLE lrs_statements RENAME TO lrs_statements_unpartitioned")
    op.execute(
        """
        CREATE TABLE lrs_statements (
            seq BIGINT NOT NULL DEFAULT nextval('lrs_statements_seq_seq'),
            tenant_id INTEGER NOT NULL,
            statement_id VARCHAR(36) NOT NULL,
            credential_id INTEGER,
            verb_id TEXT NOT NULL,
            registration VARCHAR(36),
            voided BOOLEAN NOT NULL,
            voiding_target VARCHAR(36),
            ref_target VARCHAR(36),
            stored TIMESTAMP WITH TIME ZONE NOT NULL,
            content_hash VARCHAR(64) NOT NULL,
            payload JSONB NOT NULL,
            profile_template VARCHAR(64),
            profile_rules TEXT,
            CONSTRAINT pk_lrs_statements PRIMARY KEY (seq, stored)
        ) PARTITION BY RANGE (stored)
        """
    )
    op.execute("ALTER SEQUENCE lrs_statements_seq_seq OWNED BY lrs_statements.seq")
    for name, columns in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON lrs_statements ({columns})")
    for month in months_between(first, last):
        op.execute(
            f'CREATE TABLE "{month.name}" PARTITION OF lrs_statements FOR VALUES '
            f"{month.bounds_sql()}"
        )
    copy = f"INSERT INTO lrs_statements ({_COLUMNS}) SELECT {_COLUMNS} "
    op.execute(copy + "FROM lrs_statements_unpartitioned ORDER BY seq")
    op.execute("DROP TABLE lrs_statements_unpartitioned")


def downgrade() -> None:
    _index_tables_unstored()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE lrs_statements_seq_seq OWNED BY NONE")
        op.execute("ALTER TABLE lrs_statements RENAME TO lrs_statements_partitioned")
        for name, _ in _INDEXES:
            op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_p")
        op.execute("ALTER INDEX pk_lrs_statements RENAME TO pk_lrs_statements_p")
        op.execute(
            f"CREATE TABLE lrs_statements AS SELECT {_COLUMNS} FROM lrs_statements_partitioned "  # noqa: S608
            "ORDER BY seq"
        )
        op.execute("DROP TABLE lrs_statements_partitioned CASCADE")
        op.execute("ALTER TABLE lrs_statements ADD CONSTRAINT pk_lrs_statements PRIMARY KEY (seq)")
        op.execute(
            "ALTER TABLE lrs_statements ALTER COLUMN seq SET DEFAULT "
            "nextval('lrs_statements_seq_seq')"
        )
        op.execute("ALTER SEQUENCE lrs_statements_seq_seq OWNED BY lrs_statements.seq")
        for column in ("tenant_id", "statement_id", "verb_id", "voided", "stored"):
            op.execute(f"ALTER TABLE lrs_statements ALTER COLUMN {column} SET NOT NULL")
        op.execute("ALTER TABLE lrs_statements ALTER COLUMN content_hash SET NOT NULL")
        op.execute("ALTER TABLE lrs_statements ALTER COLUMN payload SET NOT NULL")
        op.execute(
            "ALTER TABLE lrs_statements ADD CONSTRAINT uq_lrs_statements_tenant_id_statement_id "
            "UNIQUE (tenant_id, statement_id)"
        )
        for name, columns in _INDEXES:
            if name not in ("ix_lrs_statements_statement_id", "ix_lrs_statements_stored"):
                # 0003's ref_target index was not partial.
                columns = columns.split(")")[0]
                op.execute(f"CREATE INDEX {name} ON lrs_statements ({columns})")
        op.execute(
            "CREATE INDEX ix_lrs_statements_voiding ON lrs_statements (tenant_id, voiding_target)"
        )
    else:
        with op.batch_alter_table("lrs_statements") as batch:
            batch.drop_index("ix_lrs_statements_stored")
            batch.drop_index("ix_lrs_statements_statement_id")
            batch.drop_index("ix_lrs_statements_ref_target")
            batch.create_index("ix_lrs_statements_ref_target", ["tenant_id", "ref_target"])
            batch.create_index("ix_lrs_statements_voiding", ["tenant_id", "voiding_target"])
            batch.create_unique_constraint(
                "uq_lrs_statements_tenant_id_statement_id", ["tenant_id", "statement_id"]
            )
    op.drop_index("ix_lrs_statement_ids_voiding", table_name="lrs_statement_ids")
    op.drop_table("lrs_statement_ids")
