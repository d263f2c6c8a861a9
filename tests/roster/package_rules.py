"""An independent reader and rule checker for OneRoster Japan Profile packages (tests only).

Written from eportal-standard.md §4 rather than from the generator's code, so the generator (and
the exporter) are checked against the rules, not against themselves. ``check_package`` returns
readable problems; a test asserts there are none.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tsunagu.roster.csv.codes import is_valid_school_code
from tsunagu.roster.csv.layouts import (
    FILE_ORDER,
    LAYOUTS,
    MANIFEST_VERSION,
    REQUIRED_FILES,
    Profile,
)
from tsunagu.roster.models import MODEL_BY_FILE

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
QUOTED_RECORD = re.compile(r'^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$')
FULL_WIDTH_KATAKANA = re.compile(r"^[\u30a1-\u30f6\u30fc]+$")
#: Names and org names: no ASCII and no half-width katakana at all.
FULL_WIDTH_TEXT = re.compile(r"^[^\x00-\x7f\uff61-\uff9f]+$")
HALF_WIDTH_KANA = re.compile(r"[\uff61-\uff9f]")
GRADE = re.compile(r"^(P[1-6]|J[1-3])$")
BOARD_CODE = re.compile(r"^[0-4][0-9]{5}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
USER_IDS = re.compile(r"^\{[^:}]+:[^}]+\}$")
#: APPLIC subject codes and names (eportal-standard.md §4.5).
SUBJECT_NAMES = {
    "P010": "国語", "P020": "社会", "P030": "算数", "P040": "理科", "P050": "生活",
    "P060": "音楽", "P070": "図画工作", "P080": "家庭", "P090": "体育", "P100": "外国語",
    "J010": "国語", "J020": "社会", "J030": "数学", "J040": "理科", "J050": "音楽",
    "J060": "美術", "J070": "保健体育", "J080": "技術・家庭", "J090": "外国語",
}  # fmt: skip
ROLES = {
    "districtAdministrator",
    "guardian",
    "principal",
    "siteAdministrator",
    "student",
    "teacher",
}
ENROLLMENT_ROLES = {"student", "teacher", "administrator", "proctor"}

Row = dict[str, str]


@dataclass
class Package:
    raw: dict[str, bytes]
    headers: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, list[Row]] = field(default_factory=dict)
    manifest: dict[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> Profile:
        version = self.manifest["oneroster.version"]
        return next(p for p, v in MANIFEST_VERSION.items() if v == version)

    def by_id(self, file_name: str) -> dict[str, Row]:
        return {row["sourcedId"]: row for row in self.rows.get(file_name, [])}


def read_package(path: Path) -> Package:
    raw: dict[str, bytes] = {}
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                raw[name] = archive.read(name)
    else:
        for file in sorted(path.iterdir()):
            raw[file.name] = file.read_bytes()
    package = Package(raw=raw)
    for name, content in raw.items():
        records = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
        header, body = records[0], records[1:]
        if name == "manifest.csv":
            package.manifest = {key: value for key, value in body}
        else:
            stem = name.removesuffix(".csv")
            package.headers[stem] = header
            package.rows[stem] = [dict(zip(header, record, strict=True)) for record in body]
    return package


def check_format(package: Package) -> list[str]:
    """Byte level: UTF-8 without BOM, CRLF only, every field quoted."""
    problems = []
    for name, content in package.raw.items():
        if content.startswith(b"\xef\xbb\xbf"):
            problems.append(f"{name}: starts with a BOM")
        if content.count(b"\n") != content.count(b"\r\n") or not content.endswith(b"\r\n"):
            problems.append(f"{name}: line endings are not all CRLF")
        for number, line in enumerate(content.decode("utf-8").split("\r\n")[:-1], start=1):
            if not QUOTED_RECORD.match(line):
                problems.append(f"{name} line {number}: not every field quoted: {line[:80]}")
                break
    return problems


def check_headers(package: Package, extra: dict[str, list[str]] | None = None) -> list[str]:
    """Headers are exactly the profile's columns, in order (plus expected extension columns)."""
    problems = []
    profile = package.profile
    for name, header in package.headers.items():
        expected = [*LAYOUTS[name].columns[profile], *(extra or {}).get(name, [])]
        if header != expected:
            problems.append(f"{name}.csv header {header} != {expected}")
    return problems


def check_manifest(package: Package, mode: str) -> list[str]:
    problems = []
    manifest = package.manifest
    if manifest.get("manifest.version") != "1.0":
        problems.append("manifest.version is not 1.0")
    for name in REQUIRED_FILES:
        if manifest.get(f"file.{name}") != mode:
            problems.append(f"file.{name} is {manifest.get(f'file.{name}')!r}, not {mode}")
        if f"{name}.csv" not in package.raw:
            problems.append(f"{name}.csv is declared {mode} but missing")
    for key, value in manifest.items():
        if key.startswith("file.") and value == "absent" and f"{key[5:]}.csv" in package.raw:
            problems.append(f"{key[5:]}.csv is present but declared absent")
    if manifest.get("file.demographics") != "absent":
        problems.append("demographics are not absent")
    return problems


def check_rules(package: Package, *, delta: bool = False, base: Package | None = None) -> list[str]:
    """The §4 value rules and referential integrity, within the package (and ``base``, the
    package a delta applies to)."""
    problems: list[str] = []
    rows = package.rows

    def bad(where: str, message: str) -> None:
        problems.append(f"{where}: {message}")

    seen_ids: Counter[str] = Counter()
    for name, file_rows in rows.items():
        for row in file_rows:
            where = f"{name} {row['sourcedId']}"
            seen_ids[row["sourcedId"]] += 1
            if not UUID4.match(row["sourcedId"]):
                bad(where, "sourcedId is not a lowercase UUID v4")
            if delta:
                if row["status"] not in ("active", "tobedeleted"):
                    bad(where, f"delta status {row['status']!r}")
                if not ISO_DATETIME.match(row["dateLastModified"]):
                    bad(where, f"delta dateLastModified {row['dateLastModified']!r}")
            elif row["status"] or row["dateLastModified"]:
                bad(where, "bulk row with status or dateLastModified")
            for column in ("title", "location", "name", "description"):
                if HALF_WIDTH_KANA.search(row.get(column, "")):
                    bad(where, f"half-width katakana in {column}")
    problems += [f"sourcedId {i} used {n} times" for i, n in seen_ids.items() if n > 1]

    def lookup(file_name: str) -> dict[str, Row]:
        return {**(base.by_id(file_name) if base else {}), **package.by_id(file_name)}

    orgs = lookup("orgs")
    sessions = lookup("academicSessions")
    courses = lookup("courses")
    classes = lookup("classes")
    users = lookup("users")

    for org in package.rows.get("orgs", []):
        where = f"org {org['name']}"
        if not FULL_WIDTH_TEXT.match(org["name"]):
            bad(where, "name is not full-width")
        if org["type"] == "district":
            if org["parentSourcedId"]:
                bad(where, "a district has a parent")
            if not BOARD_CODE.match(org["identifier"]):
                bad(where, f"教育委員会コード {org['identifier']!r}")
        elif org["type"] == "school":
            if not is_valid_school_code(org["identifier"]):
                bad(where, f"学校コード {org['identifier']!r} invalid (format or check digit)")
            parent = orgs.get(org["parentSourcedId"])
            if parent is None or parent["type"] != "district":
                bad(where, "parent is not a district of the package")
        else:
            bad(where, f"type {org['type']!r}")
    for session in package.rows.get("academicSessions", []):
        year = session["schoolYear"]
        if (session["title"], session["type"]) != (f"{year}年度", "schoolYear"):
            bad(f"session {session['title']}", "title/type")
        if (session["startDate"], session["endDate"]) != (
            f"{year}-04-01",
            f"{int(year) + 1}-03-31",
        ):
            bad(f"session {session['title']}", "dates")
    schools = {i for i, o in orgs.items() if o["type"] == "school"}

    def codes_and_names(where: str, row: Row) -> None:
        subjects = [s for s in row["subjects"].split(",") if s]
        codes = [c for c in row["subjectCodes"].split(",") if c]
        if len(subjects) != len(codes):
            bad(where, "subjects and subjectCodes differ in length")
        for code, subject in zip(codes, subjects, strict=False):
            if SUBJECT_NAMES.get(code) != subject:
                bad(where, f"subject code {code} is not {subject}")
        for grade in filter(None, row["grades"].split(",")):
            if not GRADE.match(grade):
                bad(where, f"grade {grade!r}")

    for course in package.rows.get("courses", []):
        where = f"course {course['sourcedId']}"
        session = sessions.get(course["schoolYearSourcedId"])
        if session is None or session["type"] != "schoolYear":
            bad(where, "schoolYearSourcedId does not resolve")
        elif not re.fullmatch(rf"{session['schoolYear']}年度\S+", course["title"]):
            bad(where, f"title {course['title']!r}")
        if course["courseCode"]:
            bad(where, "courseCode is not empty")
        if course["orgSourcedId"] not in orgs:
            bad(where, "orgSourcedId does not resolve")
        codes_and_names(where, course)
        if not course["subjects"] and not course["title"].endswith("ホームルーム"):
            bad(where, "a course without subject that is not the homeroom course")
    for cls in package.rows.get("classes", []):
        where = f"class {cls['title']}"
        if cls["classType"] not in ("homeroom", "scheduled"):
            bad(where, f"classType {cls['classType']!r}")
        if cls["courseSourcedId"] not in courses:
            bad(where, "courseSourcedId does not resolve")
        if cls["schoolSourcedId"] not in schools:
            bad(where, "schoolSourcedId is not a school")
        if any(t not in sessions for t in cls["termSourcedIds"].split(",")):
            bad(where, "termSourcedIds do not resolve")
        if cls["metadata.jp.specialNeeds"] not in ("", "true", "false"):
            bad(where, "specialNeeds is not a boolean")
        codes_and_names(where, cls)

    master_ids: Counter[str] = Counter()
    for user in package.rows.get("users", []):
        where = f"user {user['username']}"
        master_ids[user["userMasterIdentifier"]] += 1
        if not UUID4.match(user["userMasterIdentifier"]):
            bad(where, "userMasterIdentifier is not a UUID v4")
        if user["enabledUser"] != "true":
            bad(where, "enabledUser is not true")
        if not user["username"] or (user["userIds"] and not USER_IDS.match(user["userIds"])):
            bad(where, "username / userIds")
        for column in ("givenName", "familyName", "preferredGivenName", "preferredFamilyName"):
            if not FULL_WIDTH_TEXT.match(user[column]):
                bad(where, f"{column} {user[column]!r} is not full-width")
        kana = ["metadata.jp.kanaGivenName", "metadata.jp.kanaFamilyName"]
        kana += [c for c in package.headers["users"] if c.startswith("metadata.jp.kanaPreferred")]
        for column in kana:
            if user[column] and not FULL_WIDTH_KATAKANA.match(user[column]):
                bad(where, f"{column} {user[column]!r} is not full-width katakana")
        if not user["metadata.jp.kanaGivenName"] or not user["metadata.jp.kanaFamilyName"]:
            bad(where, "kana names missing")
        if user["primaryOrgSourcedId"] and user["primaryOrgSourcedId"] not in orgs:
            bad(where, "primaryOrgSourcedId does not resolve")
        for grade in filter(None, user["grades"].split(",")):
            if not GRADE.match(grade):
                bad(where, f"grade {grade!r}")
        home = user["metadata.jp.homeClass"]
        if home and home not in classes:
            bad(where, "homeClass does not resolve")
    problems += [f"userMasterIdentifier {i} used {n} times" for i, n in master_ids.items() if n > 1]

    primary_roles: Counter[str] = Counter()
    secondary_users = []
    for role in rows.get("roles", []):
        where = f"role {role['sourcedId']}"
        if role["userSourcedId"] not in users:
            bad(where, "userSourcedId does not resolve")
        if role["orgSourcedId"] not in orgs:
            bad(where, "orgSourcedId does not resolve")
        if role["role"] not in ROLES:
            bad(where, f"role {role['role']!r}")
        if role["roleType"] == "primary":
            primary_roles[role["userSourcedId"]] += 1
        elif role["roleType"] == "secondary":
            secondary_users.append(role["userSourcedId"])
        else:
            bad(where, f"roleType {role['roleType']!r}")
    if not delta:
        problems += [
            f"user {u} has no primary role" for u in secondary_users if not primary_roles[u]
        ]
        problems += [
            f"user {u} has {n} primary roles" for u in users if (n := primary_roles[u]) != 1
        ]

    for enrollment in rows.get("enrollments", []):
        where = f"enrollment {enrollment['sourcedId']}"
        cls = classes.get(enrollment["classSourcedId"])
        if cls is None:
            bad(where, "classSourcedId does not resolve")
        elif cls["schoolSourcedId"] != enrollment["schoolSourcedId"]:
            bad(where, "schoolSourcedId is not the class's school")
        if enrollment["schoolSourcedId"] not in schools:
            bad(where, "schoolSourcedId is not a school")
        if enrollment["userSourcedId"] not in users:
            bad(where, "userSourcedId does not resolve")
        if enrollment["role"] not in ENROLLMENT_ROLES:
            bad(where, f"role {enrollment['role']!r}")
        if enrollment["primary"] not in ("true", "false"):
            bad(where, f"primary {enrollment['primary']!r}")
        if enrollment["role"] == "student" and enrollment["primary"] != "false":
            bad(where, "a student enrollment is primary")
        number = shusseki_no(enrollment)
        if number and not number.isdigit():
            bad(where, f"出席番号 {number!r}")
        for column in ("beginDate", "endDate"):
            if enrollment[column] and not DATE.match(enrollment[column]):
                bad(where, f"{column} {enrollment[column]!r}")
    return problems


def shusseki_no(enrollment: Row) -> str:
    return enrollment.get("metadata.jp.ShussekiNo") or enrollment.get("metadata.jp.shussekiNo", "")


def merge(base: Package, delta: Package) -> Package:
    """The roster after applying ``delta`` to ``base`` (tobedeleted rows removed)."""
    merged = Package(raw={}, headers=dict(base.headers), manifest=dict(base.manifest))
    for name, rows in base.rows.items():
        by_id = {row["sourcedId"]: row for row in rows}
        for row in delta.rows.get(name, []):
            if row["status"] == "tobedeleted":
                by_id.pop(row["sourcedId"], None)
            else:
                by_id[row["sourcedId"]] = {**row, "status": "", "dateLastModified": ""}
        merged.rows[name] = list(by_id.values())
    return merged


def insert_package(session: Session, tenant_id: int, package: Package) -> None:
    """Store a bulk package's rows as-is: a stand-in for the importer where tests need a roster
    in the tables (no validation, no diffing, every row active)."""
    now = datetime.now(UTC)
    for file_name in FILE_ORDER:
        layout = LAYOUTS[file_name]
        if not layout.stored or file_name not in package.rows:
            continue
        records = []
        for row in package.rows[file_name]:
            record: dict[str, object] = {
                "tenant_id": tenant_id,
                "status": "active",
                "date_last_modified": now,
                "row_hash": "test",
            }
            extra = {}
            for column, value in row.items():
                if column in ("status", "dateLastModified") or column in layout.not_stored:
                    continue
                if column in layout.attributes:
                    record[layout.attributes[column]] = value or None
                elif column.startswith("metadata."):
                    extra[column] = value
            record["extra_metadata"] = extra or None
            records.append(record)
        session.execute(insert(MODEL_BY_FILE[file_name]), records)
