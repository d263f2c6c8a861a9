"""``tsunagu roster``: OneRoster packages in and out (import, export, generate)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer
from rich.table import Table

from tsunagu.cli_support import console, container_from, emit_json, fail, progress_reporter
from tsunagu.roster import export as roster_export
from tsunagu.roster import generator
from tsunagu.roster.csv.layouts import Profile
from tsunagu.roster.importer import ImportResult, import_roster
from tsunagu.roster.report import changes_csv, result_as_json, write_report_csv
from tsunagu.tenancy.service import TenantError, TenantNotFoundError

app = typer.Typer(
    help="Rosters (名簿): OneRoster 1.2 CSV packages, Japan Profile.", no_args_is_help=True
)

_SHOWN_PROBLEMS = 40


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A OneRoster package: a ZIP file or a folder."),
    tenant: str = typer.Option(..., "--tenant", help="The tenant's 教育委員会コード."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show what would change."),
    report: Path | None = typer.Option(None, "--report", help="Write every problem to this CSV."),
    changes: Path | None = typer.Option(
        None, "--changes", help="Write every added, changed and deactivated record to this CSV."
    ),
    allow_mass_deactivation: bool = typer.Option(
        False, help="Allow a bulk import that deactivates most of the tenant's users."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Validate a package and import it into a tenant — all or nothing."""
    container = container_from(ctx)
    try:
        with ExitStack() as stack:
            progress = stack.enter_context(progress_reporter())
            sink = stack.enter_context(changes_csv(changes)) if changes is not None else None
            result = import_roster(
                container,
                tenant,
                path,
                dry_run=dry_run,
                allow_mass_deactivation=allow_mass_deactivation,
                progress=progress,
                changes=sink,
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


def _print_counts(title: str, counts: dict[str, int]) -> None:
    console.print(title, highlight=False)
    table = Table("file", "rows")
    table.columns[1].justify = "right"
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)


def _config(
    students: int, seed: int, profile: Profile, board_code: str, school_year: int
) -> generator.GeneratorConfig:
    try:
        return generator.GeneratorConfig(
            students=students,
            seed=seed,
            profile=profile,
            board_code=board_code,
            school_year=school_year,
        )
    except ValueError as exc:
        fail(str(exc))


_OUT = typer.Argument(..., help="Where to write: a .zip file or a folder.")
_STUDENTS = typer.Option(600, "--students", help="Pupils (~100 a village, 270000 a big city).")
_SEED = typer.Option(1, "--seed", help="Same seed and size, same package, byte for byte.")
_PROFILE = typer.Option(Profile.V4, "--profile", help="v3 (1.2), v4 (1.2.1) or v6 (1.2_JP).")
_BOARD = typer.Option(generator.DEFAULT_BOARD_CODE, "--board-code", help="教育委員会コード.")
_YEAR = typer.Option(generator.DEFAULT_SCHOOL_YEAR, "--school-year", help="年度, e.g. 2026.")
_JSON = typer.Option(False, "--json", help="Print the result as JSON on stdout.")


@app.command("generate")
def generate(
    out: Path = _OUT,
    students: int = _STUDENTS,
    seed: int = _SEED,
    profile: Profile = _PROFILE,
    board_code: str = _BOARD,
    school_year: int = _YEAR,
    as_json: bool = _JSON,
) -> None:
    """Write a fictitious municipality's roster as a bulk package (つなぐ市)."""
    config = _config(students, seed, profile, board_code, school_year)
    with progress_reporter() as progress:
        summary = generator.generate_roster(config, out, progress=progress)
    if as_json:
        emit_json(
            {
                "path": str(out),
                "profile": profile.value,
                "schools": summary.schools,
                "counts": summary.counts,
            }
        )
    else:
        _print_counts(f"{out} ({summary.schools} schools, profile {profile.value})", summary.counts)


@app.command("generate-delta")
def generate_delta(
    out: Path = _OUT,
    students: int = _STUDENTS,
    seed: int = _SEED,
    change_ratio: float = typer.Option(
        0.01, "--change-ratio", help="Share of the bulk package's enrollments to change."
    ),
    modified_at: str = typer.Option(
        "", "--modified-at", help="dateLastModified of the rows (default: 1 September)."
    ),
    profile: Profile = _PROFILE,
    board_code: str = _BOARD,
    school_year: int = _YEAR,
    as_json: bool = _JSON,
) -> None:
    """Write a delta package against the municipality of the same size and seed."""
    config = _config(students, seed, profile, board_code, school_year)
    try:
        with progress_reporter() as progress:
            summary = generator.generate_delta(
                config,
                out,
                change_ratio=change_ratio,
                modified_at=modified_at or None,
                progress=progress,
            )
    except ValueError as exc:
        fail(str(exc))
    changes = {
        "transfers": summary.transfers,
        "new_pupils": summary.new_pupils,
        "withdrawals": summary.withdrawals,
        "renamed_classes": summary.renamed_classes,
        "homeroom_teacher_changes": summary.homeroom_teacher_changes,
    }
    if as_json:
        emit_json(
            {
                "path": str(out),
                "profile": profile.value,
                "modified_at": summary.modified_at,
                "changes": changes,
                "counts": summary.counts,
                "changed_enrollments": summary.changed_enrollments,
                "base_enrollments": summary.base_enrollments,
            }
        )
        return
    _print_counts(f"{out} (delta, {summary.modified_at})", summary.counts)
    share = summary.changed_enrollments / summary.base_enrollments
    console.print(
        ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in changes.items())
        + f"; {summary.changed_enrollments:,} enrollment rows ({share:.2%} of the bulk package)"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Where to write: a .zip file or a folder."),
    tenant: str = typer.Option(..., "--tenant", help="The tenant's 教育委員会コード."),
    profile: Profile | None = typer.Option(
        None, "--profile", help="v3, v4 or v6 (default: that of the last import, else v4)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Export a tenant's active roster as a bulk package."""
    container = container_from(ctx)
    try:
        with progress_reporter() as progress:
            result = roster_export.export_roster(
                container, tenant, out, profile=profile, progress=progress
            )
    except TenantError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"path": str(out), "profile": result.profile.value, "counts": result.counts})
    else:
        _print_counts(f"{out} (profile {result.profile.value})", result.counts)
