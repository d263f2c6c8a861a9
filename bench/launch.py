"""LTI launch throughput: complete launches (initiation → id_token form) at concurrency 16.

    python bench/launch.py                      # SQLite, 2,000 launches
    python bench/launch.py --postgres           # the local PostgreSQL (a throwaway schema)
    python bench/launch.py --servers 2         # two app processes (a load balancer's view)

The platform runs as its own process (uvicorn) on the demo municipality (つなぐ市, ~600 pupils).
Each launch is what a pupil's browser does: ``GET /lti/launch/<link>`` (the portal starts the
third-party-initiated login) and, with the tool's login step played by the client (it only
reads the redirect), ``GET /lti/authorize`` answering the auto-submitted form with the RS256
id_token; the launch statement is written to the LRS on the way. Who is signed in comes from a
bench-only header (the identity middleware's stand-in). Prints a table and a final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

CONCURRENCY = 16
POSTGRES_URL = os.environ.get(
    "TSUNAGU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ID_TOKEN = re.compile(r'name="id_token" value="([^"]+)"')


def serve(database_url: str, var_dir: str, port: int) -> None:
    """The platform with a header → principal stand-in for the identity middleware."""
    import uvicorn
    from fastapi import Request
    from sqlalchemy import select

    from tsunagu.app import create_app
    from tsunagu.container import build_container
    from tsunagu.identity.principal import load_principal
    from tsunagu.settings import Settings
    from tsunagu.tenancy.models import Tenant

    settings = Settings(
        database_url=database_url,
        var_dir=Path(var_dir),
        secret_key="bench-secret",  # noqa: S106 (a throwaway database)
        base_url=f"http://127.0.0.1:{port}",
    )
    container = build_container(settings)
    app = create_app(container=container)
    principals: dict[str, Any] = {}

    @app.middleware("http")
    async def bench_sign_in(request: Request, call_next: Any) -> Any:
        user = request.headers.get("x-bench-user")
        if user:
            if user not in principals:
                with container.database.session() as session:
                    tenant_id = session.scalar(select(Tenant.id).limit(1))
                    assert tenant_id is not None
                    principals[user] = load_principal(session, tenant_id, user)
            request.state.principal = principals[user]
        return await call_next(request)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def prepare(database_url: str, var_dir: Path, port: int) -> list[tuple[str, str]]:
    """Demo roster + sample tool; returns (pupil sourcedId, homeroom link id) pairs."""
    from sqlalchemy import select

    from tsunagu.container import build_container
    from tsunagu.demo.service import setup_demo
    from tsunagu.lti.models import ResourceLink
    from tsunagu.roster.models import Enrollment
    from tsunagu.settings import Settings

    settings = Settings(
        database_url=database_url,
        var_dir=var_dir,
        secret_key="bench-secret",  # noqa: S106 (a throwaway database)
        base_url=f"http://127.0.0.1:{port}",
    )
    container = build_container(settings)
    setup_demo(container)
    with container.database.session() as session:
        links = {link.class_sourced_id: link.id for link in session.scalars(select(ResourceLink))}
        pairs = [
            (e.user_sourced_id, links[e.class_sourced_id])
            for e in session.scalars(
                select(Enrollment)
                .where(Enrollment.role == "student")
                .order_by(Enrollment.sourced_id)
            )
            if e.class_sourced_id in links
        ]
    container.close()
    return pairs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def one_launch(client: httpx.AsyncClient, user: str, link: str) -> float:
    started = time.perf_counter()
    headers = {"x-bench-user": user}
    first = await client.get(f"/lti/launch/{link}", headers=headers)
    assert first.status_code == 303, first.text
    initiation = dict(parse_qsl(urlsplit(first.headers["location"]).query))
    answer = await client.get(
        "/lti/authorize",
        headers=headers,
        params={
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": initiation["client_id"],
            "redirect_uri": "http://localhost:8001/launch",
            "login_hint": initiation["login_hint"],
            "lti_message_hint": initiation["lti_message_hint"],
            "state": uuid.uuid4().hex,
            "nonce": uuid.uuid4().hex,
        },
    )
    assert answer.status_code == 200, (answer.status_code, answer.text[:300])
    assert ID_TOKEN.search(answer.text), answer.text[:300]
    return time.perf_counter() - started


async def run(
    bases: list[str], pairs: list[tuple[str, str]], launches: int
) -> tuple[float, list[float]]:
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for base in bases]
    try:
        for client in clients:  # warm-up: principal cache, key cache, pools
            for user, link in pairs[:CONCURRENCY]:
                await one_launch(client, user, link)
        latencies: list[float] = []
        counter = iter(range(launches))

        async def worker(number: int) -> None:
            # Each worker stays on one server, as a browser does behind a load balancer.
            client = clients[number % len(clients)]
            for i in counter:
                user, link = pairs[i % len(pairs)]
                latencies.append(await one_launch(client, user, link))

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
        return time.perf_counter() - started, latencies
    finally:
        for client in clients:
            await client.aclose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="use the local PostgreSQL")
    parser.add_argument(
        "--servers", type=int, default=1, help="app processes (one port each), default 1"
    )
    parser.add_argument("--serve", nargs=3, metavar=("URL", "VAR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return

    from sqlalchemy import create_engine, text

    from tsunagu.db import migrate

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp) / "var"
        schema = None
        if args.postgres:
            schema = f"bench_launch_{uuid.uuid4().hex[:8]}"
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            from sqlalchemy.engine import make_url

            url = (
                make_url(POSTGRES_URL)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        try:
            migrate.upgrade(url)
            pairs = prepare(url, var_dir, port)
            ports = [port] + [free_port() for _ in range(args.servers - 1)]
            servers = [
                subprocess.Popen([sys.executable, __file__, "--serve", url, str(var_dir), str(p)])
                for p in ports
            ]
            try:
                for p in ports:
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        try:
                            httpx.get(f"http://127.0.0.1:{p}/lti/jwks", timeout=1)
                            break
                        except httpx.HTTPError:
                            time.sleep(0.2)
                elapsed, latencies = asyncio.run(
                    run([f"http://127.0.0.1:{p}" for p in ports], pairs, args.launches)
                )
            finally:
                for server in servers:
                    server.terminate()
                    server.wait(10)
        finally:
            if schema is not None:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    figures = {
        "benchmark": "lti_launch",
        "database": "postgresql" if args.postgres else "sqlite",
        "concurrency": CONCURRENCY,
        "servers": args.servers,
        "launches": len(latencies),
        "launches_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "cpus": os.cpu_count(),
        # Other work on the machine skews the figures: the load when the run ended.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(f"{'database':<22}{figures['database']}")
    print(f"{'concurrency':<22}{CONCURRENCY}")
    print(f"{'app processes':<22}{args.servers}")
    print(f"{'launches':<22}{figures['launches']}")
    print(f"{'launches per second':<22}{figures['launches_per_second']}")
    print(f"{'p50 latency (ms)':<22}{figures['p50_ms']}")
    print(f"{'p95 latency (ms)':<22}{figures['p95_ms']}")
    print(f"{'p99 latency (ms)':<22}{figures['p99_ms']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
