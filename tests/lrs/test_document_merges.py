"""Concurrent POST merges of one document: every writer's keys end up in it."""

from __future__ import annotations

import json
import threading

from tests.lrs.conftest import TENANT_A
from tsunagu.container import Container
from tsunagu.lrs.documents import DocumentKey, Preconditions, get_document, post_document
from tsunagu.lrs.service import take_write_lock
from tsunagu.tenancy import service as tenancy

KEY = DocumentKey(
    kind="state",
    activity_id="https://portal.example.jp/activities/drill-1",
    agent_ifi="account::https://portal.example.jp::3f1d8a5e-2c4b-4e7a-9b1c-0d2e3f4a5b6c",
)


def test_concurrent_merges_lose_no_update(container: Container, tenants: tuple[str, str]) -> None:
    with container.database.session() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
    with container.database.transaction() as session:
        post_document(
            session,
            tenant_id,
            KEY,
            "progress",
            b'{"start": 0}',
            "application/json",
            Preconditions(),
        )
    writers = 6
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def merge(worker: int) -> None:
        try:
            start.wait()
            with container.database.transaction() as session:
                take_write_lock(session)
                body = json.dumps({f"page-{worker}": worker}).encode()
                post_document(
                    session, tenant_id, KEY, "progress", body, "application/json", Preconditions()
                )
        except BaseException as exc:  # reported below, with the other workers joined
            failures.append(exc)

    threads = [threading.Thread(target=merge, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    with container.database.session() as session:
        stored = get_document(session, tenant_id, KEY, "progress")
    assert stored is not None
    assert json.loads(stored.content) == {"start": 0, **{f"page-{w}": w for w in range(writers)}}
