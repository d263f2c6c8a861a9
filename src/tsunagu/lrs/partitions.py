"""Monthly partitions of ``lrs_statements`` on PostgreSQL (RANGE on ``stored``, UTC months).

Statements are append-only and read mostly by recent time, so monthly partitions keep each
index small, let ``since``/``until`` queries skip whole months (partition pruning) and let an
operator detach or archive an old school year without touching the rest (architecture.md,
"Scale path"). SQLite has one plain table: every function here does nothing there.

Partitions are created ahead (``tsunagu lrs partitions ensure``, also run when the app starts)
and, as a safety net, by the write path when a statement's ``stored`` month has none yet (a
backfill, or a server that ran past the months made ahead): :func:`ensure_in_transaction`
creates the table and attaches it inside the writer's own transaction. ``ATTACH PARTITION``
takes only a SHARE UPDATE EXCLUSIVE lock on the parent, which concurrent inserts and reads do
not conflict with; a per-month advisory lock makes concurrent creators of one month take turns.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from tsunagu.db.engine import Database

PARENT = "lrs_statements"
_known: set[tuple[str, str]] = set()
_known_lock = threading.Lock()


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, instant: datetime) -> Month:
        instant = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
        return cls(instant.year, instant.month)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def name(self) -> str:
        return f"{PARENT}_y{self.year:04d}m{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    def bounds_sql(self) -> str:
        nxt = self.next()
        return (
            f"FROM ('{self.year:04d}-{self.month:02d}-01 00:00:00+00') "
            f"TO ('{nxt.year:04d}-{nxt.month:02d}-01 00:00:00+00')"
        )


def months_between(first: Month, last: Month) -> list[Month]:
    out = [first]
    while (out[-1].year, out[-1].month) < (last.year, last.month):
        out.append(out[-1].next())
    return out


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    found = connection.execute(
        text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:name)"),
        {"name": PARENT},
    ).scalar()
    return found == "p"


def _exists(connection: Connection, month: Month) -> bool:
    # A query of pg_class, not to_regclass(): the latter answers from the backend's catalog
    # cache, which an advisory lock does not refresh, so it could miss a partition another
    # transaction has just committed. A query sees everything committed before it started.
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace "
                "WHERE c.relname = :name AND n.nspname = current_schema())"
            ),
            {"name": month.name},
        ).scalar()
    )


def _create(connection: Connection, month: Month) -> bool:
    """Create and attach one month (caller's transaction); False if it already existed."""
    # One creator per month at a time; the second one then sees the first one's partition.
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": zlib.crc32(month.name.encode())},
    )
    if _exists(connection, month):
        return False
    # A plain table first, then ATTACH (SHARE UPDATE EXCLUSIVE on the parent: inserts and
    # queries of other transactions go on). ATTACH builds the parent's indexes on it.
    connection.execute(
        text(
            f'CREATE TABLE "{month.name}" (LIKE "{PARENT}" INCLUDING DEFAULTS '
            "INCLUDING CONSTRAINTS INCLUDING STORAGE)"
        )
    )
    connection.execute(
        text(
            f'ALTER TABLE "{PARENT}" ATTACH PARTITION "{month.name}" '
            f"FOR VALUES {month.bounds_sql()}"
        )
    )
    return True


def _cache_key(connection: Connection, month: Month) -> tuple[str, str]:
    # The URL (with its search_path option) tells databases and schemas apart.
    return (connection.engine.url.render_as_string(hide_password=True), month.name)


def ensure_in_transaction(session: Session, instants: list[datetime]) -> None:
    """Make sure the months of ``instants`` have partitions, inside the caller's transaction.

    Cheap when they exist: a process-wide cache answers after the first look. A partition this
    transaction creates is cached only once seen committed (a rolled-back creation must not be
    remembered).
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for month in sorted({Month.of(i) for i in instants}, key=lambda m: (m.year, m.month)):
        key = _cache_key(connection, month)
        if key in _known:
            continue
        if not is_partitioned(connection):
            return
        if _exists(connection, month):
            with _known_lock:
                _known.add(key)
            continue
        _create(connection, month)


def ensure(connection: Connection, first: Month, last: Month) -> list[str]:
    """Create every missing month from ``first`` to ``last`` (one transaction); the new names."""
    if not is_partitioned(connection):
        return []
    return [m.name for m in months_between(first, last) if _create(connection, m)]


def ensure_ahead(connection: Connection, now: datetime, months_ahead: int) -> list[str]:
    """This month and the next ``months_ahead`` ones."""
    first = Month.of(now)
    last = first
    for _ in range(months_ahead):
        last = last.next()
    return ensure(connection, first, last)


@dataclass(frozen=True)
class PartitionInfo:
    name: str
    bounds: str
    rows: int


def list_partitions(connection: Connection) -> list[PartitionInfo]:
    """The partitions with their bounds and estimated row counts (``pg_class.reltuples``)."""
    if not is_partitioned(connection):
        return []
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent) ORDER BY c.relname"
        ),
        {"parent": PARENT},
    ).all()
    return [PartitionInfo(r[0], r[1], max(int(r[2]), 0)) for r in rows]


def ensure_ahead_for(
    database: Database, months_ahead: int, now: datetime | None = None
) -> list[str]:
    """:func:`ensure_ahead` in a transaction of its own (startup, CLI); nothing on SQLite."""
    if not database.is_postgresql:
        return []
    with database.engine.begin() as connection:
        return ensure_ahead(connection, now or datetime.now(UTC), months_ahead)
