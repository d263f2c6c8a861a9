"""``tsunagu roster``: import (and, with the generator and exporter, produce) OneRoster packages."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tsunagu.cli_support import console, container_from, emit_json, fail
from tsunagu.roster.importer import ImportResult, import_roster
from tsunagu.roster.report import result_as_json, write_report_csv
from tsunagu.tenancy.service import TenantNotFoundError

app = typer.Typer(help="Rosters (名簿): OneRoster 1.2 CSV, Japan Profile.", no_args_is_help=True)

_SHOWN_PROBLEMS = 40


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A OneRoster package: a ZIP file or a folder."),
    tenant: str = typer.Option(..., "--tenant", help="The tenant's 教育委員会コード."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show what would change."),
    report: Path | None = typer.Option(None, "--report", help="Write every problem to this CSV."),
    allow_mass_deactivation: bool = typer.Option(
        False, help="Allow a bulk import that deactivates most of the tenant's users."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Validate a package and import it into a tenant — all or nothing."""
    container = container_from(ctx)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(file_name: str, rows: int) -> None:
            if file_name not in tasks:
                tasks[file_name] = progress.add_task(f"{file_name}.csv", total=None)
            progress.update(tasks[file_name], completed=rows)

        try:
            result = import_roster(
                container,
                tenant,
                path,
                dry_run=dry_run,
                allow_mass_deactivation=allow_mass_deactivation,
                progress=on_progress,
            )
        except TenantNotFoundError as exc:
            fail(str(exc))
    if report is not None:
        write_report_csv(result, report)
    if as_json:
        emit_json(result_as_json(result))
    else:
        _print_result(result, report)
    if not result.accepted:
        raise typer.Exit(1)


def _print_result(result: ImportResult, report: Path | None) -> None:
    if result.problems:
        table = Table("", "where", "rule", "message", title="Problems / 問題", show_lines=False)
        for p in result.problems[:_SHOWN_PROBLEMS]:
            mark = "[red]E[/]" if p.severity == "error" else "[yellow]W[/]"
            table.add_row(mark, p.location(), p.rule, f"{p.message_ja}\n{p.message_en}")
        console.print(table)
        hidden = len(result.problems) - _SHOWN_PROBLEMS + sum(result.suppressed.values())
        if hidden > 0:
            console.print(f"… and {hidden} more (use --report FILE to get them all)")
    if result.summary:
        title = "What would change / 変更予定" if result.dry_run else "Changes / 変更"
        table = Table("file", "added", "changed", "deactivated", "unchanged", title=title)
        for name, c in result.summary.items():
            table.add_row(name, str(c.added), str(c.changed), str(c.deactivated), str(c.unchanged))
        console.print(table)
    verdict = (
        "[bold red]rejected: nothing was changed / 取り込みを中止しました（変更なし）[/]"
        if not result.accepted
        else "[bold green]valid (dry run): nothing was changed / 検証のみ（変更なし）[/]"
        if result.dry_run
        else "[bold green]imported / 取り込みました[/]"
    )
    console.print(
        f"{verdict} — {result.error_count} errors, {result.warning_count} warnings, "
        f"{result.seconds:.1f} s"
    )
    if report is not None:
        console.print(f"report written to {report}")
