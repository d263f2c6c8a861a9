"""What imports change: bulk replacement, delta semantics, dry runs and the safety guards."""

from __future__ import annotations

from sqlalchemy import select

from tests.roster.conftest import ImportRows, snapshot
from tests.roster.packages import BOARD_CODE, OTHER_BOARD_CODE, Rows, uid, valid_roster
from tsunagu.container import Container
from tsunagu.roster.models import Class, Enrollment, Role, User

DLM = "2026-09-01T00:00:00.000Z"


def _delta(**files: list[dict[str, str]]) -> tuple[Rows, dict[str, str]]:
    rows: Rows = {
        name: []
        for name in (
            "orgs",
            "academicSessions",
            "courses",
            "classes",
            "users",
            "roles",
            "enrollments",
        )
    }
    modes = dict.fromkeys(rows, "absent")
    for name, file_rows in files.items():
        rows[name] = [{"status": "active", "dateLastModified": DLM, **r} for r in file_rows]
        modes[name] = "delta"
    return rows, modes


def _status(container: Container, model: type, sourced_id: str) -> str | None:
    with container.database.session() as session:
        row = session.scalar(
            select(model).where(model.sourced_id == sourced_id)  # type: ignore[attr-defined]
        )
        return None if row is None else row.status  # type: ignore[no-any-return]


def _user(container: Container, label: str) -> User:
    with container.database.session() as session:
        user = session.scalar(
            select(User).where(User.sourced_id == uid(f"{BOARD_CODE}:user:{label}"))
        )
        assert user is not None
        return user


def test_bulk_import_of_the_same_package_changes_nothing(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    before = snapshot(container)
    again = import_rows(valid_roster())
    assert again.applied
    assert all(c.added == c.changed == c.deactivated == 0 for c in again.summary.values())
    assert again.summary["enrollments"].unchanged == 10
    # Unchanged rows are not rewritten: not even their dateLastModified moves.
    assert snapshot(container) == before


def test_bulk_import_deactivates_who_left_and_brings_them_back(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    rows = valid_roster()
    s3 = uid(f"{BOARD_CODE}:user:s3")
    rows["users"] = [u for u in rows["users"] if u["sourcedId"] != s3]
    rows["roles"] = [r for r in rows["roles"] if r["userSourcedId"] != s3]
    rows["enrollments"] = [e for e in rows["enrollments"] if e["userSourcedId"] != s3]
    rows["users"][2]["preferredGivenName"] = "たろう"  # s1 changes display name

    result = import_rows(rows)

    assert result.applied
    assert result.summary["users"].deactivated == 1
    assert result.summary["users"].changed == 1
    assert result.summary["enrollments"].deactivated == 2
    assert _status(container, User, s3) == "tobedeleted"  # kept, never deleted
    assert _user(container, "s1").preferred_given_name == "たろう"

    back = import_rows(valid_roster())
    assert back.summary["users"].changed == 2  # s3 reactivated, s1 renamed back
    assert _status(container, User, s3) == "active"


def test_dry_run_reports_the_diff_and_changes_nothing(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    before = snapshot(container)
    rows = valid_roster()
    rows["classes"][0]["title"] = "5年あさがお組"
    rows["users"] = rows["users"][:-1]
    rows["roles"] = [r for r in rows["roles"] if r["userSourcedId"] != uid(f"{BOARD_CODE}:user:s4")]
    rows["enrollments"] = [
        e for e in rows["enrollments"] if e["userSourcedId"] != uid(f"{BOARD_CODE}:user:s4")
    ]

    result = import_rows(rows, dry_run=True)

    assert result.accepted
    assert not result.applied
    assert result.summary["classes"].changed == 1
    assert result.summary["users"].deactivated == 1
    assert result.summary["enrollments"].deactivated == 1
    assert snapshot(container) == before


def test_delta_transfer_between_schools(import_rows: ImportRows, container: Container) -> None:
    assert import_rows(valid_roster()).applied
    s3 = uid(f"{BOARD_CODE}:user:s3")
    junior = uid(f"{BOARD_CODE}:junior")
    base = {u["sourcedId"]: u for u in valid_roster()["users"]}[s3]
    rows, modes = _delta(
        users=[
            {
                **base,
                "primaryOrgSourcedId": junior,
                "grades": "J1",
                "metadata.jp.homeClass": uid(f"{BOARD_CODE}:class:j1-1"),
            }
        ],
        roles=[
            {
                "sourcedId": uid(f"{BOARD_CODE}:role:s3"),
                "userSourcedId": s3,
                "roleType": "primary",
                "role": "student",
                "orgSourcedId": junior,
            }
        ],
        enrollments=[
            {"sourcedId": uid(f"{BOARD_CODE}:enr:s3:5-1"), "status": "tobedeleted"},
            {"sourcedId": uid(f"{BOARD_CODE}:enr:s3:5-math"), "status": "tobedeleted"},
            {
                "sourcedId": uid(f"{BOARD_CODE}:enr:s3:j1-1"),
                "classSourcedId": uid(f"{BOARD_CODE}:class:j1-1"),
                "schoolSourcedId": junior,
                "userSourcedId": s3,
                "role": "student",
                "primary": "false",
                "metadata.jp.ShussekiNo": "2",
            },
        ],
    )

    result = import_rows(rows, modes=modes)

    assert result.applied, [p.message_en for p in result.errors]
    assert result.summary["users"].changed == 1
    assert result.summary["enrollments"].added == 1
    assert result.summary["enrollments"].deactivated == 2
    user = _user(container, "s3")
    assert (user.primary_org_sourced_id, user.status) == (junior, "active")
    assert _status(container, Enrollment, uid(f"{BOARD_CODE}:enr:s3:5-1")) == "tobedeleted"
    assert _status(container, Enrollment, uid(f"{BOARD_CODE}:enr:s3:j1-1")) == "active"


def test_delta_new_pupil(import_rows: ImportRows, container: Container) -> None:
    assert import_rows(valid_roster()).applied
    elem = uid(f"{BOARD_CODE}:elem")
    new = uid("new-pupil")
    rows, modes = _delta(
        users=[
            {
                "sourcedId": new,
                "enabledUser": "true",
                "username": "new@example.jp",
                "givenName": "新",
                "familyName": "木村",
                "grades": "P5",
                "userMasterIdentifier": uid("new-pupil-umi"),
                "preferredGivenName": "新",
                "preferredFamilyName": "木村",
                "primaryOrgSourcedId": elem,
                "metadata.jp.kanaGivenName": "アラタ",
                "metadata.jp.kanaFamilyName": "キムラ",
                "metadata.jp.homeClass": uid(f"{BOARD_CODE}:class:5-1"),
            }
        ],
        roles=[
            {
                "sourcedId": uid("new-pupil-role"),
                "userSourcedId": new,
                "roleType": "primary",
                "role": "student",
                "orgSourcedId": elem,
            }
        ],
        enrollments=[
            {
                "sourcedId": uid("new-pupil-enr"),
                "classSourcedId": uid(f"{BOARD_CODE}:class:5-1"),
                "schoolSourcedId": elem,
                "userSourcedId": new,
                "role": "student",
                "primary": "false",
                "metadata.jp.ShussekiNo": "4",
            }
        ],
    )
    result = import_rows(rows, modes=modes)
    assert result.applied, [p.message_en for p in result.errors]
    assert (result.summary["users"].added, result.summary["enrollments"].added) == (1, 1)
    assert result.summary["enrollments"].unchanged == 0
    assert _status(container, User, new) == "active"


def test_delta_withdrawal_takes_enrollments_and_roles_along(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    s2 = uid(f"{BOARD_CODE}:user:s2")
    rows, modes = _delta(users=[{"sourcedId": s2, "status": "tobedeleted"}])
    result = import_rows(rows, modes=modes)
    assert result.applied
    assert result.summary["users"].deactivated == 1
    assert result.summary["enrollments"].deactivated == 2  # homeroom and 算数, by cascade
    assert result.summary["roles"].deactivated == 1
    assert _status(container, User, s2) == "tobedeleted"
    assert _status(container, Role, uid(f"{BOARD_CODE}:role:s2")) == "tobedeleted"


def test_delta_enrollment_of_a_withdrawn_pupil_is_refused(import_rows: ImportRows) -> None:
    assert import_rows(valid_roster()).applied
    s2 = uid(f"{BOARD_CODE}:user:s2")
    rows, modes = _delta(
        users=[{"sourcedId": s2, "status": "tobedeleted"}],
        enrollments=[
            {
                "sourcedId": uid("late-enr"),
                "classSourcedId": uid(f"{BOARD_CODE}:class:5-math"),
                "schoolSourcedId": uid(f"{BOARD_CODE}:elem"),
                "userSourcedId": s2,
                "role": "student",
                "primary": "false",
            }
        ],
    )
    result = import_rows(rows, modes=modes)
    assert [(p.rule, p.file, p.row, p.column) for p in result.errors] == [
        ("ref.missing", "enrollments.csv", 1, "userSourcedId")
    ]


def test_delta_renamed_class_and_new_homeroom_teacher(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    base = valid_roster()
    homeroom = dict(base["classes"][0], title="5年1組（ひまわり）")
    elem = uid(f"{BOARD_CODE}:elem")
    new_teacher = uid("new-teacher")
    rows, modes = _delta(
        classes=[homeroom],
        users=[
            {
                "sourcedId": new_teacher,
                "enabledUser": "true",
                "username": "t2@example.jp",
                "givenName": "誠",
                "familyName": "中村",
                "userMasterIdentifier": uid("t2-umi"),
                "preferredGivenName": "誠",
                "preferredFamilyName": "中村",
                "metadata.jp.kanaGivenName": "マコト",
                "metadata.jp.kanaFamilyName": "ナカムラ",
            }
        ],
        roles=[
            {
                "sourcedId": uid("t2-role"),
                "userSourcedId": new_teacher,
                "roleType": "primary",
                "role": "teacher",
                "orgSourcedId": elem,
            }
        ],
        enrollments=[
            # The old 担任 stays in the class but is no longer its primary teacher.
            {**base["enrollments"][0], "primary": "false"},
            {
                "sourcedId": uid("t2-enr"),
                "classSourcedId": homeroom["sourcedId"],
                "schoolSourcedId": elem,
                "userSourcedId": new_teacher,
                "role": "teacher",
                "primary": "true",
            },
        ],
    )
    result = import_rows(rows, modes=modes)
    assert result.applied, [p.message_en for p in result.errors]
    assert result.summary["classes"].changed == 1
    assert (result.summary["enrollments"].changed, result.summary["enrollments"].added) == (1, 1)
    with container.database.session() as session:
        title = session.scalar(select(Class.title).where(Class.sourced_id == homeroom["sourcedId"]))
        primaries = session.scalars(
            select(Enrollment.user_sourced_id).where(
                Enrollment.class_sourced_id == homeroom["sourcedId"],
                Enrollment.role == "teacher",
                Enrollment.is_primary == "true",
            )
        ).all()
    assert title == "5年1組（ひまわり）"
    assert primaries == [new_teacher]


def test_delta_rows_older_than_the_stored_record_are_skipped(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    base = valid_roster()["classes"][0]
    rows, modes = _delta(classes=[{**base, "title": "5年2組"}])
    assert import_rows(rows, modes=modes).applied
    older, modes = _delta(
        classes=[{**base, "title": "5年3組", "dateLastModified": "2026-08-01T00:00:00.000Z"}]
    )
    result = import_rows(older, modes=modes)
    assert result.applied
    assert [(p.rule, p.row) for p in result.warnings] == [("delta.stale_row", 1)]
    with container.database.session() as session:
        title = session.scalar(select(Class.title).where(Class.sourced_id == base["sourcedId"]))
    assert title == "5年2組"


def test_delta_requires_status_and_date(import_rows: ImportRows, container: Container) -> None:
    assert import_rows(valid_roster()).applied
    before = snapshot(container)
    rows, modes = _delta(
        classes=[
            {**valid_roster()["classes"][0], "status": "inactive", "dateLastModified": "yesterday"}
        ]
    )
    result = import_rows(rows, modes=modes)
    assert {(p.rule, p.column) for p in result.errors} == {
        ("delta.status", "status"),
        ("delta.date_last_modified", "dateLastModified"),
    }
    assert snapshot(container) == before


def test_mass_deactivation_needs_explicit_consent(
    import_rows: ImportRows, container: Container
) -> None:
    container.settings.roster_mass_deactivation_ratio = 0.5
    rows = valid_roster()
    big = valid_roster()
    template = big["users"][2]
    for i in range(60):
        user = dict(
            template,
            sourcedId=uid(f"extra-{i}"),
            userMasterIdentifier=uid(f"extra-umi-{i}"),
            username=f"extra{i}@example.jp",
        )
        big["users"].append(user)
    assert import_rows(big).applied
    before = snapshot(container)

    refused = import_rows(rows)
    assert [p.rule for p in refused.errors] == ["import.mass_deactivation"]
    assert snapshot(container) == before

    allowed = import_rows(rows, allow_mass_deactivation=True)
    assert allowed.applied
    assert allowed.summary["users"].deactivated == 60


def test_tenants_do_not_see_each_others_rosters(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    other = valid_roster(board_code=OTHER_BOARD_CODE)
    result = import_rows(other, tenant=OTHER_BOARD_CODE)
    assert result.applied
    # Same-shaped roster in another tenant: everything is new there, nothing here moved.
    assert result.summary["users"].added == 6
    # A package of tenant A imported into tenant B is refused by its district code.
    wrong = import_rows(valid_roster(), tenant=OTHER_BOARD_CODE)
    assert "org.other_tenant" in {p.rule for p in wrong.errors}
    # Deactivating everyone in B does not touch A.
    emptied = valid_roster(board_code=OTHER_BOARD_CODE)
    for name in ("users", "roles", "enrollments"):
        emptied[name] = []
    assert import_rows(emptied, tenant=OTHER_BOARD_CODE).applied
    with container.database.session() as session:
        active = session.scalars(select(User.tenant_id).where(User.status == "active")).all()
    assert len(active) == 6
    assert len(set(active)) == 1


def test_dry_run_lists_every_change_person_by_person(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    rows = valid_roster()
    rows["classes"][0]["title"] = "5年あさがお組"
    s4 = uid(f"{BOARD_CODE}:user:s4")
    for name in ("users", "roles", "enrollments"):
        rows[name] = [r for r in rows[name] if s4 not in (r["sourcedId"], r.get("userSourcedId"))]
    listed: list[tuple[str, str, str, str]] = []

    result = import_rows(
        rows,
        dry_run=True,
        changes=lambda *change: listed.append(change),  # type: ignore[arg-type]
    )

    assert result.accepted
    assert sorted(listed) == sorted(
        [
            ("classes", "changed", rows["classes"][0]["sourcedId"], "5年あさがお組"),
            ("users", "deactivated", s4, f"s4@{BOARD_CODE}.tsunagu.example.jp 高橋 結衣"),
            (
                "roles",
                "deactivated",
                uid(f"{BOARD_CODE}:role:s4"),
                f"student {s4} @ {uid(f'{BOARD_CODE}:junior')}",
            ),
            (
                "enrollments",
                "deactivated",
                uid(f"{BOARD_CODE}:enr:s4:j1-1"),
                f"student {s4} → {uid(f'{BOARD_CODE}:class:j1-1')}",
            ),
        ]
    )


def test_changes_list_the_cascade_of_a_withdrawal(
    import_rows: ImportRows, container: Container
) -> None:
    assert import_rows(valid_roster()).applied
    s2 = uid(f"{BOARD_CODE}:user:s2")
    rows, modes = _delta(users=[{"sourcedId": s2, "status": "tobedeleted"}])
    listed: list[tuple[str, str, str, str]] = []
    result = import_rows(rows, modes=modes, changes=lambda *c: listed.append(c))  # type: ignore[arg-type]
    assert result.applied
    assert sorted((c[0], c[1], c[2]) for c in listed) == sorted(
        [
            ("users", "deactivated", s2),
            ("enrollments", "deactivated", uid(f"{BOARD_CODE}:enr:s2:5-1")),
            ("enrollments", "deactivated", uid(f"{BOARD_CODE}:enr:s2:5-math")),
            ("roles", "deactivated", uid(f"{BOARD_CODE}:role:s2")),
        ]
    )
