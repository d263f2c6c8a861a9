"""``tsunagu tenant``: boards of education hosted by this deployment."""

from __future__ import annotations

import typer
from rich.table import Table

from tsunagu.cli_support import console, container_from, emit_json, fail
from tsunagu.tenancy import service
from tsunagu.tenancy.service import TenantError

app = typer.Typer(help="Tenants (学校設置者 / boards of education).", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="6-digit 教育委員会コード"),
    name: str = typer.Option(..., "--name", help="e.g. つなぐ市教育委員会"),
    as_json: bool = typer.Option(False, "--json", help="Print what was created as JSON."),
) -> None:
    """Create a tenant."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            tenant = service.create_tenant(session, code, name)
    except TenantError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"id": tenant.id, "code": tenant.code, "name": tenant.name})
    else:
        console.print(f"created tenant {tenant.code} {tenant.name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List tenants."""
    container = container_from(ctx)
    with container.database.session() as session:
        tenants = service.list_tenants(session)
    if as_json:
        emit_json([{"id": t.id, "code": t.code, "name": t.name} for t in tenants])
        return
    table = Table("code", "name")
    for t in tenants:
        table.add_row(t.code, t.name)
    console.print(table)
