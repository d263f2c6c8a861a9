"""What every domain's CLI commands share: the container, JSON output and clean failures."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from tsunagu.container import Container, build_container

#: Human-facing output goes to stderr so that ``--json`` output on stdout stays parseable.
console = Console(stderr=True)


def container_from(ctx: typer.Context) -> Container:
    """The process's container, built on first use and closed when the command ends."""
    root = ctx.find_root()
    if root.obj is None:
        container = build_container()
        root.obj = container
        root.call_on_close(container.close)
    assert isinstance(root.obj, Container)
    return root.obj


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def progress_reporter() -> Iterator[Callable[[str, int], None]]:
    """A ``(name, rows done)`` callback that shows one rich progress line per file.

    Long roster work (generate, import, export) reports through it; the lines go to stderr.
    """
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        TextColumn("{task.completed:>12,.0f} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        tasks: dict[str, TaskID] = {}
        done_by_name: dict[str, int] = {}

        def finish_last() -> None:
            # A file is finished when the next one starts: stop its spinner at its count.
            if done_by_name:
                last = next(reversed(done_by_name))
                progress.update(tasks[last], total=done_by_name[last])

        def report(name: str, done: int) -> None:
            if name not in tasks:
                finish_last()
                tasks[name] = progress.add_task(name, total=None)
            done_by_name[name] = done
            progress.update(tasks[name], completed=done)

        yield report
        finish_last()


def print_new_secret(
    title: str,
    id_label: str,
    identifier: str,
    secret_label: str,
    secret: str,
    scopes: Iterable[str],
) -> None:
    """A machine credential just created: its secret is printed this once and never again."""
    width = max(len(id_label), len(secret_label), len("scopes")) + 2
    console.print(title)
    console.print(f"{id_label + ':':<{width}}{identifier}", highlight=False)
    console.print(f"{secret_label + ':':<{width}}{secret}", highlight=False)
    console.print(f"{'scopes:':<{width}}" + " ".join(scopes), highlight=False)
    console.print("[yellow]The secret is shown only now; store it in the tool's configuration.[/]")


def print_credentials(
    id_header: str, rows: Iterable[tuple[str, str, str, datetime, datetime | None]]
) -> None:
    """A table of machine credentials: identifier, name, scopes, created, revoked."""
    table = Table(id_header, "name", "scopes", "created", "revoked")
    for identifier, name, scopes, created_at, revoked_at in rows:
        table.add_row(
            identifier,
            name,
            scopes,
            created_at.strftime("%Y-%m-%d %H:%M"),
            revoked_at.strftime("%Y-%m-%d %H:%M") if revoked_at else "",
        )
    console.print(table)
