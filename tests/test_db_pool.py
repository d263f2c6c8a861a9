"""The PostgreSQL pool pings only connections that sat idle, and replaces dead ones."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL
from tsunagu.db import engine as engine_module
from tsunagu.db.engine import Database
from tsunagu.settings import Settings


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


def test_worker_threads_set_the_request_thread_pool_and_the_connection_pool(
    settings: Settings,
) -> None:
    """``worker_threads`` request threads per process, and as many pooled connections (so a
    busy process never opens and closes overflow connections for its own requests)."""
    from anyio import to_thread
    from fastapi.testclient import TestClient

    from tsunagu.app import create_app
    from tsunagu.container import build_container

    container = build_container(settings.model_copy(update={"worker_threads": 3}))
    try:
        if container.database.is_postgresql:
            assert container.database.engine.pool.size() == 3  # type: ignore[attr-defined]
        app = create_app(container=container)
        with TestClient(app) as client:
            limit = client.portal.call(  # type: ignore[union-attr]
                lambda: to_thread.current_default_thread_limiter().total_tokens
            )
        assert limit == 3
    finally:
        container.close()
