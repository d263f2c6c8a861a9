"""Export a tenant's active roster as a bulk OneRoster package (data portability, §6.2).

The package is what an importer expects (eportal-standard.md §4): every file in the profile's
exact column order, every value quoted, CRLF, UTF-8 without BOM, the manifest naming the profile's
``oneroster.version``, ``status``/``dateLastModified`` empty (bulk). Values the profile has no
column for (kana preferred names in a Ver.3 export, unknown ``metadata.*`` columns kept from an
import) follow as ``metadata.*`` extension columns, so exporting loses nothing.

Rows stream from the database (server-side cursors on PostgreSQL) straight into the ZIP writer:
a city of 300,000 users never sits in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, literal, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tsunagu.container import Container
from tsunagu.roster.csv.layouts import FILE_ORDER, LAYOUTS, REQUIRED_FILES, FileLayout, Profile
from tsunagu.roster.csv.writer import PackageWriter, manifest_rows
from tsunagu.roster.models import ACTIVE, MODEL_BY_FILE, RosterImport, RosterRecord
from tsunagu.tenancy import service as tenancy

ProgressCallback = Callable[[str, int], None]

DEFAULT_PROFILE = Profile.V4
#: Columns a bulk file leaves empty (eportal-standard.md §4.2).
_BULK_EMPTY = frozenset({"status", "dateLastModified"})
#: Rows per round trip of the server-side cursor: few round trips, a few MB in memory.
_YIELD_PER = 10_000
_PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class ExportResult:
    path: Path
    profile: Profile
    counts: dict[str, int]


@dataclass(frozen=True)
class _FilePlan:
    """What to select for one file and under which CSV column each value goes."""

    file_name: str
    #: CSV column -> model attribute, profile columns first, then extension columns.
    columns: dict[str, str]
    #: Extension columns in header order (after the profile's columns).
    extra_columns: tuple[str, ...]
    #: ``extra_metadata`` keys that appear in the tenant's rows (a subset of ``extra_columns``).
    metadata_keys: frozenset[str]


def extension_column(column: str) -> str:
    """Header for a standard column the profile lacks: extensions must be ``metadata.*``."""
    return column if column.startswith("metadata.") else f"metadata.{column}"


def _attribute(model: type[RosterRecord], name: str) -> InstrumentedAttribute[Any]:
    attribute = getattr(model, name)
    assert isinstance(attribute, InstrumentedAttribute)
    return attribute


def _active(model: type[RosterRecord], tenant_id: int) -> list[ColumnElement[bool]]:
    return [_attribute(model, "tenant_id") == tenant_id, _attribute(model, "status") == ACTIVE]


def _stored_columns(layout: FileLayout) -> dict[str, str]:
    return {
        column: attribute
        for column, attribute in layout.attributes.items()
        if column not in layout.not_stored and column not in _BULK_EMPTY
    }


def _plan_file(session: Session, tenant_id: int, file_name: str, profile: Profile) -> _FilePlan:
    layout = LAYOUTS[file_name]
    model = MODEL_BY_FILE[file_name]
    stored = _stored_columns(layout)
    columns = {c: stored[c] for c in layout.columns[profile] if c in stored}
    extra: list[str] = []
    covered = set(columns.values())
    # Attributes another profile has a column for: kept when any active row has a value.
    for column, attribute in stored.items():
        if attribute in covered:
            continue
        covered.add(attribute)
        value = _attribute(model, attribute)
        has_values = session.scalar(
            select(literal(1))
            .where(*_active(model, tenant_id), value.is_not(None), value != "")
            .limit(1)
        )
        if has_values:
            header = extension_column(column)
            columns[header] = attribute
            extra.append(header)
    # Unknown metadata.* columns kept from imports: their union over the tenant's rows. A JSON
    # ``null`` is filtered in the database: decoding a million of them would double the export.
    keys: set[str] = set()
    metadata = _attribute(model, "extra_metadata")
    query = select(metadata).where(
        *_active(model, tenant_id), metadata.is_not(None), cast(metadata, Text) != "null"
    )
    for (value,) in session.execute(query.execution_options(yield_per=_YIELD_PER)):
        if isinstance(value, dict):
            keys.update(value)
    keys -= set(columns)
    extra += sorted(keys)
    return _FilePlan(file_name, columns, tuple(extra), frozenset(keys))


def _rows(session: Session, tenant_id: int, plan: _FilePlan) -> Iterator[dict[str, str | None]]:
    model = MODEL_BY_FILE[plan.file_name]
    headers = list(plan.columns)
    selected = [_attribute(model, a) for a in plan.columns.values()]
    if plan.metadata_keys:
        selected.append(_attribute(model, "extra_metadata"))
    query: Select[Any] = (
        select(*selected)
        .where(*_active(model, tenant_id))
        .order_by(_attribute(model, "sourced_id"))
        .execution_options(yield_per=_YIELD_PER)
    )
    for values in session.execute(query):
        row: dict[str, str | None] = dict(zip(headers, values[: len(headers)], strict=True))
        if plan.metadata_keys:
            metadata = values[len(headers)]
            if isinstance(metadata, dict):
                for key in plan.metadata_keys:
                    value = metadata.get(key)
                    row[key] = None if value is None else str(value)
        yield row


def _counted(
    file_name: str, rows: Iterator[dict[str, str | None]], progress: ProgressCallback | None
) -> Iterator[dict[str, str | None]]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress(file_name, done)
    if progress is not None:
        progress(file_name, done)


def last_imported_profile(session: Session, tenant_id: int) -> Profile | None:
    """The profile of the tenant's last applied import: exports speak what the school sent."""
    profile = session.scalar(
        select(RosterImport.profile)
        .where(RosterImport.tenant_id == tenant_id, RosterImport.outcome == "applied")
        .order_by(RosterImport.finished_at.desc(), RosterImport.id.desc())
        .limit(1)
    )
    return Profile(profile) if profile in set(Profile) else None


def export_roster(
    container: Container,
    tenant_code: str,
    target: Path,
    *,
    profile: Profile | None = None,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the tenant's active roster to ``target`` (``.zip`` or a folder) as a bulk package.

    ``profile`` defaults to that of the tenant's last applied import, else Ver.4.
    """
    with container.database.session() as session:
        if container.database.is_postgresql:
            # One snapshot for all files, so an import running meanwhile cannot tear the export.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        tenant = tenancy.get_tenant(session, tenant_code)
        profile = profile or last_imported_profile(session, tenant.id) or DEFAULT_PROFILE
        files = [f for f in FILE_ORDER if LAYOUTS[f].stored]
        modes = dict.fromkeys(REQUIRED_FILES, "bulk")
        # Optional files go in only when the tenant has some: an empty bulk file would declare
        # "there are none" and is no more useful than absent.
        for file_name in files:
            if file_name not in modes:
                model = MODEL_BY_FILE[file_name]
                if session.scalar(select(literal(1)).where(*_active(model, tenant.id)).limit(1)):
                    modes[file_name] = "bulk"
        counts: dict[str, int] = {}
        with PackageWriter(target) as package:
            package.write_manifest(manifest_rows(profile, modes))
            for file_name in files:
                if file_name not in modes:
                    continue
                plan = _plan_file(session, tenant.id, file_name, profile)
                rows = _counted(file_name, _rows(session, tenant.id, plan), progress)
                counts[file_name] = package.write_file(
                    file_name, profile, rows, extra_columns=plan.extra_columns
                )
    return ExportResult(path=target, profile=profile, counts=counts)
