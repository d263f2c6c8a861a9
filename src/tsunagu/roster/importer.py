"""Importing a OneRoster package into a tenant's roster: validate, diff, apply — all or nothing.

The flow (one database transaction; a rejected import or a dry run rolls it back):

1. Read the manifest; check every file's encoding, form and header.
2. Stream each file in dependency order (orgs → … → enrollments), check every row's values
   (:mod:`tsunagu.roster.csv.rules`) and load it into a temporary staging table.
3. After each file, check in SQL what needs more than one row: duplicate ids, references into
   the *post-import* roster (bulk files replace, delta files amend, absent files keep what is
   stored), unique ``userMasterIdentifier``, secondary roles needing a primary.
4. Diff staging against the stored roster (added / changed / deactivated / unchanged), refuse
   a bulk import that would deactivate most of the tenant's users, then apply: upsert only rows
   whose content hash changed, deactivate (never delete) rows that left the roster, and
   deactivate the enrollments and roles of people and classes that left.

Policy (lti-oneroster-notes.md §3.1 asks for one): people who disappear from a bulk file are
deactivated, never hard-deleted — their study logs stay theirs and a later import can bring
them back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, DateTime, bindparam, text

from tsunagu.container import Container
from tsunagu.roster.csv.layouts import FILE_ORDER, LAYOUTS, Profile
from tsunagu.roster.csv.problems import Problem, ProblemLog
from tsunagu.roster.csv.reader import CsvStream, Package, PackageError, check_header, read_manifest
from tsunagu.roster.csv.rules import RowValidator, parse_iso_datetime, split_list
from tsunagu.roster.models import RosterImport
from tsunagu.roster.staging import (
    LIST_REFS_TABLE,
    Stager,
    StagingTable,
    copy_line,
    staging_table_for,
)
from tsunagu.tenancy.service import get_tenant

logger = logging.getLogger(__name__)

#: (file name, rows done so far)
ProgressCallback = Callable[[str, int], None]
#: (file name, action, sourcedId, label): every change, for boards that review a rollover first.
ChangeSink = Callable[[str, str, str, str], None]

# A human label per record, from columns staging and stored tables share (alias ``r``).
_LABELS = {
    "orgs": "r.name",
    "academicSessions": "r.title",
    "courses": "r.title",
    "classes": "r.title",
    "users": (
        "r.username || ' ' || COALESCE(r.preferred_family_name, '') || ' ' "
        "|| COALESCE(r.preferred_given_name, '')"
    ),
    "userProfiles": "r.username",
    "roles": "r.role || ' ' || r.user_sourced_id || ' @ ' || r.org_sourced_id",
    "enrollments": "r.role || ' ' || r.user_sourced_id || ' → ' || r.class_sourced_id",
}
_PROGRESS_EVERY = 10_000
_LIST_REF_COLUMNS = ("file", "row_no", "col", "value")
_ANALYZE_AFTER_ROWS = 10_000


@dataclass
class ChangeCounts:
    added: int = 0
    changed: int = 0
    deactivated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "added": self.added,
            "changed": self.changed,
            "deactivated": self.deactivated,
            "unchanged": self.unchanged,
        }


@dataclass
class ImportResult:
    accepted: bool
    dry_run: bool
    source: str
    profile: Profile | None
    problems: list[Problem]
    error_count: int
    warning_count: int
    #: (rule, file) -> problems counted but not listed (beyond the per-rule cap).
    suppressed: dict[tuple[str, str | None], int] = field(default_factory=dict)
    #: OneRoster file name -> what changed (or would change, in a dry run).
    summary: dict[str, ChangeCounts] = field(default_factory=dict)
    import_id: int | None = None
    seconds: float = 0.0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def applied(self) -> bool:
        return self.accepted and not self.dry_run


@dataclass(frozen=True)
class Reference:
    """A column of ``file`` that must resolve to a record of ``target`` after the import."""

    file: str
    column: str
    target: str
    #: (column of the target's staging/live table, required value), e.g. ("type", "school").
    kind: tuple[str, str] | None = None
    many: bool = False
    #: The rule a reference of the wrong kind breaks (a warning for the homeroom hint).
    kind_rule: str = "ref.wrong_type"


# eportal-standard.md §4.8 (K社 ib1044–ib1060, ib1094, ib1099; meibo *Set classes).
REFERENCES = (
    Reference("orgs", "parentSourcedId", "orgs", ("type", "district")),
    Reference("academicSessions", "parentSourcedId", "academicSessions"),
    Reference("courses", "schoolYearSourcedId", "academicSessions", ("type", "schoolYear")),
    Reference("courses", "orgSourcedId", "orgs"),
    Reference("classes", "courseSourcedId", "courses"),
    Reference("classes", "schoolSourcedId", "orgs", ("type", "school")),
    Reference("classes", "termSourcedIds", "academicSessions", many=True),
    Reference("users", "primaryOrgSourcedId", "orgs"),
    Reference(
        "users",
        "metadata.jp.homeClass",
        "classes",
        ("class_type", "homeroom"),
        kind_rule="user.home_class_not_homeroom",
    ),
    Reference("users", "agentSourcedIds", "users", many=True),
    Reference("userProfiles", "userSourcedId", "users"),
    Reference("roles", "userSourcedId", "users"),
    Reference("roles", "orgSourcedId", "orgs"),
    Reference("roles", "userProfileSourcedId", "userProfiles"),
    Reference("demographics", "sourcedId", "users"),
    Reference("enrollments", "classSourcedId", "classes"),
    Reference("enrollments", "schoolSourcedId", "orgs", ("type", "school")),
    Reference("enrollments", "userSourcedId", "users"),
)
_REFERENCED = frozenset(ref.target for ref in REFERENCES)
_KIND_LABEL = {
    ("type", "district"): "教育委員会 (district)",
    ("type", "school"): "学校 (school)",
    ("type", "schoolYear"): "学年度 (schoolYear)",
    ("class_type", "homeroom"): "学級 (homeroom)",
}


def import_roster(
    container: Container,
    tenant_code: str,
    source: Path,
    *,
    dry_run: bool = False,
    allow_mass_deactivation: bool = False,
    progress: ProgressCallback | None = None,
    changes: ChangeSink | None = None,
) -> ImportResult:
    """Import a package (ZIP or folder) into a tenant. Changes nothing unless accepted.

    ``changes``, when given, receives every addition, change and deactivation (also in a dry
    run), so a board can review a yearly rollover person by person before applying it.
    """
    started = datetime.now(UTC)
    clock = time.perf_counter()
    database = container.database
    with database.session() as session:
        tenant = get_tenant(session, tenant_code)
    log = ProblemLog(cap=container.settings.roster_max_problems_per_rule)
    run = _ImportRun(
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        log=log,
        now=started,
        allow_mass_deactivation=allow_mass_deactivation,
        mass_ratio=container.settings.roster_mass_deactivation_ratio,
        progress=progress,
        changes=changes,
    )
    profile: Profile | None = None
    try:
        package = Package(source)
    except PackageError as exc:
        log.report("package.unreadable", detail=str(exc))
    else:
        with package, database.engine.connect() as connection:
            transaction = connection.begin()
            stager = Stager(connection)
            try:
                profile = run.execute(package, connection, stager)
                if log.has_errors or dry_run:
                    transaction.rollback()
                else:
                    transaction.commit()
            except BaseException:
                transaction.rollback()
                raise
            finally:
                stager.drop_all()
                if connection.in_transaction():
                    connection.commit()

    result = ImportResult(
        accepted=not log.has_errors,
        dry_run=dry_run,
        source=source.name,
        profile=profile,
        problems=sorted(log.problems, key=_problem_order),
        error_count=log.error_count,
        warning_count=log.warning_count,
        suppressed=dict(log.suppressed),
        summary=run.summary,
        seconds=time.perf_counter() - clock,
    )
    result.import_id = _record(container, tenant.id, result, started)
    return result


_FILE_RANK = {
    name: rank
    for rank, name in enumerate(
        ["manifest.csv", *(LAYOUTS[f].filename for f in FILE_ORDER)], start=1
    )
}


def _problem_order(problem: Problem) -> tuple[int, int]:
    # Two threads report (one reads a file while SQL checks the previous): present the problems
    # in file and row order all the same.
    return _FILE_RANK.get(problem.file or "", 0), -1 if problem.row is None else problem.row


def _record(container: Container, tenant_id: int, result: ImportResult, started: datetime) -> int:
    outcome = "rejected" if not result.accepted else ("dry-run" if result.dry_run else "applied")
    with container.database.transaction() as session:
        record = RosterImport(
            tenant_id=tenant_id,
            source_name=result.source,
            profile=result.profile.value if result.profile else None,
            dry_run=result.dry_run,
            outcome=outcome,
            started_at=started,
            finished_at=datetime.now(UTC),
            error_count=result.error_count,
            warning_count=result.warning_count,
            summary={name: counts.as_dict() for name, counts in result.summary.items()},
        )
        session.add(record)
        session.flush()
        return record.id


@contextmanager
def _timed(phase: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    logger.info("roster import: %s took %.2f s", phase, time.perf_counter() - started)


@dataclass
class _ImportRun:
    tenant_id: int
    tenant_code: str
    log: ProblemLog
    now: datetime
    allow_mass_deactivation: bool
    mass_ratio: float
    progress: ProgressCallback | None
    changes: ChangeSink | None = None
    summary: dict[str, ChangeCounts] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)
    tables: dict[str, StagingTable] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)

    # ----------------------------------------------------------------- orchestration

    def execute(self, package: Package, connection: Connection, stager: Stager) -> Profile | None:
        manifest = read_manifest(package, self.log)
        if manifest is None:
            return None
        profile = manifest.profile
        self.connection = connection
        self.stager = stager
        self.is_postgresql = stager.is_postgresql
        if self.is_postgresql:
            # Staging tables live in session-local buffers (8 MB by default): give a city's
            # million enrollments room before the session first touches a temporary table.
            connection.execute(text("SET temp_buffers = '512MB'"))
            # One import per tenant at a time; a second waits instead of interleaving.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(7351, :t)"), {"t": self.tenant_id}
            )
        stager.create_list_refs()
        present: list[str] = []
        for file_name in FILE_ORDER:
            mode = manifest.mode(file_name)
            self.tables[file_name] = staging_table_for(file_name)
            if mode == "absent" or not package.has(LAYOUTS[file_name].filename):
                mode = "absent"
            else:
                stager.create(self.tables[file_name])
                present.append(file_name)
            self.modes[file_name] = mode
        if self.is_postgresql:
            # While the database checks and applies one file, a second thread reads and checks
            # the next: the two halves of a city's import (Python and PostgreSQL) overlap.
            with _Reader(self, package, present, profile) as reader:
                for file_name in present:
                    staged = reader.next_file()
                    with _timed(f"load {file_name}"):
                        if staged is not None:
                            table = self.tables[file_name]
                            with staged.rows:
                                stager.copy_spool(table.name, table.columns, staged.rows)
                            if staged.list_refs:
                                stager.load(LIST_REFS_TABLE, _LIST_REF_COLUMNS, staged.list_refs)
                    self._after_staged(file_name)
        else:
            for file_name in present:
                with _timed(f"read and load {file_name}"):
                    self._stage_inline(package, file_name, profile)
                self._after_staged(file_name)
        if not self.log.has_errors:
            with _timed("cascades"):
                self._cascade_and_analyse()
        return profile

    def _after_staged(self, file_name: str) -> None:
        """Everything after a file is in its staging table: checks, and while all is well, the
        diff and the apply (a later error still rolls everything back)."""
        table = self.tables[file_name]
        # Look-ups by sourcedId serve references into this file and a delta's row-by-row
        # updates; a bulk file nothing refers to (enrollments, roles) is only ever hashed.
        indexed = file_name in _REFERENCED or self.modes[file_name] == "delta"
        self.stager.index(table.name, "sourced_id" if indexed else None)
        with _timed(f"check {file_name}"):
            self._check_file(file_name)
        if self.log.has_errors or table.live_table is None:
            return
        with _timed(f"diff {file_name}"):
            self._diff_file(file_name)
        if self.log.has_errors:
            return
        with _timed(f"apply {file_name}"):
            self._apply_file(file_name)

    # ----------------------------------------------------------------- streaming

    def open_file(
        self, package: Package, file_name: str, profile: Profile | None
    ) -> tuple[CsvStream, RowValidator | None]:
        """Open a file and check its form and header; the validator is None when unusable."""
        layout = LAYOUTS[file_name]
        stream = CsvStream(package, layout.filename, self.log)
        if not stream.readable or stream.header is None:
            return stream, None
        header = stream.header
        if not check_header(file_name, header, profile, self.log):
            return stream, None
        self.headers[file_name] = header
        if not layout.stored:
            self.log.report("demographics.not_stored", file=layout.filename)
        mode = self.modes[file_name]
        return stream, RowValidator(file_name, header, mode, self.tenant_code, self.log)

    def _stage_inline(self, package: Package, file_name: str, profile: Profile | None) -> None:
        table = self.tables[file_name]
        stream, validator = self.open_file(package, file_name, profile)
        try:
            if validator is None:
                return
            list_refs: list[tuple[str, str, str, str]] = []
            rows = self.staging_rows(stream, validator, file_name, list_refs)
            self.stager.load(table.name, table.columns, rows)
            if list_refs:
                self.stager.load(LIST_REFS_TABLE, _LIST_REF_COLUMNS, list_refs)
        finally:
            stream.close()

    def staging_rows(
        self,
        stream: CsvStream,
        validator: RowValidator,
        file_name: str,
        list_refs_out: list[tuple[str, str, str, str]],
    ) -> Iterator[tuple[str, ...]]:
        layout = LAYOUTS[file_name]
        table = self.tables[file_name]
        mode = self.modes[file_name]
        header = stream.header or []
        index = validator.index
        # Position of each staged attribute in this header (first matching column wins: a file
        # may spell shussekiNo both ways). Attributes the header lacks read a trailing "".
        missing = len(header)
        positions = [
            next((i for i, c in enumerate(header) if layout.attributes.get(c) == attr), missing)
            for attr in table.attributes
        ]
        pick = operator.itemgetter(*positions) if len(positions) > 1 else None
        known = layout.known_columns()
        extras = [
            (i, c) for i, c in enumerate(header) if c.startswith("metadata.") and c not in known
        ]
        sourced_pos = index["sourcedId"]
        status_pos = index.get("status")
        dlm_pos = index.get("dateLastModified")
        list_refs = [
            (index[r.column], r.column)
            for r in REFERENCES
            if r.file == file_name and r.many and r.column in index
        ]
        delta = mode == "delta"
        rows_done = 0
        # Rows are tuples of strings, "" meaning empty (NULL once staged): the cheapest shape for
        # COPY, which carries a city's million enrollments.
        for row_no, values in stream.rows():
            validator.validate(row_no, values)
            rows_done += 1
            if self.progress is not None and rows_done % _PROGRESS_EVERY == 0:
                self.progress(file_name, rows_done)
            values.append("")
            attrs: tuple[str, ...] = pick(values) if pick is not None else ()
            extra_json = ""
            if extras:
                extra = {c: values[i] for i, c in extras if values[i]}
                if extra:
                    extra_json = json.dumps(extra, ensure_ascii=False, sort_keys=True)
            status = "active"
            dlm = ""
            if delta:
                status = values[status_pos] if status_pos is not None else ""
                parsed = parse_iso_datetime(values[dlm_pos]) if dlm_pos is not None else None
                dlm = self._timestamp_text(parsed) if parsed else ""
            for pos, column in list_refs:
                if values[pos] and status == "active":
                    list_refs_out.extend(
                        (file_name, str(row_no), column, item) for item in split_list(values[pos])
                    )
            digest = hashlib.blake2b(
                ("\x1f".join(attrs) + "\x1f" + extra_json).encode(), digest_size=16
            ).hexdigest()
            yield (str(row_no), values[sourced_pos], status, dlm, digest, extra_json, *attrs)
        if self.progress is not None:
            self.progress(file_name, rows_done)

    def _timestamp_text(self, moment: datetime) -> str:
        utc = moment.astimezone(UTC)
        if self.is_postgresql:
            return utc.isoformat()
        # SQLAlchemy's storage format for DateTime on SQLite, so strings compare in time order.
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")

    # ----------------------------------------------------------------- SQL helpers

    def _rows(self, sql: str, **params: Any) -> Iterator[Any]:
        result = self.connection.execute(text(sql), {"tenant": self.tenant_id, **params})
        yield from result

    def _scalar(self, sql: str, **params: Any) -> int:
        value = self.connection.execute(text(sql), {"tenant": self.tenant_id, **params}).scalar()
        return int(value or 0)

    def _live(self, file_name: str) -> str:
        live = self.tables[file_name].live_table
        assert live is not None
        return live

    def _exists_in_post_state(
        self, target: str, key: str, value_sql: str, kind: tuple[str, str] | None
    ) -> str:
        """SQL that is true when a record of ``target`` with ``key`` = value exists after import.

        bulk: the file is the whole truth; delta: staged active rows plus stored active rows the
        file does not mention; absent: the stored active rows.
        """
        mode = self.modes.get(target, "absent")
        table = self.tables[target]
        kind_sql = f" AND t.{kind[0]} = '{kind[1]}'" if kind else ""
        kind_live = f" AND l.{kind[0]} = '{kind[1]}'" if kind else ""
        staged = (
            f"EXISTS (SELECT 1 FROM {table.name} t WHERE t.{key} = {value_sql} "
            f"AND t.status = 'active'{kind_sql})"
        )
        if mode == "bulk":
            return staged
        if table.live_table is None:  # not stored (demographics): only what is staged counts
            return staged if mode == "delta" else "FALSE"
        stored = (
            f"EXISTS (SELECT 1 FROM {table.live_table} l WHERE l.tenant_id = :tenant "
            f"AND l.{key} = {value_sql} AND l.status = 'active'{kind_live}"
        )
        if mode == "absent":
            return stored + ")"
        return (
            f"({staged} OR {stored} AND NOT EXISTS (SELECT 1 FROM {table.name} o "
            f"WHERE o.sourced_id = l.sourced_id)))"
        )

    # ----------------------------------------------------------------- checks in SQL

    def _check_file(self, file_name: str) -> None:
        table = self.tables[file_name]
        filename = LAYOUTS[file_name].filename
        for row_no, value, first in self._rows(
            f"SELECT s.row_no, s.sourced_id, d.first_row FROM {table.name} s JOIN "
            f"(SELECT sourced_id, MIN(row_no) AS first_row FROM {table.name} "
            f"GROUP BY sourced_id HAVING COUNT(*) > 1) d ON d.sourced_id = s.sourced_id "
            f"WHERE s.row_no <> d.first_row ORDER BY s.row_no"
        ):
            self.log.report(
                "id.duplicate",
                file=filename,
                row=row_no,
                column="sourcedId",
                value=value,
                detail=str(first),
            )
        for ref in REFERENCES:
            if ref.file == file_name:
                self._check_reference(ref)
        if file_name == "enrollments":
            self._check_attendance_numbers()
        elif file_name == "users":
            self._check_user_identifiers()
        elif file_name == "roles":
            self._check_secondary_roles()

    def _check_reference(self, ref: Reference) -> None:
        table = self.tables[ref.file]
        filename = LAYOUTS[ref.file].filename
        if ref.many:
            source = (
                f"SELECT r.row_no, r.value FROM {LIST_REFS_TABLE} r "
                f"WHERE r.file = '{ref.file}' AND r.col = '{ref.column}'"
            )
            value_sql = "r.value"
        else:
            column = LAYOUTS[ref.file].attributes.get(ref.column, "sourced_id")
            if ref.file == "demographics":
                column = "sourced_id"
            source = (
                f"SELECT s.row_no, s.{column} FROM {table.name} s "
                f"WHERE s.status = 'active' AND s.{column} IS NOT NULL"
            )
            value_sql = f"s.{column}"
        exists = self._exists_in_post_state(ref.target, "sourced_id", value_sql, None)
        target_label = LAYOUTS[ref.target].filename
        for row_no, value in self._rows(f"{source} AND NOT {exists} ORDER BY 1"):
            self.log.report(
                "ref.missing",
                file=filename,
                row=row_no,
                column=ref.column,
                value=value,
                detail=target_label,
            )
        if ref.kind is None:
            return
        typed = self._exists_in_post_state(ref.target, "sourced_id", value_sql, ref.kind)
        for row_no, value in self._rows(f"{source} AND {exists} AND NOT {typed} ORDER BY 1"):
            self.log.report(
                ref.kind_rule,
                file=filename,
                row=row_no,
                column=ref.column,
                value=value,
                detail=_KIND_LABEL[ref.kind],
            )

    def _check_attendance_numbers(self) -> None:
        """Two pupils of one class with the same 出席番号 (within the file): a warning."""
        stg = self.tables["enrollments"].name
        header = self.headers.get("enrollments", [])
        column = next((c for c in header if c.lower() == "metadata.jp.shussekino"), None)
        if column is None:
            return
        for row_no, value, first in self._rows(
            f"SELECT s.row_no, s.shusseki_no, d.first_row FROM {stg} s JOIN "
            f"(SELECT class_sourced_id, shusseki_no, MIN(row_no) AS first_row FROM {stg} "
            f"WHERE status = 'active' AND role = 'student' AND shusseki_no IS NOT NULL "
            f"GROUP BY class_sourced_id, shusseki_no HAVING COUNT(*) > 1) d "
            f"ON d.class_sourced_id = s.class_sourced_id AND d.shusseki_no = s.shusseki_no "
            f"WHERE s.status = 'active' AND s.role = 'student' AND s.row_no <> d.first_row "
            f"ORDER BY s.row_no"
        ):
            self.log.report(
                "enrollment.duplicate_shussekino",
                file="enrollments.csv",
                row=row_no,
                column=column,
                value=value,
                detail=str(first),
            )

    def _check_user_identifiers(self) -> None:
        users = self.tables["users"].name
        for row_no, value, first in self._rows(
            f"SELECT s.row_no, s.user_master_identifier, d.first_row FROM {users} s JOIN "
            f"(SELECT user_master_identifier AS umi, MIN(row_no) AS first_row FROM {users} "
            f"WHERE status = 'active' AND user_master_identifier IS NOT NULL "
            f"GROUP BY user_master_identifier HAVING COUNT(*) > 1) d "
            f"ON d.umi = s.user_master_identifier WHERE s.row_no <> d.first_row "
            f"AND s.status = 'active' ORDER BY s.row_no"
        ):
            self.log.report(
                "user.master_identifier_duplicate",
                file="users.csv",
                row=row_no,
                column="userMasterIdentifier",
                value=value,
                detail=f"users.csv row {first}",
            )
        # A UUID belongs to one person for good: it may not pass to another sourcedId, even
        # when the first holder was deactivated.
        for row_no, value, holder in self._rows(
            f"SELECT s.row_no, s.user_master_identifier, l.sourced_id FROM {users} s "
            f"JOIN roster_users l ON l.tenant_id = :tenant "
            f"AND l.user_master_identifier = s.user_master_identifier "
            f"AND l.sourced_id <> s.sourced_id WHERE s.status = 'active' "
            f"AND NOT EXISTS (SELECT 1 FROM {users} o WHERE o.sourced_id = l.sourced_id "
            f"AND o.status = 'active') ORDER BY s.row_no"
        ):
            self.log.report(
                "user.master_identifier_duplicate",
                file="users.csv",
                row=row_no,
                column="userMasterIdentifier",
                value=value,
                detail=f"sourcedId {holder}",
            )

    def _check_secondary_roles(self) -> None:
        roles = self.tables["roles"].name
        has_primary = self._exists_in_post_state(
            "roles", "user_sourced_id", "s.user_sourced_id", ("role_type", "primary")
        )
        for (row_no,) in self._rows(
            f"SELECT s.row_no FROM {roles} s WHERE s.status = 'active' "
            f"AND s.role_type = 'secondary' AND NOT {has_primary} ORDER BY s.row_no"
        ):
            self.log.report(
                "role.secondary_without_primary",
                file="roles.csv",
                row=row_no,
                column="roleType",
                value="secondary",
            )

    # ----------------------------------------------------------------- diff and apply

    def _diff_file(self, file_name: str) -> None:
        mode = self.modes[file_name]
        table = self.tables[file_name]
        live = self._live(file_name)
        stg = table.name
        filename = LAYOUTS[file_name].filename
        counts = ChangeCounts()
        if mode == "delta":
            stale_condition = (
                f"EXISTS (SELECT 1 FROM {live} l WHERE l.tenant_id = :tenant "
                f"AND l.sourced_id = {stg}.sourced_id AND l.source_modified_at > "
                f"{self._cast_ts(stg + '.dlm')})"
            )
            for row_no, dlm in self._rows(
                f"SELECT row_no, dlm FROM {stg} WHERE {stale_condition} ORDER BY row_no"
            ):
                self.log.report(
                    "delta.stale_row",
                    file=filename,
                    row=row_no,
                    column="dateLastModified",
                    value=dlm,
                )
            self.connection.execute(
                text(f"DELETE FROM {stg} WHERE {stale_condition}"), {"tenant": self.tenant_id}
            )
            for row_no, value in self._rows(
                f"SELECT s.row_no, s.sourced_id FROM {stg} s WHERE s.status = 'tobedeleted' "
                f"AND NOT EXISTS (SELECT 1 FROM {live} l WHERE l.tenant_id = :tenant "
                f"AND l.sourced_id = s.sourced_id) ORDER BY s.row_no"
            ):
                self.log.report(
                    "delta.unknown_record",
                    file=filename,
                    row=row_no,
                    column="sourcedId",
                    value=value,
                )
        counts.added = self._scalar(
            f"SELECT COUNT(*) FROM {stg} s WHERE s.status = 'active' AND NOT EXISTS "
            f"(SELECT 1 FROM {live} l WHERE l.tenant_id = :tenant "
            f"AND l.sourced_id = s.sourced_id)"
        )
        counts.changed = self._scalar(
            f"SELECT COUNT(*) FROM {stg} s JOIN {live} l ON l.tenant_id = :tenant "
            f"AND l.sourced_id = s.sourced_id WHERE s.status = 'active' "
            f"AND (l.row_hash <> s.row_hash OR l.status <> 'active')"
        )
        counts.unchanged = self._scalar(
            f"SELECT COUNT(*) FROM {stg} s JOIN {live} l ON l.tenant_id = :tenant "
            f"AND l.sourced_id = s.sourced_id WHERE s.status = 'active' "
            f"AND l.row_hash = s.row_hash AND l.status = 'active'"
        )
        gone = f"gone_{stg}"
        self.stager.create_temp(gone, ("sourced_id",))
        if mode == "bulk":
            leaving = (
                f"SELECT l.sourced_id FROM {live} l WHERE l.tenant_id = :tenant "
                f"AND l.status = 'active' AND NOT EXISTS (SELECT 1 FROM {stg} s "
                f"WHERE s.sourced_id = l.sourced_id)"
            )
        else:
            leaving = (
                f"SELECT l.sourced_id FROM {live} l JOIN {stg} s "
                f"ON s.sourced_id = l.sourced_id AND s.status = 'tobedeleted' "
                f"WHERE l.tenant_id = :tenant AND l.status = 'active'"
            )
        self.connection.execute(
            text(f"INSERT INTO {gone} (sourced_id) {leaving}"), {"tenant": self.tenant_id}
        )
        counts.deactivated = self._scalar(f"SELECT COUNT(*) FROM {gone}")
        self.summary[file_name] = counts
        if self.changes is not None:
            self._list_changes(file_name)

        users = self.summary.get("users")
        if (
            file_name == "users"
            and users
            and users.deactivated
            and not self.allow_mass_deactivation
        ):
            active = self._scalar(
                "SELECT COUNT(*) FROM roster_users WHERE tenant_id = :tenant AND status = 'active'"
            )
            # Small rosters (a village, a test) legitimately turn over completely.
            if active >= 50 and users.deactivated > active * self.mass_ratio:
                self.log.report(
                    "import.mass_deactivation",
                    file="users.csv",
                    value=str(active),
                    detail=str(users.deactivated),
                )

    def _list_changes(self, file_name: str) -> None:
        assert self.changes is not None
        live = self._live(file_name)
        stg = self.tables[file_name].name
        label = _LABELS[file_name]
        listings = (
            ("added", f"SELECT r.sourced_id, {label} FROM {stg} r WHERE r.status = 'active' "
             f"AND NOT EXISTS (SELECT 1 FROM {live} l WHERE l.tenant_id = :tenant "
             f"AND l.sourced_id = r.sourced_id) ORDER BY r.row_no"),
            ("changed", f"SELECT r.sourced_id, {label} FROM {stg} r JOIN {live} l "
             f"ON l.tenant_id = :tenant AND l.sourced_id = r.sourced_id "
             f"WHERE r.status = 'active' AND (l.row_hash <> r.row_hash OR l.status <> 'active') "
             f"ORDER BY r.row_no"),
            ("deactivated", f"SELECT r.sourced_id, {label} FROM {live} r WHERE r.tenant_id = "
             f":tenant AND r.sourced_id IN (SELECT sourced_id FROM gone_{stg}) "
             f"ORDER BY r.sourced_id"),
        )  # fmt: skip
        for action, sql in listings:
            for sourced_id, text_label in self._rows(sql):
                self.changes(file_name, action, sourced_id, text_label or "")

    def _cast_ts(self, sql: str) -> str:
        return f"CAST({sql} AS TIMESTAMPTZ)" if self.is_postgresql else sql

    def _now_param(self) -> Any:
        return bindparam("now", value=self.now, type_=DateTime(timezone=True))

    def _apply_file(self, file_name: str) -> None:
        now_param = self._now_param()
        mode = self.modes[file_name]
        table = self.tables[file_name]
        live = self._live(file_name)
        stg = table.name
        attrs = table.attributes
        counts = self.summary[file_name]
        extra = "CAST(s.extra_metadata AS JSON)" if self.is_postgresql else "s.extra_metadata"
        # Values per live column, read from the staging row ``s``.
        values = {
            "tenant_id": ":tenant",
            "sourced_id": "s.sourced_id",
            "status": "'active'",
            "date_last_modified": ":now",
            "source_modified_at": self._cast_ts("s.dlm"),
            "row_hash": "s.row_hash",
            "extra_metadata": extra,
            **{a: f"s.{a}" for a in attrs},
        }
        # New rows and changed rows separately: a plain INSERT of a city's million
        # enrollments is much cheaper than INSERT … ON CONFLICT, and unchanged rows are
        # touched by neither statement. The diff's counts say which statements have work:
        # a join over a million rows to update none is seconds wasted.
        if counts.added:
            self.connection.execute(
                text(
                    f"INSERT INTO {live} ({', '.join(values)}) "
                    f"SELECT {', '.join(values.values())} FROM {stg} s "
                    f"WHERE s.status = 'active' AND NOT EXISTS (SELECT 1 FROM {live} l "
                    f"WHERE l.tenant_id = :tenant AND l.sourced_id = s.sourced_id)"
                ).bindparams(now_param),
                {"tenant": self.tenant_id},
            )
        assignments = ", ".join(
            f"{column} = {value}"
            for column, value in values.items()
            if column not in ("tenant_id", "sourced_id")
        )
        if counts.changed:
            self.connection.execute(
                text(
                    f"UPDATE {live} SET {assignments} FROM {stg} s "
                    f"WHERE {live}.tenant_id = :tenant AND {live}.sourced_id = s.sourced_id "
                    f"AND s.status = 'active' "
                    f"AND ({live}.row_hash <> s.row_hash OR {live}.status <> 'active')"
                ).bindparams(now_param),
                {"tenant": self.tenant_id},
            )
        if counts.deactivated:
            self._deactivate(
                live,
                f"SELECT sourced_id FROM gone_{stg}",
                now_param,
                source_stage=stg if mode == "delta" else None,
            )

    def _cascade_and_analyse(self) -> None:
        now_param = self._now_param()
        # People and classes that left take their enrollments and roles with them.
        cascades = (
            ("enrollments", "user_sourced_id", "users"),
            ("enrollments", "class_sourced_id", "classes"),
            ("roles", "user_sourced_id", "users"),
        )
        for file_name, column, parent in cascades:
            parent_counts = self.summary.get(parent)
            if parent_counts is None or not parent_counts.deactivated:
                continue
            gone = f"gone_{self.tables[parent].name}"
            dependants = (
                f"SELECT sourced_id FROM {self._live(file_name)} "
                f"WHERE tenant_id = :tenant AND {column} IN (SELECT sourced_id FROM {gone})"
            )
            if self.changes is not None:
                for sourced_id, text_label in self._rows(
                    f"SELECT r.sourced_id, {_LABELS[file_name]} FROM {self._live(file_name)} r "
                    f"WHERE r.tenant_id = :tenant AND r.status = 'active' "
                    f"AND r.sourced_id IN ({dependants}) ORDER BY r.sourced_id"
                ):
                    self.changes(file_name, "deactivated", sourced_id, text_label or "")
            count = self._deactivate(self._live(file_name), dependants, now_param)
            if count:
                counts = self.summary.setdefault(file_name, ChangeCounts())
                counts.deactivated += count

        if self.is_postgresql:
            # A big import changes the tables' shape more than autovacuum notices before the next
            # import runs; fresh statistics keep the next (small, delta) import on index plans.
            for file_name, counts in self.summary.items():
                if counts.added + counts.changed + counts.deactivated >= _ANALYZE_AFTER_ROWS:
                    self.connection.execute(text(f"ANALYZE {self._live(file_name)}"))

    def _deactivate(
        self, live: str, ids_sql: str, now_param: Any, source_stage: str | None = None
    ) -> int:
        source = ""
        if source_stage is not None:
            source = (
                f", source_modified_at = (SELECT {self._cast_ts('s.dlm')} FROM "
                f"{source_stage} s WHERE s.sourced_id = {live}.sourced_id)"
            )
        result = self.connection.execute(
            text(
                f"UPDATE {live} SET status = 'tobedeleted', date_last_modified = :now{source} "
                f"WHERE tenant_id = :tenant AND status = 'active' AND sourced_id IN ({ids_sql})"
            ).bindparams(now_param),
            {"tenant": self.tenant_id},
        )
        return int(result.rowcount or 0)


@dataclass
class _StagedFile:
    """One file read and checked by the reader thread, as COPY lines in a spool."""

    rows: IO[str]
    list_refs: list[tuple[str, str, str, str]]


class _Reader:
    """Reads, checks and formats the package's files one after another on a second thread.

    The main thread takes them in order with :meth:`next_file` (``None`` for a file whose form
    or header was unusable; its problems are already reported). Spools live on disk past a few
    megabytes, so reading ahead costs no memory.
    """

    _SPOOL_IN_MEMORY = 8 << 20

    def __init__(
        self, run: _ImportRun, package: Package, files: list[str], profile: Profile | None
    ) -> None:
        self._run = run
        self._package = package
        self._files = files
        self._profile = profile
        self._ready: queue.Queue[tuple[_StagedFile | None, BaseException | None]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_all, name="roster-reader", daemon=True)

    def __enter__(self) -> _Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        while not self._ready.empty():  # close spools nobody took (after an error)
            staged, _ = self._ready.get_nowait()
            if staged is not None:
                staged.rows.close()

    def next_file(self) -> _StagedFile | None:
        staged, error = self._ready.get()
        if error is not None:
            raise error
        return staged

    def _read_all(self) -> None:
        try:
            for file_name in self._files:
                if self._stop.is_set():
                    return
                self._ready.put((self._read(file_name), None))
        except BaseException as exc:  # handed to the main thread, which raises it
            self._ready.put((None, exc))

    def _read(self, file_name: str) -> _StagedFile | None:
        run = self._run
        stream, validator = run.open_file(self._package, file_name, self._profile)
        try:
            if validator is None:
                return None
            tabs = len(run.tables[file_name].columns) - 1
            spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (handed over, closed later)
                max_size=self._SPOOL_IN_MEMORY, mode="w+", encoding="utf-8", newline=""
            )
            list_refs: list[tuple[str, str, str, str]] = []
            buffer: list[str] = []
            for row in run.staging_rows(stream, validator, file_name, list_refs):
                buffer.append(copy_line(row, tabs))
                if len(buffer) >= 5000:
                    if self._stop.is_set():
                        break
                    buffer.append("")
                    spool.write("\n".join(buffer))
                    buffer.clear()
            if buffer:
                buffer.append("")
                spool.write("\n".join(buffer))
            return _StagedFile(rows=spool, list_refs=list_refs)
        finally:
            stream.close()
