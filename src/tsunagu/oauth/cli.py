"""``tsunagu oauth-client``: machine clients (OneRoster consumers, later LTI tools and the LRS)."""

from __future__ import annotations

from typing import Any

import typer

from tsunagu.cli_support import (
    console,
    container_from,
    emit_json,
    fail,
    print_credentials,
    print_new_secret,
)
from tsunagu.oauth import service
from tsunagu.oauth.scopes import SCOPES, short_name
from tsunagu.oauth.service import ClientAdminError, ClientInfo
from tsunagu.tenancy.service import TenantError

app = typer.Typer(help="OAuth 2.0 clients (client credentials) of a tenant.", no_args_is_help=True)

_SCOPE_HELP = "Scope to grant (repeatable): " + ", ".join(s.alias for s in SCOPES) + " or full URI."


def _as_json(info: ClientInfo) -> dict[str, Any]:
    return {
        "client_id": info.client_id,
        "name": info.name,
        "tenant": info.tenant_code,
        "scopes": list(info.scopes),
        "created_at": info.created_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
    }


@app.command("create")
def create(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    name: str = typer.Option(..., "--name", help="Who the client is for (tool or vendor)."),
    scope: list[str] = typer.Option(..., "--scope", help=_SCOPE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the client and secret as JSON."),
) -> None:
    """Create a client; its secret is printed once and never stored."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            created = service.create_client(
                session,
                container.settings.resolved_secret_key,
                tenant_code=tenant,
                name=name,
                scopes=scope,
            )
    except (ClientAdminError, TenantError) as exc:
        fail(str(exc))
    if as_json:
        emit_json({**_as_json(created.info), "client_secret": created.secret})
        return
    print_new_secret(
        f"created OAuth client for tenant {created.info.tenant_code}: {created.info.name}",
        "client_id",
        created.info.client_id,
        "client_secret",
        created.secret,
        created.info.scopes,
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List a tenant's clients (secrets are not recoverable)."""
    container = container_from(ctx)
    try:
        with container.database.session() as session:
            clients = service.list_clients(session, tenant)
    except TenantError as exc:
        fail(str(exc))
    if as_json:
        emit_json([_as_json(c) for c in clients])
        return
    print_credentials(
        "client_id",
        (
            (c.client_id, c.name, "\n".join(map(short_name, c.scopes)), c.created_at, c.revoked_at)
            for c in clients
        ),
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    client_id: str = typer.Argument(..., help="The client_id to revoke."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke a client: it can no longer get tokens, and the tokens it holds stop working."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            info = service.revoke_client(session, client_id)
    except ClientAdminError as exc:
        fail(str(exc))
    if as_json:
        emit_json(_as_json(info))
    else:
        console.print(f"revoked OAuth client {info.client_id} ({info.name})")
