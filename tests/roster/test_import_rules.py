"""One broken package per validation rule: the problem is reported where it is, and nothing changes.

Each case starts from the valid roster of :mod:`tests.roster.packages`, breaks one thing, and
asserts the rule, file, data-row number and column of the report, and that the stored roster is
exactly as before (a valid import ran first, so "unchanged" is a real claim).
"""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.roster.conftest import ImportRows, snapshot
from tests.roster.packages import (
    BOARD_CODE,
    OTHER_BOARD_CODE,
    Rows,
    clone,
    school_code,
    uid,
    valid_roster,
    write_package,
)
from tsunagu.container import Container
from tsunagu.roster.importer import import_roster

Mutation = Callable[[Rows], None]


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Mutation
    rule: str
    file: str
    row: int | None
    column: str | None


def _set(file: str, index: int, column: str, value: str) -> Mutation:
    def mutate(rows: Rows) -> None:
        rows[file][index][column] = value

    return mutate


def _append(file: str, row: dict[str, str]) -> Mutation:
    def mutate(rows: Rows) -> None:
        rows[file].append(row)

    return mutate


def _duplicate(file: str, index: int) -> Mutation:
    def mutate(rows: Rows) -> None:
        rows[file].append(dict(rows[file][index]))

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(rows: Rows) -> None:
        for m in mutations:
            m(rows)

    return mutate


ELEM = uid(f"{BOARD_CODE}:elem")
DISTRICT = uid(f"{BOARD_CODE}:district")
YEAR = uid(f"{BOARD_CODE}:year")
UNKNOWN = uid("nobody")

# Data-row numbers are 1-based after the header; users row 3 is pupil s1, enrollments row 3 s1.
VALUE_CASES = [
    Case(
        "uuid-not-uuid",
        _set("users", 2, "sourcedId", "s2026-0001"),
        "id.not_uuid",
        "users.csv",
        3,
        "sourcedId",
    ),
    Case(
        "uuid-uppercase",
        _set("users", 2, "sourcedId", uid("x").upper()),
        "id.uppercase",
        "users.csv",
        3,
        "sourcedId",
    ),
    Case(
        "uuid-not-v4",
        _set("users", 2, "userMasterIdentifier", "3f1d8a5e-2c4b-1e7a-9b1c-0d2e3f4a5b6c"),
        "id.not_v4",
        "users.csv",
        3,
        "userMasterIdentifier",
    ),
    Case(
        "required-empty",
        _set("users", 2, "preferredFamilyName", ""),
        "value.required",
        "users.csv",
        3,
        "preferredFamilyName",
    ),
    Case(
        "bulk-status-set",
        _set("classes", 1, "status", "active"),
        "bulk.status_set",
        "classes.csv",
        2,
        "status",
    ),
    Case(
        "bulk-dlm-set",
        _set("orgs", 0, "dateLastModified", "2026-04-01T00:00:00.000Z"),
        "bulk.status_set",
        "orgs.csv",
        1,
        "dateLastModified",
    ),
    Case("org-type", _set("orgs", 1, "type", "department"), "value.enum", "orgs.csv", 2, "type"),
    Case(
        "class-type",
        _set("classes", 0, "classType", "club"),
        "value.enum",
        "classes.csv",
        1,
        "classType",
    ),
    Case(
        "session-type",
        _set("academicSessions", 0, "type", "term"),
        "value.enum",
        "academicSessions.csv",
        1,
        "type",
    ),
    Case(
        "session-title",
        _set("academicSessions", 0, "title", "令和8年度"),
        "session.title",
        "academicSessions.csv",
        1,
        "title",
    ),
    Case(
        "session-dates",
        _set("academicSessions", 0, "startDate", "2026-04-06"),
        "session.dates",
        "academicSessions.csv",
        1,
        "startDate",
    ),
    Case(
        "date-format",
        _set("academicSessions", 0, "endDate", "2027/03/31"),
        "value.date",
        "academicSessions.csv",
        1,
        "endDate",
    ),
    Case(
        "school-year",
        _set("academicSessions", 0, "schoolYear", "R8"),
        "value.school_year",
        "academicSessions.csv",
        1,
        "schoolYear",
    ),
    Case(
        "school-code-format",
        _set("orgs", 1, "identifier", "B1-13-21-0001"),
        "org.school_code",
        "orgs.csv",
        2,
        "identifier",
    ),
    Case(
        "school-code-check-digit",
        _set(
            "orgs",
            1,
            "identifier",
            "B11321000001" + str((int(school_code("B11321000001")[-1]) + 1) % 10),
        ),
        "org.school_code_check_digit",
        "orgs.csv",
        2,
        "identifier",
    ),
    Case(
        "school-code-missing",
        _set("orgs", 2, "identifier", ""),
        "org.identifier_required",
        "orgs.csv",
        3,
        "identifier",
    ),
    Case(
        "board-code-format",
        _set("orgs", 0, "identifier", "5310160"),
        "org.board_code",
        "orgs.csv",
        1,
        "identifier",
    ),
    Case(
        "board-of-other-tenant",
        _set("orgs", 0, "identifier", OTHER_BOARD_CODE),
        "org.other_tenant",
        "orgs.csv",
        1,
        "identifier",
    ),
    Case(
        "district-with-parent",
        _set("orgs", 0, "parentSourcedId", ELEM),
        "org.district_parent",
        "orgs.csv",
        1,
        "parentSourcedId",
    ),
    Case(
        "course-title",
        _set("courses", 1, "title", "算数"),
        "course.title",
        "courses.csv",
        2,
        "title",
    ),
    Case(
        "course-code",
        _set("courses", 1, "courseCode", "MATH5"),
        "course.course_code",
        "courses.csv",
        2,
        "courseCode",
    ),
    Case("grade-code", _set("users", 2, "grades", "05"), "value.grade", "users.csv", 3, "grades"),
    Case(
        "subject-code",
        _set("classes", 1, "subjectCodes", "M030"),
        "value.subject_code",
        "classes.csv",
        2,
        "subjectCodes",
    ),
    Case(
        "subjects-mismatch",
        _set("courses", 1, "subjects", "算数,理科"),
        "value.subjects_mismatch",
        "courses.csv",
        2,
        "subjectCodes",
    ),
    Case(
        "halfwidth-kana-name",
        _set("users", 2, "preferredGivenName", "ﾀﾛｳ"),
        "value.halfwidth_kana",
        "users.csv",
        3,
        "preferredGivenName",
    ),
    Case(
        "halfwidth-kana-title",
        _set("classes", 0, "title", "5ﾈﾝ1ｸﾐ"),
        "value.halfwidth_kana",
        "classes.csv",
        1,
        "title",
    ),
    Case(
        "kana-hiragana",
        _set("users", 2, "metadata.jp.kanaGivenName", "たろう"),
        "value.kana",
        "users.csv",
        3,
        "metadata.jp.kanaGivenName",
    ),
    Case(
        "kana-halfwidth",
        _set("users", 2, "metadata.jp.kanaFamilyName", "ﾔﾏﾀﾞ"),
        "value.halfwidth_kana",
        "users.csv",
        3,
        "metadata.jp.kanaFamilyName",
    ),
    Case(
        "enabled-user",
        _set("users", 2, "enabledUser", "false"),
        "user.enabled_user",
        "users.csv",
        3,
        "enabledUser",
    ),
    Case(
        "user-ids",
        _set("users", 2, "userIds", "Google:1234"),
        "user.user_ids",
        "users.csv",
        3,
        "userIds",
    ),
    Case(
        "boolean",
        _set("classes", 0, "metadata.jp.specialNeeds", "yes"),
        "value.boolean",
        "classes.csv",
        1,
        "metadata.jp.specialNeeds",
    ),
    Case(
        "role-parent", _set("roles", 2, "role", "parent"), "role.forbidden", "roles.csv", 3, "role"
    ),
    Case(
        "role-relative",
        _set("roles", 2, "role", "relative"),
        "role.forbidden",
        "roles.csv",
        3,
        "role",
    ),
    Case("role-unknown", _set("roles", 2, "role", "aide"), "value.enum", "roles.csv", 3, "role"),
    Case(
        "role-type", _set("roles", 2, "roleType", "main"), "value.enum", "roles.csv", 3, "roleType"
    ),
    Case(
        "enrollment-role",
        _set("enrollments", 2, "role", "parent"),
        "value.enum",
        "enrollments.csv",
        3,
        "role",
    ),
    Case(
        "student-primary-true",
        _set("enrollments", 2, "primary", "true"),
        "enrollment.student_primary",
        "enrollments.csv",
        3,
        "primary",
    ),
    Case(
        "shussekino",
        _set("enrollments", 2, "metadata.jp.ShussekiNo", "一"),
        "enrollment.shussekino",
        "enrollments.csv",
        3,
        "metadata.jp.ShussekiNo",
    ),
    # --- across rows and files ---
    Case(
        "duplicate-sourcedid",
        _duplicate("classes", 1),
        "id.duplicate",
        "classes.csv",
        4,
        "sourcedId",
    ),
    Case(
        "duplicate-user-master-identifier",
        _set("users", 3, "userMasterIdentifier", uid(f"{BOARD_CODE}:umi:s1")),
        "user.master_identifier_duplicate",
        "users.csv",
        4,
        "userMasterIdentifier",
    ),
    Case(
        "ref-class-course",
        _set("classes", 1, "courseSourcedId", UNKNOWN),
        "ref.missing",
        "classes.csv",
        2,
        "courseSourcedId",
    ),
    Case(
        "ref-class-term",
        _set("classes", 2, "termSourcedIds", f"{YEAR},{UNKNOWN}"),
        "ref.missing",
        "classes.csv",
        3,
        "termSourcedIds",
    ),
    Case(
        "ref-class-school-is-district",
        _set("classes", 0, "schoolSourcedId", DISTRICT),
        "ref.wrong_type",
        "classes.csv",
        1,
        "schoolSourcedId",
    ),
    Case(
        "ref-course-org",
        _set("courses", 0, "orgSourcedId", UNKNOWN),
        "ref.missing",
        "courses.csv",
        1,
        "orgSourcedId",
    ),
    Case(
        "ref-course-year",
        _set("courses", 0, "schoolYearSourcedId", UNKNOWN),
        "ref.missing",
        "courses.csv",
        1,
        "schoolYearSourcedId",
    ),
    Case(
        "ref-school-parent",
        _set("orgs", 1, "parentSourcedId", UNKNOWN),
        "ref.missing",
        "orgs.csv",
        2,
        "parentSourcedId",
    ),
    Case(
        "ref-school-parent-is-school",
        _set("orgs", 2, "parentSourcedId", ELEM),
        "ref.wrong_type",
        "orgs.csv",
        3,
        "parentSourcedId",
    ),
    Case(
        "ref-home-class",
        _set("users", 2, "metadata.jp.homeClass", UNKNOWN),
        "ref.missing",
        "users.csv",
        3,
        "metadata.jp.homeClass",
    ),
    Case(
        "ref-primary-org",
        _set("users", 2, "primaryOrgSourcedId", UNKNOWN),
        "ref.missing",
        "users.csv",
        3,
        "primaryOrgSourcedId",
    ),
    Case(
        "ref-agent",
        _set("users", 2, "agentSourcedIds", UNKNOWN),
        "ref.missing",
        "users.csv",
        3,
        "agentSourcedIds",
    ),
    Case(
        "ref-role-user",
        _set("roles", 1, "userSourcedId", UNKNOWN),
        "ref.missing",
        "roles.csv",
        2,
        "userSourcedId",
    ),
    Case(
        "ref-role-org",
        _set("roles", 1, "orgSourcedId", UNKNOWN),
        "ref.missing",
        "roles.csv",
        2,
        "orgSourcedId",
    ),
    Case(
        "ref-enrollment-user",
        _set("enrollments", 4, "userSourcedId", UNKNOWN),
        "ref.missing",
        "enrollments.csv",
        5,
        "userSourcedId",
    ),
    Case(
        "ref-enrollment-class",
        _set("enrollments", 4, "classSourcedId", UNKNOWN),
        "ref.missing",
        "enrollments.csv",
        5,
        "classSourcedId",
    ),
    Case(
        "ref-enrollment-school",
        _set("enrollments", 4, "schoolSourcedId", DISTRICT),
        "ref.wrong_type",
        "enrollments.csv",
        5,
        "schoolSourcedId",
    ),
    Case(
        "secondary-without-primary",
        _both(_set("roles", 0, "roleType", "secondary"), _set("roles", 0, "role", "principal")),
        "role.secondary_without_primary",
        "roles.csv",
        1,
        "roleType",
    ),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=lambda c: c.id)
def test_broken_value_is_reported_and_nothing_changes(
    case: Case, import_rows: ImportRows, container: Container
) -> None:
    first = import_rows(valid_roster())
    assert first.applied, [p.message_en for p in first.problems]
    before = snapshot(container)

    rows = clone(valid_roster())
    case.mutate(rows)
    result = import_rows(rows)

    assert not result.accepted
    matching = [p for p in result.errors if p.rule == case.rule]
    assert matching, (
        f"expected {case.rule}, got {[(p.rule, p.location()) for p in result.problems]}"
    )
    problem = matching[0]
    assert (problem.file, problem.row, problem.column) == (case.file, case.row, case.column)
    assert problem.message_ja
    assert problem.message_en
    assert snapshot(container) == before


# ------------------------------------------------------------------ files, bytes and manifest


def _rewrite(folder: Path, name: str, transform: Callable[[bytes], bytes]) -> None:
    path = folder / name
    path.write_bytes(transform(path.read_bytes()))


def _manifest_set(key: str, value: str | None) -> Callable[[bytes], bytes]:
    def transform(data: bytes) -> bytes:
        lines = data.decode().split("\r\n")
        out = []
        for line in lines:
            if line.startswith(f'"{key}",'):
                if value is None:
                    continue
                line = f'"{key}","{value}"'
            out.append(line)
        return "\r\n".join(out).encode()

    return transform


@dataclass(frozen=True)
class FileCase:
    id: str
    file: str  # file to transform ("" = delete manifest)
    transform: Callable[[bytes], bytes] | None
    rule: str
    where_file: str
    row: int | None
    column: str | None = None


def _header_swap(data: bytes) -> bytes:
    first, rest = data.split(b"\r\n", 1)
    cols = first.split(b",")
    cols[3], cols[4] = cols[4], cols[3]
    return b",".join(cols) + b"\r\n" + rest


def _drop_column(name: str) -> Callable[[bytes], bytes]:
    def transform(data: bytes) -> bytes:
        lines = data.split(b"\r\n")
        header = lines[0].split(b",")
        index = header.index(f'"{name}"'.encode())
        out = []
        for line in lines:
            if line:
                cells = line.split(b'","')
                del cells[index]
                line = b'","'.join(cells)
                if not line.startswith(b'"'):
                    line = b'"' + line
                if not line.endswith(b'"'):
                    line += b'"'
            out.append(line)
        return b"\r\n".join(out)

    return transform


def _add_column(name: str) -> Callable[[bytes], bytes]:
    def transform(data: bytes) -> bytes:
        lines = data.split(b"\r\n")
        out = [lines[0] + f',"{name}"'.encode()]
        out += [line + b',""' if line else line for line in lines[1:]]
        return b"\r\n".join(out)

    return transform


FILE_ERROR_CASES = [
    FileCase(
        "shift-jis",
        "users.csv",
        lambda d: d.decode().encode("cp932"),
        "encoding.shift_jis",
        "users.csv",
        None,
    ),
    FileCase(
        "not-utf8",
        "classes.csv",
        lambda d: d + b"\xff\xfe\x00garbage",
        "encoding.invalid",
        "classes.csv",
        None,
    ),
    FileCase(
        "header-order", "users.csv", _header_swap, "header.order", "users.csv", 0, "enabledUser"
    ),
    FileCase(
        "missing-required-column",
        "users.csv",
        _drop_column("metadata.jp.kanaGivenName"),
        "header.missing_column",
        "users.csv",
        0,
        "metadata.jp.kanaGivenName",
    ),
    FileCase(
        "unknown-column",
        "classes.csv",
        _add_column("colour"),
        "header.unknown_column",
        "classes.csv",
        0,
        "colour",
    ),
    FileCase(
        "field-count",
        "orgs.csv",
        lambda d: d.replace(b'"district"', b'"district","x"'),
        "csv.field_count",
        "orgs.csv",
        1,
    ),
    FileCase(
        "malformed-quote",
        "courses.csv",
        lambda d: d.replace(b'"P030"', b'"P030'),
        "csv.malformed",
        "courses.csv",
        2,
    ),
    FileCase("empty-file", "roles.csv", lambda d: b"", "header.empty", "roles.csv", None),
    FileCase("manifest-missing", "manifest.csv", None, "manifest.missing", "manifest.csv", None),
    FileCase(
        "manifest-version",
        "manifest.csv",
        _manifest_set("manifest.version", "2.0"),
        "manifest.version",
        "manifest.csv",
        1,
        "value",
    ),
    FileCase(
        "oneroster-version",
        "manifest.csv",
        _manifest_set("oneroster.version", "1.1"),
        "manifest.oneroster_version",
        "manifest.csv",
        2,
        "value",
    ),
    FileCase(
        "manifest-bad-mode",
        "manifest.csv",
        _manifest_set("file.users", "full"),
        "manifest.file_mode",
        "manifest.csv",
        None,
        "value",
    ),
    FileCase(
        "manifest-required-absent",
        "manifest.csv",
        _manifest_set("file.roles", "absent"),
        "manifest.undeclared_file",
        "roles.csv",
        None,
    ),
    FileCase(
        "manifest-declared-missing",
        "manifest.csv",
        _manifest_set("file.demographics", "bulk"),
        "manifest.file_missing",
        "manifest.csv",
        None,
    ),
]


@pytest.mark.parametrize("case", FILE_ERROR_CASES, ids=lambda c: c.id)
def test_broken_file_is_reported_and_nothing_changes(
    case: FileCase, import_rows: ImportRows, container: Container, tmp_path: Path
) -> None:
    assert import_rows(valid_roster()).applied
    before = snapshot(container)
    folder = write_package(tmp_path / "broken", valid_roster())
    if case.transform is None:
        (folder / case.file).unlink()
    else:
        _rewrite(folder, case.file, case.transform)

    result = import_roster(container, BOARD_CODE, folder)

    assert not result.accepted
    matching = [p for p in result.errors if p.rule == case.rule]
    assert matching, (
        f"expected {case.rule}, got {[(p.rule, p.location()) for p in result.problems]}"
    )
    problem = matching[0]
    assert problem.file == case.where_file
    if case.row is not None:
        assert problem.row == case.row
    if case.column is not None:
        assert problem.column == case.column
    assert snapshot(container) == before


def test_required_file_declared_absent_in_a_bulk_package(
    import_rows: ImportRows, container: Container
) -> None:
    rows = valid_roster()
    modes = dict.fromkeys(rows, "bulk")
    modes["roles"] = "absent"
    result = import_rows(rows, modes=modes)
    assert not result.accepted
    assert [p.value for p in result.errors if p.rule == "manifest.required_file"] == ["roles.csv"]
    assert snapshot(container) == {name: [] for name in snapshot(container)}


# ------------------------------------------------------------------ warnings import anyway


def test_bom_crlf_quoting_and_case_are_warnings_that_still_import(
    import_rows: ImportRows, container: Container, tmp_path: Path
) -> None:
    folder = write_package(tmp_path / "lenient", valid_roster())
    _rewrite(folder, "users.csv", lambda d: codecs.BOM_UTF8 + d)
    _rewrite(folder, "classes.csv", lambda d: d.replace(b"\r\n", b"\n"))
    _rewrite(folder, "orgs.csv", lambda d: d.replace(b'"district"', b"district"))
    _rewrite(folder, "enrollments.csv", lambda d: d.replace(b'"false"', b'"False"', 1))

    result = import_roster(container, BOARD_CODE, folder)

    assert result.applied, [p.message_en for p in result.errors]
    found = {(p.rule, p.file) for p in result.warnings}
    assert ("encoding.bom", "users.csv") in found
    assert ("csv.line_ending", "classes.csv") in found
    assert ("csv.unquoted", "orgs.csv") in found
    assert ("value.boolean_case", "enrollments.csv") in found
    assert result.summary["users"].added == 6


def test_passwords_and_demographics_are_never_stored(
    import_rows: ImportRows, container: Container
) -> None:
    rows = valid_roster()
    rows["users"][2]["password"] = "hunter2"
    rows["demographics"] = [
        {"sourcedId": rows["users"][2]["sourcedId"], "birthDate": "2015-05-05", "sex": "male"}
    ]
    result = import_rows(rows)
    assert result.applied
    rules = {p.rule for p in result.warnings}
    assert {"user.password_not_stored", "demographics.not_stored"} <= rules
    stored = snapshot(container)
    assert not any("hunter2" in str(row) for row in stored["users"])
    assert not any("2015-05-05" in str(row) for rows_ in stored.values() for row in rows_)


def test_demographics_must_point_to_users(import_rows: ImportRows) -> None:
    rows = valid_roster()
    rows["demographics"] = [{"sourcedId": UNKNOWN, "sex": "female"}]
    result = import_rows(rows)
    assert [(p.rule, p.file, p.row) for p in result.errors] == [
        ("ref.missing", "demographics.csv", 1)
    ]


def test_problems_beyond_the_cap_are_counted_not_listed(
    import_rows: ImportRows, container: Container
) -> None:
    container.settings.roster_max_problems_per_rule = 2
    rows = valid_roster()
    for user in rows["users"]:
        user["metadata.jp.kanaGivenName"] = "ひらがな"
    result = import_rows(rows)
    listed = [p for p in result.errors if p.rule == "value.kana"]
    assert len(listed) == 2
    assert result.suppressed[("value.kana", "users.csv")] == 4
    assert result.error_count == 6


def test_a_wrong_value_repeated_on_many_rows_is_reported_on_each(import_rows: ImportRows) -> None:
    # Values that pass are remembered per column; values that fail must never be.
    rows = valid_roster()
    for user in rows["users"][2:5]:
        user["grades"] = "G5"
    result = import_rows(rows)
    assert [(p.rule, p.row) for p in result.errors] == [
        ("value.grade", 3),
        ("value.grade", 4),
        ("value.grade", 5),
    ]


def test_sanity_warnings_import_but_are_reported(import_rows: ImportRows) -> None:
    rows = valid_roster()
    rows["users"][2]["metadata.jp.homeClass"] = uid(f"{BOARD_CODE}:class:5-math")  # scheduled
    rows["enrollments"][3]["metadata.jp.ShussekiNo"] = "1"  # s2 gets s1's number
    result = import_rows(rows)
    assert result.applied
    assert [(p.rule, p.file, p.row, p.column) for p in result.warnings] == [
        ("user.home_class_not_homeroom", "users.csv", 3, "metadata.jp.homeClass"),
        ("enrollment.duplicate_shussekino", "enrollments.csv", 4, "metadata.jp.ShussekiNo"),
    ]


def test_a_damaged_zip_member_is_reported_not_raised(
    import_rows: ImportRows, container: Container, tmp_path: Path
) -> None:
    assert import_rows(valid_roster()).applied
    before = snapshot(container)
    package = write_package(tmp_path / "damaged.zip", valid_roster())
    data = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo("enrollments.csv")
    # Flip bytes inside the member's compressed data (past its local header).
    start = info.header_offset + 30 + len(info.filename) + 10
    for offset in range(start, start + 20):
        data[offset] ^= 0xFF
    package.write_bytes(bytes(data))

    result = import_roster(container, BOARD_CODE, package)

    assert not result.accepted
    assert [(p.rule, p.file) for p in result.errors if p.rule == "package.unreadable"] == [
        ("package.unreadable", "enrollments.csv")
    ]
    assert snapshot(container) == before
