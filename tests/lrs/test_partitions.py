"""Time-partitioned statement storage (PostgreSQL) and the statement-id registry (both).

On PostgreSQL ``lrs_statements`` is partitioned by month of ``stored``; a partitioned table
cannot hold the ``(tenant, statement id)`` unique key, so these tests check that immutability
(idempotent repeat, 409 on different content) holds across partitions, that the write path
creates a missing month, and the ``tsunagu lrs partitions`` commands. SQLite runs the same code
on a plain table.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy import inspect as sa_inspect
from typer.testing import CliRunner

from tests.lrs.conftest import HOME, statement
from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.lrs import partitions
from tsunagu.lrs.credentials import authority_for
from tsunagu.lrs.models import Statement, StatementId
from tsunagu.lrs.service import (
    LrsError,
    StatementQuery,
    get_statement,
    query_statements,
    store_statements,
)
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy


@pytest.fixture
def tenant_id(container: Container) -> int:
    with container.database.transaction() as session:
        return tenancy.create_tenant(session, "131016", "つなぐ市教育委員会").id


def _store(
    container: Container, tenant_id: int, stmts: list[dict[str, Any]], now: datetime
) -> list[str]:
    with container.database.transaction() as session:
        return store_statements(
            session,
            tenant_id=tenant_id,
            credential_id=None,
            authority=authority_for(HOME, "test"),
            statements=stmts,
            version="1.0.3",
            now=now,
        )


def _count(container: Container, model: Any) -> int:
    with container.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_statements_table_is_partitioned_on_postgresql_only(container: Container) -> None:
    with container.database.engine.connect() as connection:
        assert partitions.is_partitioned(connection) is container.database.is_postgresql


def test_a_missing_month_is_created_by_the_write_path(container: Container, tenant_id: int) -> None:
    long_ago = datetime(2019, 1, 15, 3, 0, tzinfo=UTC)  # months before any made ahead
    first = statement(id=str(uuid.uuid4()))
    [sid] = _store(container, tenant_id, [first], long_ago)
    if container.database.is_postgresql:
        with container.database.engine.connect() as connection:
            names = [p.name for p in partitions.list_partitions(connection)]
            assert "lrs_statements_y2019m01" in names
            # The row sits in that month's partition, not elsewhere.
            in_partition = connection.execute(
                text("SELECT count(*) FROM lrs_statements_y2019m01 WHERE statement_id = :s"),
                {"s": sid},
            ).scalar()
            assert in_partition == 1
    with container.database.session() as session:
        found = get_statement(session, tenant_id, sid, voided=False)
        assert found is not None
        assert found[0]["stored"].startswith("2019-01-15T03:00:00")
        page = query_statements(
            session,
            tenant_id,
            StatementQuery(
                since=datetime(2019, 1, 1, tzinfo=UTC),
                until=datetime(2019, 2, 1, tzinfo=UTC),
                limit=10,
            ),
        )
        assert [s["id"] for s in page.statements] == [sid]


def test_immutability_holds_across_partitions(container: Container, tenant_id: int) -> None:
    original = statement(id=str(uuid.uuid4()))
    _store(container, tenant_id, [original], datetime(2020, 1, 10, tzinfo=UTC))
    # The same id a month later (another partition): same content is accepted, not stored again.
    _store(container, tenant_id, [dict(original)], datetime(2020, 2, 10, tzinfo=UTC))
    assert _count(container, Statement) == 1
    assert _count(container, StatementId) == 1
    changed = {**original, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
    with pytest.raises(LrsError) as raised:
        _store(container, tenant_id, [changed], datetime(2020, 3, 10, tzinfo=UTC))
    assert raised.value.status == 409
    assert _count(container, Statement) == 1


def test_the_registry_key_stops_a_duplicate_in_another_partition(
    container: Container, tenant_id: int
) -> None:
    """Two writers racing on one new id both pass the read; what stops the second is the
    registry's primary key, whichever partition its statement row would land in."""
    from sqlalchemy.exc import IntegrityError

    one = statement(id=str(uuid.uuid4()))
    _store(container, tenant_id, [one], datetime(2021, 5, 1, tzinfo=UTC))
    with pytest.raises(IntegrityError), container.database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO lrs_statement_ids (tenant_id, statement_id, seq, content_hash) "
                "VALUES (:t, :s, 1, 'y')"
            ),
            {"t": tenant_id, "s": one["id"]},
        )
    assert _count(container, StatementId) == 1


def test_tenants_may_share_a_statement_id(container: Container, tenant_id: int) -> None:
    with container.database.transaction() as session:
        other = tenancy.create_tenant(session, "271004", "みなと市教育委員会").id
    shared = statement(id=str(uuid.uuid4()))
    now = datetime(2022, 7, 1, tzinfo=UTC)
    _store(container, tenant_id, [shared], now)
    _store(
        container, other, [{**shared, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}], now
    )
    assert _count(container, StatementId) == 2


def test_cli_ensure_and_list(settings: Settings, container: Container, tmp_path: Path) -> None:
    env = {
        "TSUNAGU_DATABASE_URL": settings.database_url,
        "TSUNAGU_SECRET_KEY": settings.secret_key,
        "TSUNAGU_VAR_DIR": str(tmp_path / "cli-var"),
    }
    runner = CliRunner()
    result = runner.invoke(
        app, ["lrs", "partitions", "ensure", "--from", "2018-11", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["partitioned"] is container.database.is_postgresql
    listed = runner.invoke(app, ["lrs", "partitions", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    names = [p["name"] for p in json.loads(listed.stdout)]
    if container.database.is_postgresql:
        now = partitions.Month.of(datetime.now(UTC))
        assert "lrs_statements_y2018m11" in names
        assert now.name in names
        assert now.next().name in names
        # A second run has nothing left to create.
        again = runner.invoke(
            app, ["lrs", "partitions", "ensure", "--from", "2018-11", "--json"], env=env
        )
        assert json.loads(again.stdout)["created"] == []
    else:
        assert names == []
        assert report["created"] == []
    bad = runner.invoke(app, ["lrs", "partitions", "ensure", "--from", "2018/11"], env=env)
    if container.database.is_postgresql:
        assert bad.exit_code != 0


def test_month_arithmetic() -> None:
    december = partitions.Month(2025, 12)
    assert december.next() == partitions.Month(2026, 1)
    assert december.name == "lrs_statements_y2025m12"
    assert [
        m.month
        for m in partitions.months_between(partitions.Month(2025, 11), partitions.Month(2026, 2))
    ] == [11, 12, 1, 2]
    assert december.bounds_sql() == "FROM ('2025-12-01 00:00:00+00') TO ('2026-01-01 00:00:00+00')"
    # A JST instant just after midnight on 1 April is still 31 March in UTC.
    jst_midnight = datetime.fromisoformat("2026-04-01T00:30:00+09:00")
    assert partitions.Month.of(jst_midnight) == partitions.Month(2026, 3)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_keeps_existing_statements(backend: str, tmp_path: Path) -> None:
    """0004 on a store that already holds statements: rows, ids, seq and the Japan profile
    tags of 0003 survive; the registry is filled; the next statement continues the sequence;
    downgrading to 0003 gives the rows back in one plain table."""
    from alembic import command
    from sqlalchemy import create_engine

    from tests.conftest import POSTGRES_URL, _with_search_path
    from tsunagu.db import migrate

    schema = f"tsunagu_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(POSTGRES_URL, schema)
    try:
        migrate.upgrade(url, "0003")
        engine = create_engine(url)
        ids = [str(uuid.uuid4()) for _ in range(3)]
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO tenants (id, code, name) VALUES (1, '131016', 'x')")
            )
            for n, (sid, stored) in enumerate(
                zip(
                    ids,
                    ["2024-05-01 00:00:00+00", "2024-07-01 00:00:00+00", "2024-07-02 00:00:00+00"],
                    strict=True,
                )
            ):
                connection.execute(
                    text(
                        "INSERT INTO lrs_statements (tenant_id, statement_id, verb_id, voided, "
                        "stored, content_hash, payload, voiding_target, profile_template, "
                        "profile_rules) VALUES (1, :sid, 'v', false, :stored, :hash, :payload, "
                        ":vt, :template, :rules)"
                    ),
                    {
                        "template": "drill.answered" if n == 1 else None,
                        "rules": "drill.score-scaled" if n == 1 else None,
                        "sid": sid,
                        "stored": stored,
                        "hash": f"h{n}",
                        "payload": json.dumps({"id": sid}),
                        "vt": ids[0] if n == 2 else None,
                    },
                )
            connection.execute(
                text(
                    "INSERT INTO lrs_statement_agents (seq, ifi, tenant_id, related) "
                    "SELECT seq, 'mailto:a@example.jp', 1, false FROM lrs_statements"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO lrs_statement_activities (seq, activity_id, tenant_id, related) "
                    "SELECT seq, 'https://example.jp/a', 1, true FROM lrs_statements"
                )
            )
        engine.dispose()
        migrate.upgrade(url)
        engine = create_engine(url)
        with engine.begin() as connection:
            rows = connection.execute(
                text(
                    "SELECT seq, statement_id, profile_template, profile_rules "
                    "FROM lrs_statements ORDER BY seq"
                )
            ).all()
            assert [r[1] for r in rows] == ids
            assert [(r[2], r[3]) for r in rows] == [
                (None, None),
                ("drill.answered", "drill.score-scaled"),
                (None, None),
            ]
            registry = connection.execute(
                text(
                    "SELECT statement_id, seq, content_hash, voiding_target "
                    "FROM lrs_statement_ids ORDER BY seq"
                )
            ).all()
            assert [(r[0], r[2], r[3]) for r in registry] == [
                (ids[0], "h0", None),
                (ids[1], "h1", None),
                (ids[2], "h2", ids[0]),
            ]
            assert [r[1] for r in registry] == [r[0] for r in rows]
            # The index rows carry their statement's stored time (the partition key).
            for table in ("lrs_statement_agents", "lrs_statement_activities"):
                matching = connection.execute(
                    text(
                        f"SELECT count(*) FROM {table} i JOIN lrs_statements s "
                        "ON s.seq = i.seq WHERE i.stored = s.stored"
                    )
                ).scalar()
                assert matching == 3, table
            assert partitions.is_partitioned(connection) is (backend == "postgresql")
            if backend == "postgresql":
                names = {p.name for p in partitions.list_partitions(connection)}
                assert {
                    "lrs_statements_y2024m05",
                    "lrs_statements_y2024m06",
                    "lrs_statements_y2024m07",
                } <= names
                next_seq = connection.execute(
                    text(
                        "INSERT INTO lrs_statements (tenant_id, statement_id, verb_id, voided, "
                        "stored, content_hash, payload) VALUES (1, 'n', 'v', false, now(), "
                        "'h', '{}') RETURNING seq"
                    )
                ).scalar()
                assert next_seq == rows[-1][0] + 1
                connection.execute(text("DELETE FROM lrs_statements WHERE statement_id = 'n'"))
        engine.dispose()
        command.downgrade(migrate.alembic_config(url), "0003")
        engine = create_engine(url)
        with engine.begin() as connection:
            back = connection.execute(
                text(
                    "SELECT seq, statement_id, profile_template, profile_rules "
                    "FROM lrs_statements ORDER BY seq"
                )
            ).all()
            assert [tuple(r) for r in back] == [tuple(r) for r in rows]
            assert partitions.is_partitioned(connection) is False
            assert "lrs_statement_ids" not in sa_inspect(connection).get_table_names()
        engine.dispose()
    finally:
        if backend == "postgresql":
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
