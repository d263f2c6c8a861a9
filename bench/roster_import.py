"""Roster import benchmark: a city of 270,000 pupils into PostgreSQL and SQLite.

    python bench/roster_import.py                  # the city: ~290,000 users, 1.1 M enrollments
    python bench/roster_import.py --students 3000  # a quick run

Generates the city's bulk package and a 1% delta (or reuses them from ``bench/out/``), then for
each database: a bulk import into an empty tenant and a dry run of the delta against it. Every
import runs in a child process of its own, which reports its wall time and its peak resident set
size (``getrusage(RUSAGE_SELF).ru_maxrss``), so one measurement cannot inflate the next.

PostgreSQL: a fresh schema in the local ``test`` database (``--postgres-url``), created and
dropped by this script. SQLite: a temporary file.

Targets (PostgreSQL): full import < 60 s and < 1 GiB peak RSS; delta dry run < 5 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tsunagu.cli_support import progress_reporter
from tsunagu.container import build_container
from tsunagu.db import migrate
from tsunagu.roster.csv.layouts import Profile
from tsunagu.roster.generator import (
    DISTRICT_NAME,
    GeneratorConfig,
    generate_delta,
    generate_roster,
)
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DEFAULT_POSTGRES_URL = os.environ.get(
    "TSUNAGU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_IMPORT_SECONDS = 60.0
TARGET_IMPORT_RSS_MIB = 1024.0
TARGET_DELTA_SECONDS = 5.0

console = Console(stderr=True)


# -- packages ----------------------------------------------------------------------------------


def _generator_fingerprint() -> str:
    # Cached packages are reused only while the generator is unchanged.
    import tsunagu.roster.generator

    source = Path(tsunagu.roster.generator.__file__).read_bytes()
    return hashlib.sha256(source).hexdigest()[:10]


def ensure_packages(args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    config = GeneratorConfig(students=args.students, seed=args.seed, profile=args.profile)
    stem = f"city-{args.students}-s{args.seed}-{args.profile.value}-{_generator_fingerprint()}"
    bulk = OUT / f"{stem}.zip"
    delta = OUT / f"{stem}-delta-{args.change_ratio}.zip"
    facts: dict[str, Any] = {}
    # Packages of an older generator are of no more use: do not let them pile up.
    for stale in OUT.glob(f"city-{args.students}-s{args.seed}-{args.profile.value}-*.zip"):
        if not stale.name.startswith(stem):
            stale.unlink()
    if bulk.exists():
        console.print(f"reusing {bulk.relative_to(ROOT)}")
    else:
        console.print(f"generating {bulk.relative_to(ROOT)}")
        started = time.perf_counter()
        with progress_reporter() as progress:
            summary = generate_roster(config, bulk.with_suffix(".part.zip"), progress=progress)
        bulk.with_suffix(".part.zip").rename(bulk)
        facts["generate_seconds"] = time.perf_counter() - started
        facts["counts"] = summary.counts
    if not delta.exists():
        generate_delta(config, delta.with_suffix(".part.zip"), change_ratio=args.change_ratio)
        delta.with_suffix(".part.zip").rename(delta)
    facts["bulk_mib"] = bulk.stat().st_size / 2**20
    facts["delta_mib"] = delta.stat().st_size / 2**20
    return bulk, delta, facts


# -- databases ---------------------------------------------------------------------------------


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    schema = f"tsunagu_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = (
        make_url(admin_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def prepare(url: str, tenant_code: str, tenant_name: str) -> None:
    migrate.upgrade(url)
    container = build_container(Settings(database_url=url))
    try:
        with container.database.transaction() as session:
            tenancy.create_tenant(session, tenant_code, tenant_name)
    finally:
        container.close()


# -- one import, measured in a child process ---------------------------------------------------


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return value._asdict()
    return value


def child(args: argparse.Namespace) -> None:
    """Runs in the child: one import, then a JSON line with the figures on stdout."""
    from tsunagu.roster.importer import import_roster  # lands with the importer

    with tempfile.TemporaryDirectory(prefix="tsunagu-bench-var-") as var_dir:
        container = build_container(Settings(database_url=args.database_url, var_dir=Path(var_dir)))
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = import_roster(container, args.tenant, Path(args.source), dry_run=args.dry_run)
        seconds = time.perf_counter() - started
        container.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report = {
        "seconds": seconds,
        "peak_rss_mib": peak / 1024,
        "baseline_rss_mib": baseline / 1024,
        "accepted": result.accepted,
        "errors": [str(p) for p in result.errors[:5]],
        "error_count": len(result.errors),
        "warning_count": len(result.warnings),
        "summary": _plain(result.summary),
    }
    sys.stdout.write(json.dumps(report, ensure_ascii=False, default=str) + "\n")


def measure(url: str, tenant: str, source: Path, *, dry_run: bool) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "_child",
        "--database-url",
        url,
        "--tenant",
        tenant,
        "--source",
        str(source),
    ]
    if dry_run:
        command.append("--dry-run")
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"import child failed:\n{completed.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    report["process_seconds"] = time.perf_counter() - started
    return report


def _rows(summary: dict[str, Any]) -> int:
    total = 0
    for counts in summary.values():
        if isinstance(counts, dict):
            total += sum(v for v in counts.values() if isinstance(v, int))
    return total


# -- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    bulk, delta, facts = ensure_packages(args)
    tenant = "139999"
    backends: list[tuple[str, Any]] = []
    if not args.skip_postgres:
        backends.append(("PostgreSQL", lambda: postgres_database(args.postgres_url)))
    if not args.skip_sqlite:
        backends.append(("SQLite", sqlite_database))

    table = Table("database", "step", "rows", "wall s", "peak RSS MiB", "target", "")
    missed = []
    for name, database in backends:
        with database() as url:
            prepare(url, tenant, DISTRICT_NAME)
            console.print(f"{name}: bulk import of {bulk.name}")
            full = measure(url, tenant, bulk, dry_run=False)
            console.print(f"{name}: dry run of {delta.name}")
            dry = measure(url, tenant, delta, dry_run=True)
        targets = {
            # The targets are PostgreSQL's: SQLite is the village and demo database.
            "bulk import": (TARGET_IMPORT_SECONDS, TARGET_IMPORT_RSS_MIB),
            "delta dry run": (TARGET_DELTA_SECONDS, None),
        }
        for step, report in (("bulk import", full), ("delta dry run", dry)):
            max_seconds, max_rss = targets[step] if name == "PostgreSQL" else (None, None)
            wanted = [f"< {max_seconds:.0f} s"] if max_seconds else []
            wanted += [f"< {max_rss:.0f} MiB"] if max_rss else []
            if not report["accepted"]:
                verdict = "REFUSED"
            elif (max_seconds and report["seconds"] >= max_seconds) or (
                max_rss and report["peak_rss_mib"] >= max_rss
            ):
                verdict = "MISSED"
            else:
                verdict = "ok"
            if verdict != "ok":
                missed.append(f"{name} {step}: {verdict} {report['errors']}")
            table.add_row(
                name,
                step,
                f"{_rows(report['summary']):,}",
                f"{report['seconds']:.2f}",
                f"{report['peak_rss_mib']:.0f}",
                ", ".join(wanted) or "—",
                verdict,
            )

    generated = (
        f"generated in {facts['generate_seconds']:.1f} s"
        if "generate_seconds" in facts
        else "cached"
    )
    out = Console(width=max(Console().width, 100))
    out.print(
        f"[bold]Roster import benchmark[/]: {args.students:,} pupils, seed {args.seed}, "
        f"profile {args.profile.value}"
    )
    out.print(
        f"bulk package {bulk.name}: {facts['bulk_mib']:.1f} MiB ({generated}); "
        f"delta ({args.change_ratio:.0%}): {facts['delta_mib']:.2f} MiB"
    )
    out.print(table)
    for line in missed:
        out.print(f"[red]{line}[/]", highlight=False)
    return 1 if missed and args.check else 0


def parse(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["_child"]:
        parser = argparse.ArgumentParser(prog="roster_import.py _child")
        parser.add_argument("_child")
        parser.add_argument("--database-url", required=True)
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--source", required=True)
        parser.add_argument("--dry-run", action="store_true")
        return parser.parse_args(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=270_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=Profile, default=Profile.V4, choices=list(Profile))
    parser.add_argument("--change-ratio", type=float, default=0.01)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if getattr(args, "_child", None):
        child(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
