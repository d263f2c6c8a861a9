"""A small, valid Japan Profile roster built in code, and helpers to write (and break) it.

Every rule test starts from :func:`valid_roster`, changes one thing, writes the package with
:func:`write_package` and checks the importer's verdict.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from pathlib import Path

from tsunagu.roster.csv.codes import school_code_check_digit
from tsunagu.roster.csv.layouts import Profile
from tsunagu.roster.csv.writer import PackageWriter, manifest_rows

BOARD_CODE = "131016"
OTHER_BOARD_CODE = "271004"

Rows = dict[str, list[dict[str, str]]]


def school_code(prefix12: str) -> str:
    return prefix12 + str(school_code_check_digit(prefix12))


def uid(label: str) -> str:
    """A stable UUID v4 per label, so tests can name records."""
    raw = uuid.uuid5(uuid.NAMESPACE_URL, f"tsunagu-test:{label}")
    return str(uuid.UUID(bytes=raw.bytes, version=4))


def valid_roster(board_code: str = BOARD_CODE, school_year: int = 2026) -> Rows:
    district = uid(f"{board_code}:district")
    elem = uid(f"{board_code}:elem")
    junior = uid(f"{board_code}:junior")
    year = uid(f"{board_code}:year")
    rows: Rows = {
        "orgs": [
            {
                "sourcedId": district,
                "name": "つなぐ市教育委員会",
                "type": "district",
                "identifier": board_code,
            },
            {
                "sourcedId": elem,
                "name": "つなぐ市立みなみ小学校",
                "type": "school",
                "identifier": school_code("B11321000001"),
                "parentSourcedId": district,
            },
            {
                "sourcedId": junior,
                "name": "つなぐ市立ひがし中学校",
                "type": "school",
                "identifier": school_code("C11321000002"),
                "parentSourcedId": district,
            },
        ],
        "academicSessions": [
            {
                "sourcedId": year,
                "title": f"{school_year}年度",
                "type": "schoolYear",
                "startDate": f"{school_year}-04-01",
                "endDate": f"{school_year + 1}-03-31",
                "schoolYear": str(school_year),
            },
        ],
        "courses": [
            {
                "sourcedId": uid(f"{board_code}:course:hr5"),
                "schoolYearSourcedId": year,
                "title": f"{school_year}年度ホームルーム",
                "grades": "P5",
                "orgSourcedId": elem,
            },
            {
                "sourcedId": uid(f"{board_code}:course:math5"),
                "schoolYearSourcedId": year,
                "title": f"{school_year}年度算数",
                "grades": "P5",
                "orgSourcedId": elem,
                "subjects": "算数",
                "subjectCodes": "P030",
            },
            {
                "sourcedId": uid(f"{board_code}:course:hr1j"),
                "schoolYearSourcedId": year,
                "title": f"{school_year}年度ホームルーム",
                "grades": "J1",
                "orgSourcedId": junior,
            },
        ],
        "classes": [
            {
                "sourcedId": uid(f"{board_code}:class:5-1"),
                "title": "5年1組",
                "grades": "P5",
                "courseSourcedId": uid(f"{board_code}:course:hr5"),
                "classType": "homeroom",
                "schoolSourcedId": elem,
                "termSourcedIds": year,
                "metadata.jp.specialNeeds": "false",
            },
            {
                "sourcedId": uid(f"{board_code}:class:5-math"),
                "title": "5年算数",
                "grades": "P5",
                "courseSourcedId": uid(f"{board_code}:course:math5"),
                "classType": "scheduled",
                "schoolSourcedId": elem,
                "termSourcedIds": year,
                "subjects": "算数",
                "subjectCodes": "P030",
                "periods": "月1,水2",
            },
            {
                "sourcedId": uid(f"{board_code}:class:j1-1"),
                "title": "1年1組",
                "grades": "J1",
                "courseSourcedId": uid(f"{board_code}:course:hr1j"),
                "classType": "homeroom",
                "schoolSourcedId": junior,
                "termSourcedIds": year,
            },
        ],
        "users": [],
        "roles": [],
        "enrollments": [],
    }
    people = [
        # label, family, given, kana family, kana given, school, role, grade, home class
        ("t-elem", "佐藤", "花子", "サトウ", "ハナコ", elem, "teacher", "", "5-1"),
        ("t-junior", "鈴木", "一郎", "スズキ", "イチロウ", junior, "teacher", "", "j1-1"),
        ("s1", "山田", "太郎", "ヤマダ", "タロウ", elem, "student", "P5", "5-1"),
        ("s2", "田中", "さくら", "タナカ", "サクラ", elem, "student", "P5", "5-1"),
        ("s3", "伊藤", "陽向", "イトウ", "ヒナタ", elem, "student", "P5", "5-1"),
        ("s4", "高橋", "結衣", "タカハシ", "ユイ", junior, "student", "J1", "j1-1"),
    ]
    for number, (label, family, given, kfam, kgiv, school, role, grade, home) in enumerate(
        people, start=1
    ):
        user = uid(f"{board_code}:user:{label}")
        rows["users"].append(
            {
                "sourcedId": user,
                "enabledUser": "true",
                "username": f"{label}@{board_code}.tsunagu.example.jp",
                "userIds": f"{{Google:{100000 + number}}}",
                "givenName": given,
                "familyName": family,
                "grades": grade,
                "userMasterIdentifier": uid(f"{board_code}:umi:{label}"),
                "preferredGivenName": given,
                "preferredFamilyName": family,
                "primaryOrgSourcedId": school,
                "metadata.jp.kanaGivenName": kgiv,
                "metadata.jp.kanaFamilyName": kfam,
                "metadata.jp.homeClass": uid(f"{board_code}:class:{home}"),
            }
        )
        rows["roles"].append(
            {
                "sourcedId": uid(f"{board_code}:role:{label}"),
                "userSourcedId": user,
                "roleType": "primary",
                "role": role,
                "orgSourcedId": school,
            }
        )
        rows["enrollments"].append(
            {
                "sourcedId": uid(f"{board_code}:enr:{label}:{home}"),
                "classSourcedId": uid(f"{board_code}:class:{home}"),
                "schoolSourcedId": school,
                "userSourcedId": user,
                "role": role,
                "primary": "true" if role == "teacher" else "false",
                "metadata.jp.ShussekiNo": str(number - 2) if role == "student" else "",
            }
        )
    # The elementary teacher is also the school's principal; the pupils of 5-1 take 算数.
    rows["roles"].append(
        {
            "sourcedId": uid(f"{board_code}:role:t-elem:principal"),
            "userSourcedId": uid(f"{board_code}:user:t-elem"),
            "roleType": "secondary",
            "role": "principal",
            "orgSourcedId": elem,
        }
    )
    for label in ("t-elem", "s1", "s2", "s3"):
        rows["enrollments"].append(
            {
                "sourcedId": uid(f"{board_code}:enr:{label}:5-math"),
                "classSourcedId": uid(f"{board_code}:class:5-math"),
                "schoolSourcedId": elem,
                "userSourcedId": uid(f"{board_code}:user:{label}"),
                "role": "teacher" if label.startswith("t-") else "student",
                "primary": "true" if label.startswith("t-") else "false",
            }
        )
    return rows


def write_package(
    target: Path,
    rows: Mapping[str, list[dict[str, str]]],
    *,
    profile: Profile = Profile.V4,
    modes: Mapping[str, str] | None = None,
) -> Path:
    """Write ``rows`` as a package (``target`` ending in .zip → ZIP, else a folder)."""
    modes = dict(modes) if modes is not None else dict.fromkeys(rows, "bulk")
    with PackageWriter(target) as writer:
        writer.write_manifest(manifest_rows(profile, modes))
        for name, file_rows in rows.items():
            if modes.get(name, "absent") == "absent":
                continue
            renamed = [_for_profile(row, profile) for row in file_rows]
            writer.write_file(name, profile, renamed)
    return target


def _for_profile(row: dict[str, str], profile: Profile) -> dict[str, str]:
    if profile is Profile.V6:
        row = {
            (
                "metadata.jp.shussekiNo"
                if k == "metadata.jp.ShussekiNo"
                else "metadata.jp.publicFlg"
                if k == "metadata.jp.PublicFlg"
                else k
            ): v
            for k, v in row.items()
        }
    return row


def clone(rows: Rows) -> Rows:
    return copy.deepcopy(rows)
