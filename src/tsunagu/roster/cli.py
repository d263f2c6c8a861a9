"""``tsunagu roster``: OneRoster packages in and out (generate, export)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tsunagu.cli_support import console, container_from, emit_json, fail, progress_reporter
from tsunagu.roster import export as roster_export
from tsunagu.roster import generator
from tsunagu.roster.csv.layouts import Profile
from tsunagu.tenancy.service import TenantError

app = typer.Typer(help="Rosters: OneRoster 1.2 CSV packages (Japan Profile).", no_args_is_help=True)


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
