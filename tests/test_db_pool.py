"""The PostgreSQL pool pings only connections that sat idle, and replaces dead ones."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL
from tsunagu.db import engine as engine_module
from tsunagu.db.engine import Database


def _backend_pid(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_idle_connection_killed_by_the_server_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = Database(POSTGRES_URL)
    admin = create_engine(POSTGRES_URL)
    try:
        first = _backend_pid(database)
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # Every pooled connection counts as idle now: the dead one is pinged and replaced.
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
        second = _backend_pid(database)
        assert second != first
    finally:
        database.dispose()
        admin.dispose()


def test_recently_used_connection_is_not_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    database = Database(POSTGRES_URL)
    pings: list[object] = []
    original = database.engine.dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return bool(original(dbapi_connection))

    monkeypatch.setattr(database.engine.dialect, "do_ping", counting_ping)
    try:
        pid = _backend_pid(database)
        assert _backend_pid(database) == pid  # the same pooled connection, not pinged
        assert pings == []
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
        assert _backend_pid(database) == pid  # idle "long enough": pinged, still alive
        assert len(pings) == 1
    finally:
        database.dispose()
