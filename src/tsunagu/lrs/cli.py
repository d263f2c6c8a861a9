"""``tsunagu lrs``: LRS credentials (HTTP Basic key/secret of one tenant), the Japan profile
strict mode, the profile report and the monthly statement partitions (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from tsunagu.cli_support import (
    console,
    container_from,
    emit_json,
    fail,
    print_credentials,
    print_new_secret,
)
from tsunagu.lrs import credentials as service
from tsunagu.lrs.credentials import SCOPES, CredentialAdminError
from tsunagu.lrs.profiles import service as profiles
from tsunagu.lrs.validation import parse_timestamp
from tsunagu.tenancy.service import TenantError

app = typer.Typer(help="The xAPI Learning Record Store.", no_args_is_help=True)
credentials_app = typer.Typer(
    help="Key/secret pairs for HTTP Basic on /xapi, one tenant each.", no_args_is_help=True
)
app.add_typer(credentials_app, name="credentials")
partitions_app = typer.Typer(
    help="Monthly partitions of stored statements (PostgreSQL).", no_args_is_help=True
)
app.add_typer(partitions_app, name="partitions")

_SCOPE_HELP = "xAPI scope to grant (repeatable; default all): " + ", ".join(SCOPES) + "."


@credentials_app.command("create")
def create(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    name: str = typer.Option(..., "--name", help="Who the credential is for (tool or vendor)."),
    scope: list[str] = typer.Option([], "--scope", help=_SCOPE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print key and secret as JSON."),
) -> None:
    """Create a credential; its secret is printed once and never stored."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            created = service.create_credential(
                session,
                container.settings.resolved_secret_key,
                tenant_code=tenant,
                name=name,
                scopes=scope,
            )
    except (CredentialAdminError, TenantError) as exc:
        fail(str(exc))
    if as_json:
        emit_json({**created.info.as_json(), "secret": created.secret})
        return
    print_new_secret(
        f"created LRS credential for tenant {created.info.tenant_code}: {name}",
        "key",
        created.info.key,
        "secret",
        created.secret,
        created.info.scopes,
    )


@credentials_app.command("list")
def list_(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List a tenant's credentials (secrets are not recoverable)."""
    container = container_from(ctx)
    try:
        with container.database.session() as session:
            found = service.list_credentials(session, tenant)
    except TenantError as exc:
        fail(str(exc))
    if as_json:
        emit_json([c.as_json() for c in found])
        return
    print_credentials(
        "key", ((c.key, c.name, " ".join(c.scopes), c.created_at, c.revoked_at) for c in found)
    )


@credentials_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="The key to revoke."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke a credential (app servers stop accepting it within seconds)."""
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            info = service.revoke_credential(session, key)
    except CredentialAdminError as exc:
        fail(str(exc))
    if as_json:
        emit_json(info.as_json())
    else:
        console.print(f"revoked LRS credential {info.key} ({info.name})")


@partitions_app.command("ensure")
def partitions_ensure(
    ctx: typer.Context,
    months_ahead: int | None = typer.Option(
        None, "--months-ahead", min=0, max=120, help="Months after this one (default: setting)."
    ),
    since: str | None = typer.Option(
        None, "--from", help="Also every month from this one (YYYY-MM), e.g. for a backfill."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create the missing monthly partitions (this month and the next ones); safe to repeat."""
    from tsunagu.lrs import partitions

    container = container_from(ctx)
    ahead = (
        months_ahead if months_ahead is not None else container.settings.lrs_partition_months_ahead
    )
    if not container.database.is_postgresql:
        if as_json:
            emit_json({"created": [], "partitioned": False})
        else:
            console.print("SQLite keeps statements in one table: nothing to do.")
        return
    created = partitions.ensure_ahead_for(container.database, ahead)
    if since is not None:
        try:
            first = datetime.strptime(since, "%Y-%m").replace(tzinfo=UTC)
        except ValueError:
            fail(f"--from must be YYYY-MM, not {since!r}")
        with container.database.engine.begin() as connection:
            created += partitions.ensure(
                connection, partitions.Month.of(first), partitions.Month.of(datetime.now(UTC))
            )
    if as_json:
        emit_json({"created": created, "partitioned": True})
        return
    for name in created:
        console.print(f"created {name}", highlight=False)
    console.print(f"{len(created)} partition(s) created")


@partitions_app.command("list")
def partitions_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """The partitions with their bounds and (estimated) row counts."""
    from tsunagu.lrs import partitions

    container = container_from(ctx)
    with container.database.engine.connect() as connection:
        found = partitions.list_partitions(connection)
    if as_json:
        emit_json([{"name": p.name, "bounds": p.bounds, "rows": p.rows} for p in found])
        return
    table = Table("partition", "bounds", "rows (estimate)")
    for p in found:
        table.add_row(p.name, p.bounds, f"{p.rows:,}")
    console.print(table)


@app.command("strict-mode")
def strict_mode(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    state: str | None = typer.Argument(
        None, help="on | off (omit to show the current mode).", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show or set the Japan xAPI profile strict mode of a tenant.

    When on, statements that claim a Japan profile and break one of its rules are refused with
    400. Off by default: the profiles are recommendations.
    """
    if state is not None and state not in ("on", "off"):
        fail("The mode is 'on' or 'off'.")
    container = container_from(ctx)
    try:
        with container.database.transaction() as session:
            if state is None:
                strict = profiles.get_strict(session, tenant)
            else:
                strict = profiles.set_strict(session, tenant, state == "on")
    except TenantError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"tenant": tenant, "strict": strict})
        return
    shown = (
        "on（プロファイル違反を拒否）" if strict else "off（プロファイルは推奨、違反も受け付ける）"
    )
    console.print(f"LRS strict mode for tenant {tenant}: {shown}", highlight=False)


@app.command("profile-report")
def profile_report(
    ctx: typer.Context,
    tenant: str = typer.Option(..., "--tenant", help="教育委員会コード of the tenant."),
    since: str | None = typer.Option(
        None, "--since", help="Only statements stored after this ISO 8601 time."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Statements per Japan xAPI profile template, broken rules and statements matching none."""
    since_at: datetime | None = None
    if since is not None:
        since_at = parse_timestamp(since)
        if since_at is None:
            fail(f"--since must be an ISO 8601 date-time, e.g. 2026-04-01T00:00:00+09:00: {since}")
    container = container_from(ctx)
    try:
        with container.database.session() as session:
            report = profiles.build_report(session, tenant, since_at)
    except TenantError as exc:
        fail(str(exc))
    data = report.as_json()
    if as_json:
        emit_json(data)
        return
    out = console
    mode = "strict" if report.strict else "advisory"
    out.print(
        f"Japan xAPI profiles — tenant {tenant} ({mode})"
        + (f", stored after {since_at.isoformat()}" if since_at else ""),
        highlight=False,
    )
    templates = Table(title="テンプレート別 / per template")
    templates.add_column("template", no_wrap=True)
    templates.add_column("名称", overflow="fold")
    templates.add_column("statements", justify="right")
    templates.add_column("with errors", justify="right")
    for row in data["templates"]:
        templates.add_row(
            row["template"], row["label_ja"], f"{row['statements']:,}", f"{row['with_errors']:,}"
        )
    templates.add_section()
    templates.add_row(
        "(claimed, no template)", "テンプレート不一致", f"{report.claimed_without_template:,}", ""
    )
    templates.add_row("(no template)", "テンプレートなし（計）", f"{report.no_template:,}", "")
    templates.add_row("(total)", "合計", f"{report.total:,}", "")
    out.print(templates)
    rules = Table(title="ルール別 / per rule")
    # Rule ids are what operators search for: never cut them; the label folds instead.
    rules.add_column("rule", no_wrap=True)
    rules.add_column("severity", no_wrap=True)
    rules.add_column("内容", overflow="fold")
    rules.add_column("statements", justify="right")
    for row in data["rules"]:
        rules.add_row(row["rule"], row["severity"], row["label_ja"], f"{row['statements']:,}")
    out.print(rules)
