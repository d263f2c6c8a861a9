from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.roster.packages import BOARD_CODE, OTHER_BOARD_CODE, Rows, write_package
from tsunagu.container import Container
from tsunagu.roster.importer import ImportResult, import_roster
from tsunagu.roster.models import MODEL_BY_FILE
from tsunagu.tenancy.service import create_tenant


@pytest.fixture
def tenants(container: Container) -> tuple[str, str]:
    with container.database.transaction() as session:
        create_tenant(session, BOARD_CODE, "つなぐ市教育委員会")
        create_tenant(session, OTHER_BOARD_CODE, "となり市教育委員会")
    return BOARD_CODE, OTHER_BOARD_CODE


ImportRows = Callable[..., ImportResult]


@pytest.fixture
def import_rows(container: Container, tenants: tuple[str, str], tmp_path: Path) -> ImportRows:
    """Write rows as a package and import them: ``import_rows(rows, tenant=…, **options)``."""
    counter = iter(range(1_000_000))

    def run(
        rows: Rows,
        *,
        tenant: str = BOARD_CODE,
        modes: dict[str, str] | None = None,
        **options: object,
    ) -> ImportResult:
        target = write_package(tmp_path / f"pkg{next(counter)}", rows, modes=modes)
        return import_roster(container, tenant, target, **options)  # type: ignore[arg-type]

    return run


def snapshot(container: Container) -> dict[str, list[tuple[object, ...]]]:
    """Every stored roster row (all columns), to prove an import changed nothing."""
    state: dict[str, list[tuple[object, ...]]] = {}
    with container.database.session() as session:
        for name, model in MODEL_BY_FILE.items():
            table = model.__table__  # type: ignore[attr-defined]
            rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
            state[name] = [tuple(r) for r in rows]
    return state
