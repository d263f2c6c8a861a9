"""``tsunagu demo``: the demo municipality."""

from __future__ import annotations

import typer

from tsunagu.cli_support import console, container_from, emit_json, fail, progress_reporter
from tsunagu.demo import service

app = typer.Typer(help="The demo municipality (つなぐ市).", no_args_is_help=True)


@app.command("setup")
def setup(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Migrate the database, create the demo tenant and load its roster (once)."""
    container = container_from(ctx)
    try:
        with progress_reporter() as progress:
            result = service.setup_demo(container, progress=progress)
    except service.DemoSetupError as exc:
        fail(str(exc))
    if as_json:
        emit_json(
            {
                "tenant": result.tenant_code,
                "name": result.tenant_name,
                "tenant_created": result.tenant_created,
                "imported": str(result.imported_package) if result.imported_package else None,
                "users": result.users,
                "password": service.DEMO_PASSWORD,
                "accounts": [
                    {"role": a.role, "username": a.username, "name": a.name}
                    for a in result.accounts
                ],
                "lti_tool": result.tool_client_id,
                "lti_tool_config": str(result.tool_config) if result.tool_config else None,
                "portal": (
                    {
                        "classes": result.portal.classes,
                        "timetable_slots": result.portal.slots,
                        "notices": result.portal.notices,
                        "statements": result.portal.statements,
                    }
                    if result.portal
                    else None
                ),
            }
        )
        return
    state = (
        f"roster imported from {result.imported_package}"
        if result.imported_package
        else "roster already loaded"
    )
    console.print(
        f"demo tenant {result.tenant_code} {result.tenant_name}: {state}, {result.users:,} users"
    )
    if result.accounts:
        console.print(f"sign in at /signin with password [bold]{service.DEMO_PASSWORD}[/] as:")
        for account in result.accounts:
            console.print(
                f"  {account.role:<13} {account.username}  ({account.name})", highlight=False
            )
        console.print("  (administrators also register an authenticator app at first sign-in)")
    if result.portal:
        console.print(
            f"portal: {result.portal.classes} classes with timetables ({result.portal.slots} "
            f"periods), {result.portal.notices} notices, {result.portal.statements:,} statements"
        )
