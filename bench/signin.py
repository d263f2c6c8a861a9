"""Sign-in benchmark against a real ``tsunagu serve``: local password, QR card, OIDC callback.

    python bench/signin.py                      # PostgreSQL (local ``test`` database), 10 s each
    python bench/signin.py --sqlite --seconds 20

Starts one ``tsunagu serve`` process (one uvicorn worker) on the demo city, a loopback OpenID
Provider (``oidc-provider-mock``) configured like Google (``hd``), and drives sign-ins at
concurrency 16 from threads. Each sign-in is the whole server side of that method: session
rotation, audit line, CSRF check. For OIDC the timed request is our callback (code exchange with
the provider, id_token validation against the cached JWKS, roster mapping); the start and the
provider's own authorize step are excluded from the latency but not from the wall time, so the
OIDC rate is a lower bound on this shared machine (the provider, a process of its own, runs on
the same cores).

Prints a table and a final JSON line. At the first bell a city sees about 1,000 sign-ins per
second across its app processes; the last column is how many processes like this one that takes
per method. The per-address rate limit is lifted for the run (every request comes from 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import create_engine, select, text

from tsunagu.container import build_container
from tsunagu.demo import service as demo
from tsunagu.identity import oidc
from tsunagu.identity import service as identity
from tsunagu.roster.models import Role, User
from tsunagu.settings import Settings

PASSWORD = "bench-passphrase-2026"  # noqa: S105
HD = "tsunagu.example.jp"
BURST = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_up(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run(
    name: str,
    concurrency: int,
    seconds: float,
    base: str,
    setup: Callable[[httpx.Client, int], None],
    one: Callable[[httpx.Client, int, int], float],
) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            setup(client, index)
            i = 0
            while time.perf_counter() < deadline:
                try:
                    elapsed = one(client, index, i)
                except AssertionError:
                    with lock:
                        errors[0] += 1
                    continue
                finally:
                    i += 1
                with lock:
                    latencies.append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    rate = len(latencies) / wall
    return {
        "method": name,  # type: ignore[dict-item]
        "signins": len(latencies),
        "errors": errors[0],
        "per_second": round(rate, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1) if latencies else 0,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else 0,
        "processes_for_1000_per_s": math.ceil(BURST / rate) if rate else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--sqlite", action="store_true", help="Use an SQLite file instead.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Per method.")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--people", type=int, default=64, help="Distinct pupils signing in.")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tsunagu-signin-bench-"))
    schema = None
    admin = None
    if args.sqlite:
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        schema = "signin_bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(args.postgres_url)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{args.postgres_url}?options=-csearch_path%3D{schema}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TSUNAGU_DATABASE_URL": url,
        "TSUNAGU_VAR_DIR": str(workdir),
        "TSUNAGU_SECRET_KEY": "bench-secret",
        "TSUNAGU_BASE_URL": base,
        "TSUNAGU_SIGNIN_IP_RATE_LIMIT": "100000000/minute",
    }
    server = None
    op_process = None
    try:
        settings = Settings(
            database_url=url,
            var_dir=workdir,
            secret_key="bench-secret",  # noqa: S106
            base_url=base,
        )
        container = build_container(settings)
        demo.setup_demo(container)
        # The provider runs in a process of its own, like a real one would.
        op_port = free_port()
        op = f"http://127.0.0.1:{op_port}"
        op_process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--port", str(op_port), "--require-nonce"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(f"{op}/.well-known/openid-configuration")
        with container.database.transaction() as session:
            tenant = demo.DEMO_TENANT_CODE
            pupils = list(
                session.scalars(
                    select(User)
                    .join(
                        Role,
                        (Role.tenant_id == User.tenant_id)
                        & (Role.user_sourced_id == User.sourced_id),
                    )
                    .where(Role.role == "student")
                    .order_by(User.sourced_id)
                    .limit(args.people)
                )
            )
            people = []
            for user in pupils:
                identity.set_password(session, container, tenant, user.sourced_id, PASSWORD)
                _, card = identity.reissue_card(session, container, tenant, user.sourced_id)
                google = next(
                    e.strip("{}").split(":", 1)[1]
                    for e in (user.user_ids or "").split(",")
                    if e.strip("{}").startswith("Google:")
                )
                people.append((user.username, card, google))
            provider = oidc.add_provider(
                session,
                container,
                tenant_code=tenant,
                kind="google",
                client_id="bench",
                client_secret="bench",  # noqa: S106
                domains=[HD],
                discovery_url=f"{op}/.well-known/openid-configuration",
            )
        container.close()
        for username, _, google in people:
            httpx.put(
                f"{op}/users/{google}",
                json={"email": username, "email_verified": True, "hd": HD},
            ).raise_for_status()

        command = [
            sys.executable,
            "-c",
            "from tsunagu.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ]
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_until_up(f"{base}/healthz")

        def person(index: int, i: int) -> tuple[str, str, str]:
            return people[(index * 7 + i) % len(people)]

        def csrf(client: httpx.Client, _index: int) -> None:
            client.get("/signin")

        def password(client: httpx.Client, index: int, i: int) -> float:
            client.cookies.delete("tsunagu_session")
            started = time.perf_counter()
            response = client.post(
                "/signin",
                data={
                    "csrftoken": client.cookies["csrftoken"],
                    "username": person(index, i)[0],
                    "password": PASSWORD,
                    "tenant": tenant,
                },
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 303, response.status_code
            return elapsed

        def qr(client: httpx.Client, index: int, i: int) -> float:
            client.cookies.delete("tsunagu_session")
            started = time.perf_counter()
            response = client.post(
                "/signin/qr",
                data={"csrftoken": client.cookies["csrftoken"], "token": person(index, i)[1]},
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 303, response.status_code
            return elapsed

        op_client = httpx.Client(timeout=30)
        provider_latencies: list[float] = []
        provider_lock = threading.Lock()

        def oidc_callback(client: httpx.Client, index: int, i: int) -> float:
            client.cookies.delete("tsunagu_session")
            start = client.get(f"/signin/oidc/{provider.id}")
            assert start.status_code == 303, start.status_code
            back = op_client.post(start.headers["location"], data={"sub": person(index, i)[2]})
            assert back.status_code == 302, back.status_code
            parts = urlsplit(back.headers["location"])
            started = time.perf_counter()
            response = client.get(f"{parts.path}?{parts.query}")
            elapsed = time.perf_counter() - started
            assert response.status_code == 303, response.text[:200]
            provider_ms = float(response.headers["server-timing"].split("dur=")[1])
            with provider_lock:
                provider_latencies.append(provider_ms / 1000)
            return elapsed

        # Warm up: JWKS and discovery cached, connection pools open.
        with httpx.Client(base_url=base, timeout=30) as warm:
            csrf(warm, 0)
            oidc_callback(warm, 0, 0)
            password(warm, 0, 0)
            qr(warm, 0, 0)

        results = [
            run("oidc_callback", args.concurrency, args.seconds, base, csrf, oidc_callback),
            run("qr_card", args.concurrency, args.seconds, base, csrf, qr),
            run("local_password", args.concurrency, args.seconds, base, csrf, password),
        ]
        op_client.close()
        waits = provider_latencies[1:]  # the warm-up call is not in the run
        results[0]["provider_token_p50_ms"] = round(percentile(waits, 0.5) * 1000, 1)
        results[0]["provider_token_p95_ms"] = round(percentile(waits, 0.95) * 1000, 1)
    finally:
        for process in (server, op_process):
            if process is not None:
                process.terminate()
                process.wait(10)
        if admin is not None and schema is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    database = "sqlite" if args.sqlite else "postgresql"
    print(
        f"sign-ins against one `tsunagu serve` process ({database}), "
        f"concurrency {args.concurrency}, {os.cpu_count()} cores"
    )
    print(
        f"{'method':<16}{'sign-ins':>10}{'errors':>8}{'per s':>10}{'p50 ms':>10}"
        f"{'p95 ms':>10}{'procs/1000/s':>14}"
    )
    for r in results:
        print(
            f"{r['method']:<16}{r['signins']:>10}{r['errors']:>8}{r['per_second']:>10}"
            f"{r['p50_ms']:>10}{r['p95_ms']:>10}{r['processes_for_1000_per_s']:>14}"
        )
    oidc_row = results[0]
    print(
        f"oidc_callback: of which the provider's token endpoint p50 "
        f"{oidc_row['provider_token_p50_ms']} ms, p95 {oidc_row['provider_token_p95_ms']} ms "
        "(the loopback stand-in; the wait is I/O for Tsunagu, not CPU)"
    )
    print(json.dumps({"database": database, "concurrency": args.concurrency, "results": results}))


if __name__ == "__main__":
    main()
