"""LRS store/query benchmark on PostgreSQL (service layer, no HTTP).

    python bench/lrs_statements.py                    # 20 batches of 500, 200 single stores
    python bench/lrs_statements.py --batches 200      # 100,000 statements

A fresh schema in the local ``test`` database (``--postgres-url``), created and dropped here.
The statements claim the Japan Assessment profile (an ``answered`` with a score, as a drill
sends it), so every store also runs the profile matcher and records its match row.
Reports batched statements per second, single-statement store latency (p50/p95) and an
``agent=`` query page of 100 (p50/p95). Targets of the issue (at 1 M statements, over HTTP):
5,000 statements/s batched, single POST p95 < 20 ms, filtered GET p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from tsunagu.container import build_container
from tsunagu.db import migrate
from tsunagu.lrs.credentials import authority_for
from tsunagu.lrs.service import StatementQuery, agent_ifi, query_statements, store_with_retry
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy

HOME = "https://portal.example.jp"


def learner() -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": HOME, "name": str(uuid.uuid4())}}


def statement(actor: dict[str, Any], activity: int) -> dict[str, Any]:
    return {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en": "answered"}},
        "object": {
            "objectType": "Activity",
            "id": f"{HOME}/items/{activity}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "name": {"ja-JP": f"問題 {activity}"},
            },
        },
        "result": {"score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10}, "success": True},
        "context": {
            "platform": "つなぐ",
            "language": "ja-JP",
            "contextActivities": {
                "grouping": [{"id": f"{HOME}/attempts/{activity % 7}"}],
                "category": [{"id": "https://w3id.org/japan-xapi/profiles/assessment"}],
            },
        },
        "timestamp": "2026-04-15T09:23:00+09:00",
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    schema = "lrs_bench_" + uuid.uuid4().hex[:8]
    admin = create_engine(args.postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.postgres_url}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        settings = Settings(database_url=url, secret_key="bench")  # noqa: S106
        container = build_container(settings)
        with container.database.transaction() as session:
            tenant_id = tenancy.create_tenant(session, "131016", "bench").id
        authority = authority_for(HOME, "bench")
        learners = [learner() for _ in range(1000)]

        def store(statements: list[dict[str, Any]]) -> None:
            store_with_retry(
                container,
                tenant_id=tenant_id,
                credential_id=None,
                authority=authority,
                statements=statements,
                version="1.0.3",
            )

        started = time.perf_counter()
        cpu_started = time.process_time()
        total = 0
        for b in range(args.batches):
            batch = [
                statement(learners[(b * args.batch_size + i) % len(learners)], i % 50)
                for i in range(args.batch_size)
            ]
            store(batch)
            total += len(batch)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(
            f"batched: {total} statements in {elapsed:.2f} s = {total / elapsed:,.0f}/s "
            f"(this process's CPU {cpu * 1e6 / total:.0f} us per statement)"
        )

        single = []
        for i in range(200):
            t = time.perf_counter()
            store([statement(learners[i], i)])
            single.append((time.perf_counter() - t) * 1000)
        p50, p95 = percentile(single, 0.5), percentile(single, 0.95)
        print(f"single store: p50 {p50:.2f} ms, p95 {p95:.2f} ms")

        queries = []
        for i in range(100):
            query = StatementQuery(agent=agent_ifi(learners[i]), limit=100)
            t = time.perf_counter()
            with container.database.session() as session:
                query_statements(session, tenant_id, query)
            queries.append((time.perf_counter() - t) * 1000)
        p50, p95 = percentile(queries, 0.5), percentile(queries, 0.95)
        print(f"agent query: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
        container.close()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
