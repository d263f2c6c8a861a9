"""Concurrent batches that touch the same activities neither deadlock nor lose statements."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sqlalchemy import func, select

from tests.lrs.conftest import TENANT_A, statement
from tsunagu.container import Container
from tsunagu.lrs.credentials import authority_for
from tsunagu.lrs.models import Activity, Statement
from tsunagu.lrs.service import store_with_retry
from tsunagu.lrs.versions import V1
from tsunagu.tenancy import service as tenancy

ACTIVITIES = [f"https://portal.example.jp/activities/{i}" for i in range(20)]


def _batch(worker: int, round_: int) -> list[dict[str, Any]]:
    # Each worker walks the shared activities in its own order and changes their definitions.
    order = ACTIVITIES if worker % 2 == 0 else ACTIVITIES[::-1]
    return [
        statement(
            id=str(uuid.uuid4()),
            object={
                "id": activity,
                "definition": {"name": {"en": f"worker {worker} round {round_}"}},
            },
        )
        for activity in order
    ]


def test_concurrent_batches_on_shared_activities(
    container: Container, tenants: tuple[str, str]
) -> None:
    with container.database.session() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
    authority = authority_for(container.settings.base_url, "test")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            start.wait()
            for round_ in range(5):
                store_with_retry(
                    container,
                    tenant_id=tenant_id,
                    credential_id=None,
                    authority=authority,
                    statements=_batch(worker, round_),
                    version=V1,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with container.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Statement)) == 4 * 5 * 20
        assert session.scalar(select(func.count()).select_from(Activity)) == 20


def test_racing_writers_of_one_id_are_idempotent(
    container: Container, tenants: tuple[str, str]
) -> None:
    with container.database.session() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
    authority = authority_for(container.settings.base_url, "test")
    same = statement(id=str(uuid.uuid4()))
    results: list[Any] = []
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        try:
            results.append(
                store_with_retry(
                    container,
                    tenant_id=tenant_id,
                    credential_id=None,
                    authority=authority,
                    statements=[same],
                    version=V1,
                )
            )
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [[same["id"]]] * 4
    with container.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Statement)) == 1
