"""``Database.read_session``: hot read-only pages pay one round trip per query on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.conftest import POSTGRES_URL
from tsunagu.db.engine import Database


def _two_transaction_ids(database: Database, *, read: bool) -> tuple[int, int]:
    with database.read_session() if read else database.session() as session:
        first = session.execute(text("SELECT txid_current()")).scalar_one()
        second = session.execute(text("SELECT txid_current()")).scalar_one()
    return int(first), int(second)


def test_read_session_runs_each_statement_on_its_own_on_postgresql() -> None:
    # One pooled connection, so the ordinary session after the read reuses it.
    database = Database(POSTGRES_URL, pool_size=1)
    try:
        first, second = _two_transaction_ids(database, read=True)
        assert first != second  # autocommit: no BEGIN ... ROLLBACK around the reads
        first, second = _two_transaction_ids(database, read=False)
        assert first == second  # the connection went back to the pool transactional again
        with database.session() as session:
            assert session.connection().connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        database.dispose()


def test_read_session_is_the_ordinary_session_on_sqlite(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/read.db")
    try:
        with database.read_session() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
            assert session.get_bind() is database.engine
    finally:
        database.dispose()
