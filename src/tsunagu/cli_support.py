"""What every domain's CLI commands share: the container, JSON output and clean failures."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

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
