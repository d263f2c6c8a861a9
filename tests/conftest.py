"""Test fixtures: every database test runs on SQLite *and* on the local PostgreSQL.

PostgreSQL is a real server (``TSUNAGU_TEST_POSTGRES_URL``, default the local ``test`` database).
Each test run migrates a fresh schema of its own and drops it at the end; each test starts from
empty tables. When PostgreSQL cannot be reached the tests that need it fail (they are never
skipped), so CI cannot pass on SQLite alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tsunagu.container import Container, build_container
from tsunagu.db import migrate
from tsunagu.db.base import Base
from tsunagu.settings import Settings

POSTGRES_URL = os.environ.get(
    "TSUNAGU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL schema for this test run, dropped afterwards."""
    schema = f"tsunagu_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required for the test suite: {exc}")
    url = _with_search_path(POSTGRES_URL, schema)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (cheaper than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _empty_all(url: str) -> None:
    # DELETE, not TRUNCATE: on tables this small it is several times faster per test.
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: once SQLite, once PostgreSQL."""
    import tsunagu.db.models  # noqa: F401  (Base.metadata complete for TRUNCATE)

    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "tsunagu.sqlite3"
        target.write_bytes(template.read_bytes())
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_schema_url")
    _empty_all(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-not-for-production",
        base_url="https://portal.example.jp",
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings)
    yield built
    built.close()
