"""The ``tsunagu`` command: one Typer root, each domain adds its command group."""

from __future__ import annotations

import typer

from tsunagu.audit.cli import app as audit_app
from tsunagu.db.cli import app as db_app
from tsunagu.demo.cli import app as demo_app
from tsunagu.identity.cli import idp_app, qr_app, session_app, user_app
from tsunagu.lrs.cli import app as lrs_app
from tsunagu.lti.cli import keys_app, tool_app
from tsunagu.oauth.cli import app as oauth_client_app
from tsunagu.roster.cli import app as roster_app
from tsunagu.tenancy.cli import app as tenant_app

app = typer.Typer(
    name="tsunagu",
    help="Tsunagu (つなぐ) 学習eポータル: serve the portal and administer it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(roster_app, name="roster")
app.add_typer(demo_app, name="demo")
app.add_typer(oauth_client_app, name="oauth-client")
app.add_typer(lrs_app, name="lrs")
app.add_typer(user_app, name="user")
app.add_typer(idp_app, name="idp")
app.add_typer(qr_app, name="qr")
app.add_typer(session_app, name="session")
app.add_typer(audit_app, name="audit")
app.add_typer(tool_app, name="tool")
app.add_typer(keys_app, name="keys")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes (PostgreSQL deployments)."),
    reload: bool = typer.Option(False, help="Reload on code changes (development)."),
    access_log: bool = typer.Option(
        True, help="Log every request (off for benchmarks or behind a proxy that logs)."
    ),
    hang_seconds: float = typer.Option(
        60.0, help="With --workers above 1: replace a worker whose event loop is stuck this long."
    ),
) -> None:
    """Serve the portal over HTTP."""
    from tsunagu import serving

    serving.run(
        "tsunagu.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        # Templates are compiled once per process (no modification check per render), so in
        # development a template or catalog edit restarts the server like a code edit.
        reload_includes=["*.html", "*.po"] if reload else None,
        proxy_headers=True,
        access_log=access_log,
        hang_seconds=hang_seconds,
    )


def main() -> None:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from tsunagu.cli_support import console

    try:
        app()
    except (OperationalError, ProgrammingError) as exc:
        # The usual cause on a fresh database: the schema was never created.
        message = str(exc.orig) if exc.orig is not None else str(exc)
        console.print(f"[bold red]database error:[/] {message}", highlight=False)
        if "no such table" in message or "does not exist" in message:
            console.print("Run 'tsunagu db upgrade' to create or update the schema.")
        raise SystemExit(2) from None
