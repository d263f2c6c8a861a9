"""A small board for portal tests: the roster tests' package plus a 小1 class and a board admin."""

from __future__ import annotations

from pathlib import Path

from tests.roster.packages import BOARD_CODE, Rows, clone, uid, valid_roster, write_package
from tsunagu.container import Container
from tsunagu.roster.importer import import_roster
from tsunagu.tenancy.service import create_tenant

ELEM = uid(f"{BOARD_CODE}:elem")
DISTRICT = uid(f"{BOARD_CODE}:district")
CLASS_5_1 = uid(f"{BOARD_CODE}:class:5-1")
CLASS_1_1 = uid(f"{BOARD_CODE}:class:1-1")
CLASS_J1 = uid(f"{BOARD_CODE}:class:j1-1")
TEACHER = uid(f"{BOARD_CODE}:user:t-elem")
TEACHER_JUNIOR = uid(f"{BOARD_CODE}:user:t-junior")
PUPIL = uid(f"{BOARD_CODE}:user:s1")
PUPIL_JUNIOR = uid(f"{BOARD_CODE}:user:s4")
YOUNG = uid(f"{BOARD_CODE}:user:y1")
BOARD_ADMIN = uid(f"{BOARD_CODE}:user:admin")


def portal_roster() -> Rows:
    rows = clone(valid_roster())
    year = uid(f"{BOARD_CODE}:year")
    rows["courses"].append(
        {
            "sourcedId": uid(f"{BOARD_CODE}:course:hr1"),
            "schoolYearSourcedId": year,
            "title": "2026年度ホームルーム",
            "grades": "P1",
            "orgSourcedId": ELEM,
        }
    )
    rows["classes"].append(
        {
            "sourcedId": CLASS_1_1,
            "title": "1年1組",
            "grades": "P1",
            "courseSourcedId": uid(f"{BOARD_CODE}:course:hr1"),
            "classType": "homeroom",
            "schoolSourcedId": ELEM,
            "termSourcedIds": year,
            "metadata.jp.specialNeeds": "false",
        }
    )
    people = [
        ("y1", "小林", "あおい", "コバヤシ", "アオイ", "student", "P1", ELEM, CLASS_1_1, "1"),
        (
            "admin",
            "中村",
            "誠",
            "ナカムラ",
            "マコト",
            "districtAdministrator",
            "",
            DISTRICT,
            None,
            "",
        ),
    ]
    for number, (label, family, given, kfam, kgiv, role, grade, org, klass, no) in enumerate(
        people, start=50
    ):
        user = uid(f"{BOARD_CODE}:user:{label}")
        rows["users"].append(
            {
                "sourcedId": user,
                "enabledUser": "true",
                "username": f"{label}@{BOARD_CODE}.tsunagu.example.jp",
                "userIds": f"{{Google:{100000 + number}}}",
                "givenName": given,
                "familyName": family,
                "grades": grade,
                "userMasterIdentifier": uid(f"{BOARD_CODE}:umi:{label}"),
                "preferredGivenName": given,
                "preferredFamilyName": family,
                "primaryOrgSourcedId": org,
                "metadata.jp.kanaGivenName": kgiv,
                "metadata.jp.kanaFamilyName": kfam,
                "metadata.jp.homeClass": klass or "",
            }
        )
        rows["roles"].append(
            {
                "sourcedId": uid(f"{BOARD_CODE}:role:{label}"),
                "userSourcedId": user,
                "roleType": "primary",
                "role": role,
                "orgSourcedId": org,
            }
        )
        if klass:
            rows["enrollments"].append(
                {
                    "sourcedId": uid(f"{BOARD_CODE}:enr:{label}"),
                    "classSourcedId": klass,
                    "schoolSourcedId": org,
                    "userSourcedId": user,
                    "role": "student",
                    "primary": "false",
                    "metadata.jp.ShussekiNo": no,
                }
            )
    # The elementary teacher also teaches 1年1組 (so they may edit its timetable).
    rows["enrollments"].append(
        {
            "sourcedId": uid(f"{BOARD_CODE}:enr:t-elem:1-1"),
            "classSourcedId": CLASS_1_1,
            "schoolSourcedId": ELEM,
            "userSourcedId": TEACHER,
            "role": "teacher",
            "primary": "false",
            "metadata.jp.ShussekiNo": "",
        }
    )
    return rows


def load_board(container: Container, tmp_path: Path, rows: Rows | None = None) -> None:
    with container.database.transaction() as session:
        create_tenant(session, BOARD_CODE, "つなぐ市教育委員会")
    package = write_package(tmp_path / "portal-roster.zip", rows or portal_roster())
    result = import_roster(container, BOARD_CODE, package)
    assert result.applied, [str(p) for p in result.errors]
