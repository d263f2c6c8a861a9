"""``tsunagu audit``: read and export a tenant's audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tsunagu.audit import service
from tsunagu.cli_support import console, container_from, fail
from tsunagu.tenancy.service import TenantError, get_tenant

app = typer.Typer(help="The audit log (sign-ins, failures, administrative actions).")


@app.command("export")
def export(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    out: Path | None = typer.Option(None, "--out", help="CSV file (default: standard output)."),
    limit: int | None = typer.Option(None, "--limit", help="Only the newest N events."),
) -> None:
    """Export a tenant's audit log as CSV (UTF-8 with BOM, newest first)."""
    container = container_from(ctx)
    try:
        with container.database.session() as session:
            tenant_ref = get_tenant(session, tenant)
            events = service.list_events(session, tenant_ref.id, limit=limit)
    except TenantError as exc:
        fail(str(exc))
    text = service.to_csv(events, tenant_ref.code)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"{len(events)} events written to {out}")
