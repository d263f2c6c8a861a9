"""``tsunagu db``: schema migrations."""

from __future__ import annotations

import typer

from tsunagu.cli_support import console, container_from
from tsunagu.db import migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Migrate the database to the newest schema (or REVISION)."""
    container = container_from(ctx)
    url = container.database.url.render_as_string(hide_password=False)
    migrate.upgrade(url, revision)
    console.print(f"database at {container.database.url!r} is at {revision}")
