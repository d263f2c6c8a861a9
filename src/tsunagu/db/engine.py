"""Engine and session factory for one database URL (SQLite or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the web app) run while an import writes; the busy timeout makes
    # concurrent writers wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _begin_sqlite(conn: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN and break SAVEPOINTs; take control.
    conn.exec_driver_sql("BEGIN")


#: A pooled connection idle longer than this is pinged before use (seconds).
PING_AFTER_IDLE = 10.0


def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


class Database:
    """Owns one engine and hands out sessions. Built by the composition root, never at import."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = make_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "isolation_level": None}
        else:
            # One connection per request thread, kept open: a connection beyond the pool is
            # closed when it is returned, and reconnecting under load costs a fork on the server.
            # The overflow covers background work (statements written after a response).
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 10
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite)
            event.listen(self.engine, "begin", _begin_sqlite)
        else:
            # Pessimistic disconnect handling, but only for connections that sat idle: a ping
            # on every checkout (pool_pre_ping) is one more round trip per request, which under
            # load is a measurable share of a short write (docs/lrs-benchmark.md). A connection
            # used within the last PING_AFTER_IDLE seconds is alive for all practical purposes;
            # should it still have died (server restart under load), SQLAlchemy invalidates the
            # pool on the disconnect error and the next checkouts reconnect.
            event.listen(self.engine, "checkin", _mark_idle)
            event.listen(self.engine, "checkout", self._ping_if_idle)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads that need no snapshot across statements run in autocommit on PostgreSQL: each
        # SELECT is its own implicit transaction, so a page pays one round trip per query
        # instead of three (BEGIN, the query, ROLLBACK), each a wait for the server. SQLite
        # keeps the ordinary session: its BEGIN and ROLLBACK are in-process calls.
        self._reads = (
            self._sessions
            if self.is_sqlite
            else sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )

    def _ping_if_idle(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            alive = self.engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any driver error: the pool replaces the connection
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("ping failed")

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def session(self) -> Session:
        return self._sessions()

    def read_session(self) -> Session:
        """A session for reads only, each statement on its own (no snapshot across them).

        For hot pages whose queries are independent of one another (the learner home); a
        flush in it raises nothing but commits each statement at once, so never write in it.
        """
        return self._reads()

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory, for session events (:mod:`tsunagu.portal.home_cache`)."""
        return self._sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
