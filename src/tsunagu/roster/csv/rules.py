"""Rules for the values of one row, per file (eportal-standard.md §4.4–§4.7).

:class:`RowValidator` is compiled once per file from its header so that checking a row is a
short loop over precomputed column positions: a city's enrollments.csv has a million rows.
Rules that need other rows or files (duplicates, references) run in SQL in the importer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from tsunagu.roster.csv.codes import (
    GRADE_CODES,
    SUBJECT_CODES,
    school_code_problem,
)
from tsunagu.roster.csv.layouts import LAYOUTS
from tsunagu.roster.csv.problems import RULES, ProblemLog, Severity
from tsunagu.tenancy.service import BOARD_CODE_PATTERN

UUID_V4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_UUID_ANY = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")
_HALFWIDTH_KANA = re.compile(r"[\uff61-\uff9f]")
# Full-width katakana, the prolonged sound mark, middle dot and (full-width) spaces.
_KATAKANA = re.compile(r"[\u30a0-\u30ff\u3000 ]+")
_USER_ID = re.compile(r"\{[^:{}]+:[^{}]+\}")
_SESSION_TITLE = re.compile(r"(\d{4})年度")
_COURSE_TITLE = re.compile(r"\d{4}年度.+")
_POSITIVE_INT = re.compile(r"[1-9][0-9]{0,5}")

ORG_TYPES = ("district", "school")
SESSION_TYPES = ("schoolYear",)
CLASS_TYPES = ("homeroom", "scheduled")
ROLE_TYPES = ("primary", "secondary")
# K社 allows six; T社 and M社 also proctor and systemAdministrator (eportal-standard.md §4.6).
ROLES = (
    "districtAdministrator",
    "guardian",
    "principal",
    "siteAdministrator",
    "student",
    "teacher",
    "proctor",
    "systemAdministrator",
)
FORBIDDEN_ROLES = ("parent", "relative")
ENROLLMENT_ROLES = ("student", "teacher", "administrator", "proctor", "guardian")
SEXES = ("male", "female", "unspecified", "other")
DELTA_STATUSES = ("active", "tobedeleted")

_UUID_COLUMNS = {
    "sourcedId",
    "parentSourcedId",
    "schoolYearSourcedId",
    "orgSourcedId",
    "courseSourcedId",
    "schoolSourcedId",
    "classSourcedId",
    "userSourcedId",
    "userProfileSourcedId",
    "primaryOrgSourcedId",
    "userMasterIdentifier",
    "metadata.jp.homeClass",
}
_UUID_LIST_COLUMNS = {"termSourcedIds", "agentSourcedIds"}
_DATE_COLUMNS = {"startDate", "endDate", "beginDate", "birthDate"}
_BOOLEAN_COLUMNS = {
    "primary",
    "metadata.jp.specialNeeds",
    "metadata.jp.PublicFlg",
    "metadata.jp.publicFlg",
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
}
_FULLWIDTH_COLUMNS = {
    "name",
    "title",
    "location",
    "description",
    "givenName",
    "familyName",
    "middleName",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
}
_KANA_COLUMNS = {
    "metadata.jp.kanaGivenName",
    "metadata.jp.kanaFamilyName",
    "metadata.jp.kanaMiddleName",
    "metadata.jp.kanaPreferredGivenName",
    "metadata.jp.kanaPreferredFamilyName",
    "metadata.jp.kanaPreferredMiddleName",
}
_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("orgs", "type"): ORG_TYPES,
    ("academicSessions", "type"): SESSION_TYPES,
    ("classes", "classType"): CLASS_TYPES,
    ("roles", "roleType"): ROLE_TYPES,
    ("enrollments", "role"): ENROLLMENT_ROLES,
    ("demographics", "sex"): SEXES,
}


def split_list(value: str) -> list[str]:
    """A OneRoster list field: comma-separated values inside one field."""
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_iso_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass
class _Ctx:
    log: ProblemLog
    file: str
    row: int = 0
    failed: bool = False
    reports: int = 0

    def report(
        self,
        code: str,
        column: str | None = None,
        value: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.log.report(
            code, file=self.file, row=self.row, column=column, value=value, detail=detail
        )
        self.reports += 1
        if code in _ERROR_CODES:
            self.failed = True


def _uuid(ctx: _Ctx, column: str, value: str) -> None:
    if UUID_V4.fullmatch(value):
        return
    if not _UUID_ANY.fullmatch(value):
        ctx.report("id.not_uuid", column, value)
    elif value != value.lower():
        ctx.report("id.uppercase", column, value)
    else:
        ctx.report("id.not_v4", column, value)


def _uuid_list(ctx: _Ctx, column: str, value: str) -> None:
    for item in split_list(value):
        _uuid(ctx, column, item)


def _date(ctx: _Ctx, column: str, value: str) -> None:
    if not _DATE.fullmatch(value):
        ctx.report("value.date", column, value)
        return
    try:
        date.fromisoformat(value)
    except ValueError:
        ctx.report("value.date", column, value)


def _boolean(ctx: _Ctx, column: str, value: str) -> None:
    if value in ("true", "false"):
        return
    if value.lower() in ("true", "false"):
        ctx.report("value.boolean_case", column, value)
    else:
        ctx.report("value.boolean", column, value)


def _fullwidth(ctx: _Ctx, column: str, value: str) -> None:
    if _HALFWIDTH_KANA.search(value):
        ctx.report("value.halfwidth_kana", column, value)


def _kana(ctx: _Ctx, column: str, value: str) -> None:
    if _HALFWIDTH_KANA.search(value):
        ctx.report("value.halfwidth_kana", column, value)
    elif not _KATAKANA.fullmatch(value):
        ctx.report("value.kana", column, value)


def _grades(ctx: _Ctx, column: str, value: str) -> None:
    for grade in split_list(value):
        if grade not in GRADE_CODES:
            ctx.report("value.grade", column, grade)


def _subject_codes(ctx: _Ctx, column: str, value: str) -> None:
    for code in split_list(value):
        if code not in SUBJECT_CODES:
            ctx.report("value.subject_code", column, code)


def _user_ids(ctx: _Ctx, column: str, value: str) -> None:
    for item in split_list(value):
        if not _USER_ID.fullmatch(item):
            ctx.report("user.user_ids", column, item)


def _school_year(ctx: _Ctx, column: str, value: str) -> None:
    if not _YEAR.fullmatch(value):
        ctx.report("value.school_year", column, value)


def _shussekino(ctx: _Ctx, column: str, value: str) -> None:
    if not _POSITIVE_INT.fullmatch(value):
        ctx.report("enrollment.shussekino", column, value)


def _enabled_user(ctx: _Ctx, column: str, value: str) -> None:
    if value.lower() != "true":
        ctx.report("user.enabled_user", column, value)
    elif value != "true":
        ctx.report("value.boolean_case", column, value)


def _enum(allowed: tuple[str, ...]) -> Callable[[_Ctx, str, str], None]:
    def check(ctx: _Ctx, column: str, value: str) -> None:
        if value not in allowed and not value.startswith("ext:"):
            ctx.report("value.enum", column, value, ", ".join(allowed))

    return check


def _role(ctx: _Ctx, column: str, value: str) -> None:
    if value in FORBIDDEN_ROLES:
        ctx.report("role.forbidden", column, value)
    elif value not in ROLES and not value.startswith("ext:"):
        ctx.report("value.enum", column, value, ", ".join(ROLES))


def _course_title(ctx: _Ctx, column: str, value: str) -> None:
    _fullwidth(ctx, column, value)
    if not _COURSE_TITLE.fullmatch(value):
        ctx.report("course.title", column, value)


def _course_code(ctx: _Ctx, column: str, value: str) -> None:
    ctx.report("course.course_code", column, value)


_Check = Callable[[_Ctx, str, str], None]


def _checks_for(file_name: str, column: str) -> list[_Check]:
    checks: list[_Check] = []
    if column in _UUID_COLUMNS:
        checks.append(_uuid)
    if column in _UUID_LIST_COLUMNS:
        checks.append(_uuid_list)
    if column in _DATE_COLUMNS:
        checks.append(_date)
    if column in _BOOLEAN_COLUMNS:
        checks.append(_boolean)
    if column in _KANA_COLUMNS:
        checks.append(_kana)
    if (file_name, column) in _ENUMS:
        checks.append(_enum(_ENUMS[(file_name, column)]))
    if column == "grades":
        checks.append(_grades)
    if column == "subjectCodes":
        checks.append(_subject_codes)
    if column == "schoolYear":
        checks.append(_school_year)
    if column in ("metadata.jp.ShussekiNo", "metadata.jp.shussekiNo"):
        checks.append(_shussekino)
    if file_name == "users" and column == "userIds":
        checks.append(_user_ids)
    if file_name == "users" and column == "enabledUser":
        checks.append(_enabled_user)
    if file_name == "roles" and column == "role":
        checks.append(_role)
    if file_name == "courses" and column == "title":
        checks.append(_course_title)
    elif column in _FULLWIDTH_COLUMNS:
        checks.append(_fullwidth)
    if file_name == "courses" and column == "courseCode":
        checks.append(_course_code)
    return checks


_ERROR_CODES = frozenset(code for code, rule in RULES.items() if rule.severity is Severity.ERROR)


_UNIQUE_COLUMNS = frozenset({"sourcedId", "userMasterIdentifier", "username", "userIds", "email"})
_PASSED_CAP = 200_000


class RowValidator:
    """Checks the values of one file's rows. Build once per file, call per row."""

    def __init__(
        self,
        file_name: str,
        header: list[str],
        mode: str,
        tenant_code: str,
        log: ProblemLog,
    ) -> None:
        layout = LAYOUTS[file_name]
        self.file_name = file_name
        self.mode = mode
        self.tenant_code = tenant_code
        self.index = {column: i for i, column in enumerate(header)}
        self._ctx = _Ctx(log=log, file=layout.filename)
        self._required = [(self.index[c], c) for c in header if c in layout.required]
        # Values repeat a lot (a class id in every enrollment of the class, "student", "P5"):
        # each column remembers values that passed its checks. Columns of unique values
        # (sourcedId…) would only fill memory, so they keep none.
        self._checks = [
            (i, column, checks, None if column in _UNIQUE_COLUMNS else set[str]())
            for i, column in enumerate(header)
            if column not in ("status", "dateLastModified")
            and (checks := _checks_for(file_name, column))
        ]
        self._status = self.index.get("status")
        self._dlm = self.index.get("dateLastModified")
        self._password = [(self.index[c], c) for c in layout.not_stored if c in self.index]
        self._password_reported = False
        self._row_checks: list[Callable[[list[str]], None]] = []
        extra = getattr(self, f"_row_{file_name}", None)
        if extra is not None:
            self._row_checks.append(extra)

    def value(self, values: list[str], column: str) -> str:
        i = self.index.get(column)
        return values[i] if i is not None else ""

    def validate(self, row: int, values: list[str]) -> bool:
        """Check one row; report problems; True when it has no error."""
        ctx = self._ctx
        ctx.row = row
        ctx.failed = False
        deleting = False
        status = values[self._status] if self._status is not None else ""
        dlm = values[self._dlm] if self._dlm is not None else ""
        if self.mode == "bulk":
            if status:
                ctx.report("bulk.status_set", "status", status)
            if dlm:
                ctx.report("bulk.status_set", "dateLastModified", dlm)
        else:
            if status not in DELTA_STATUSES:
                ctx.report("delta.status", "status", status)
            deleting = status == "tobedeleted"
            if parse_iso_datetime(dlm) is None:
                ctx.report("delta.date_last_modified", "dateLastModified", dlm)
        for i, column in self._required:
            # A tobedeleted row in a delta file needs only its sourcedId.
            if not values[i] and not (deleting and column != "sourcedId"):
                ctx.report("value.required", column)
        for i, column, checks, passed in self._checks:
            value = values[i]
            if value and (passed is None or value not in passed):
                reports = ctx.reports
                for check in checks:
                    check(ctx, column, value)
                if passed is not None and ctx.reports == reports and len(passed) < _PASSED_CAP:
                    passed.add(value)
        if self._password and not self._password_reported:
            for i, column in self._password:
                if values[i]:
                    self._password_reported = True
                    ctx.report("user.password_not_stored", column)
        if not deleting:
            for row_check in self._row_checks:
                row_check(values)
        return not ctx.failed

    # --- checks across the columns of one row, per file ---

    def _row_orgs(self, values: list[str]) -> None:
        ctx = self._ctx
        org_type = self.value(values, "type")
        identifier = self.value(values, "identifier")
        if org_type == "district":
            if self.value(values, "parentSourcedId"):
                ctx.report("org.district_parent", "parentSourcedId")
            if not identifier:
                ctx.report("org.identifier_required", "identifier", detail="教育委員会 / district")
            elif not BOARD_CODE_PATTERN.fullmatch(identifier):
                ctx.report("org.board_code", "identifier", identifier)
            elif identifier != self.tenant_code:
                ctx.report("org.other_tenant", "identifier", identifier, self.tenant_code)
        elif org_type == "school":
            if not identifier:
                ctx.report("org.identifier_required", "identifier", detail="学校 / school")
            elif (problem := school_code_problem(identifier)) is not None:
                ctx.report(problem[0], "identifier", identifier, problem[1])

    def _row_academicSessions(self, values: list[str]) -> None:  # noqa: N802
        ctx = self._ctx
        year = self.value(values, "schoolYear")
        title = self.value(values, "title")
        match = _SESSION_TITLE.fullmatch(title)
        if title and (match is None or (_YEAR.fullmatch(year) and match.group(1) != year)):
            ctx.report("session.title", "title", title, f"{year or 'YYYY'}年度")
        if _YEAR.fullmatch(year):
            start, end = f"{year}-04-01", f"{int(year) + 1}-03-31"
            if self.value(values, "startDate") not in ("", start):
                ctx.report("session.dates", "startDate", self.value(values, "startDate"), start)
            if self.value(values, "endDate") not in ("", end):
                ctx.report("session.dates", "endDate", self.value(values, "endDate"), end)

    def _row_courses(self, values: list[str]) -> None:
        self._subjects_match(values)

    def _row_classes(self, values: list[str]) -> None:
        self._subjects_match(values)

    def _subjects_match(self, values: list[str]) -> None:
        subjects = split_list(self.value(values, "subjects"))
        codes = split_list(self.value(values, "subjectCodes"))
        if subjects and codes and len(subjects) != len(codes):
            self._ctx.report(
                "value.subjects_mismatch", "subjectCodes", str(len(subjects)), str(len(codes))
            )

    def _row_enrollments(self, values: list[str]) -> None:
        primary = self.value(values, "primary")
        if self.value(values, "role") == "student" and primary.lower() == "true":
            self._ctx.report("enrollment.student_primary", "primary", primary)
