"""The migrations build exactly the schema the models describe (on each backend of the suite)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

import tsunagu.db.models  # noqa: F401  (registers every domain's tables)
from tsunagu.db import migrate
from tsunagu.db.base import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": False, "compare_server_default": False}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    # Tables present in the database but not in the models (or the reverse) are the drift a
    # forgotten migration leaves; statement partitions on PostgreSQL are made at run time.
    tables = [d for d in differences if d[0] in ("add_table", "remove_table")]
    tables = [d for d in tables if not d[1].name.startswith("lrs_statements_y")]
    assert tables == []
