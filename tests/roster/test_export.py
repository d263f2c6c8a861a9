"""Roster export: byte format, column order, extension columns, and the round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from tests.roster.package_rules import (
    check_format,
    check_headers,
    check_manifest,
    check_rules,
    insert_package,
    read_package,
)
from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.roster.csv.layouts import LAYOUTS, Profile
from tsunagu.roster.export import export_roster
from tsunagu.roster.generator import GeneratorConfig, generate_roster
from tsunagu.roster.importer import import_roster
from tsunagu.roster.models import MODEL_BY_FILE, Enrollment, Org, RosterImport, User
from tsunagu.tenancy import service as tenancy

NOW = datetime(2026, 4, 1, tzinfo=UTC)
DISTRICT = "0b7e0000-0000-4000-8000-000000000001"
SCHOOL = "0b7e0000-0000-4000-8000-000000000002"


def _tenant(container: Container, code: str = "139999") -> int:
    with container.database.transaction() as session:
        return tenancy.create_tenant(session, code, "つなぐ市教育委員会").id


def _common(tenant_id: int, sourced_id: str, status: str = "active") -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "sourced_id": sourced_id,
        "status": status,
        "date_last_modified": NOW,
        "row_hash": "x",
    }


def _user(tenant_id: int, sourced_id: str, **values: Any) -> User:
    fields: dict[str, Any] = {
        "enabled_user": "true",
        "username": f"{sourced_id[-4:]}@school.example.jp",
        "given_name": "太郎",
        "family_name": "山田",
        "user_master_identifier": sourced_id.replace("0b7e", "3f1d"),
        "preferred_given_name": "太郎",
        "preferred_family_name": "山田",
        "kana_given_name": "タロウ",
        "kana_family_name": "ヤマダ",
        "primary_org_sourced_id": SCHOOL,
        **values,
    }
    status = fields.pop("status", "active")
    return User(**_common(tenant_id, sourced_id, status), **fields)


def _seed_small_roster(container: Container, tenant_id: int) -> None:
    with container.database.transaction() as session:
        session.add_all(
            [
                Org(
                    **_common(tenant_id, DISTRICT),
                    name="つなぐ市教育委員会",
                    type="district",
                    identifier="139999",
                    extra_metadata=None,  # stored as a JSON null
                ),
                Org(
                    **_common(tenant_id, SCHOOL),
                    name="つなぐ市立桜小学校",
                    type="school",
                    identifier="B113299990019",
                    parent_sourced_id=DISTRICT,
                ),
                # Inserted out of order: the export sorts by sourcedId.
                _user(
                    tenant_id,
                    "0b7e0000-0000-4000-8000-00000000000b",
                    kana_preferred_family_name="ヤマダ",
                    kana_preferred_given_name="タロウ",
                    extra_metadata={"metadata.tsunagu.note": '転入予定, "仮"'},
                ),
                _user(
                    tenant_id,
                    "0b7e0000-0000-4000-8000-00000000000a",
                    given_name="花子",
                    preferred_given_name="ハナ",
                    kana_given_name="ハナコ",
                    extra_metadata={"metadata.city.club": "合唱部"},
                ),
                _user(tenant_id, "0b7e0000-0000-4000-8000-00000000000c", status="tobedeleted"),
                Enrollment(
                    **_common(tenant_id, "0b7e0000-0000-4000-8000-0000000000e1"),
                    class_sourced_id="0b7e0000-0000-4000-8000-0000000000c1",
                    school_sourced_id=SCHOOL,
                    user_sourced_id="0b7e0000-0000-4000-8000-00000000000a",
                    role="student",
                    is_primary="false",
                    shusseki_no="7",
                ),
            ]
        )


def test_export_writes_the_profile_layout_and_keeps_extra_values(
    container: Container, tmp_path: Path
) -> None:
    tenant_id = _tenant(container)
    _seed_small_roster(container, tenant_id)
    result = export_roster(container, "139999", tmp_path / "v3.zip", profile=Profile.V3)
    assert result.counts == {
        "orgs": 2,
        "academicSessions": 0,
        "courses": 0,
        "classes": 0,
        "users": 2,
        "roles": 0,
        "enrollments": 1,
    }
    package = read_package(tmp_path / "v3.zip")
    assert package.manifest["oneroster.version"] == "1.2"
    assert check_manifest(package, "bulk") == []
    assert package.manifest["file.userProfiles"] == "absent"
    assert check_format(package) == []
    # v3 has no kana preferred names: they follow as extension columns, then unknown metadata.
    users_extra = [
        "metadata.jp.kanaPreferredFamilyName",
        "metadata.jp.kanaPreferredGivenName",
        "metadata.city.club",
        "metadata.tsunagu.note",
    ]
    assert check_headers(package, {"users": users_extra}) == []
    users = package.raw["users.csv"].decode().split("\r\n")
    assert users[1] == ",".join(
        f'"{v}"'
        for v in [
            "0b7e0000-0000-4000-8000-00000000000a",
            "",
            "",
            "true",
            "000a@school.example.jp",
            "",
            "花子",
            "山田",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "3f1d0000-0000-4000-8000-00000000000a",
            "",
            "ハナ",
            "",
            "山田",
            SCHOOL,
            "",
            "ハナコ",
            "ヤマダ",
            "",
            "",
            "",
            "",
            "合唱部",
            "",
        ]
    )
    assert users[2].endswith('"ヤマダ","タロウ","","転入予定, ""仮"""')
    assert len(users) == 4  # header, two active users, and the empty string after the last CRLF
    enrollments = package.rows["enrollments"]
    assert enrollments[0]["metadata.jp.ShussekiNo"] == "7"


def test_export_in_v6_spells_the_enrollment_metadata_in_lower_camel_case(
    container: Container, tmp_path: Path
) -> None:
    tenant_id = _tenant(container)
    _seed_small_roster(container, tenant_id)
    export_roster(container, "139999", tmp_path / "v6", profile=Profile.V6)
    package = read_package(tmp_path / "v6")
    assert package.manifest["oneroster.version"] == "1.2_JP"
    assert package.headers["enrollments"] == list(LAYOUTS["enrollments"].columns[Profile.V6])
    assert package.rows["enrollments"][0]["metadata.jp.shussekiNo"] == "7"
    # v6 has the kana preferred columns itself: only the unknown metadata is extra.
    assert package.headers["users"][-2:] == ["metadata.city.club", "metadata.tsunagu.note"]


def test_export_reproduces_a_stored_generated_roster(container: Container, tmp_path: Path) -> None:
    source = tmp_path / "source"
    generate_roster(GeneratorConfig(students=200, seed=11), source)
    generated = read_package(source)
    tenant_id = _tenant(container)
    with container.database.transaction() as session:
        insert_package(session, tenant_id, generated)
    export_roster(container, "139999", tmp_path / "export.zip", profile=Profile.V4)
    exported = read_package(tmp_path / "export.zip")
    assert exported.manifest == generated.manifest
    for name, content in generated.raw.items():
        if name == "manifest.csv":
            continue
        ours = exported.raw[name].decode().split("\r\n")
        theirs = content.decode().split("\r\n")
        assert ours[0] == theirs[0], name
        assert sorted(ours[1:]) == sorted(theirs[1:]), name
    # Another profile: the v4-only kana preferred names survive as extension columns.
    export_roster(container, "139999", tmp_path / "v3", profile=Profile.V3)
    v3 = read_package(tmp_path / "v3")
    assert check_rules(v3) == []
    assert v3.headers["users"][-2:] == [
        "metadata.jp.kanaPreferredFamilyName",
        "metadata.jp.kanaPreferredGivenName",
    ]
    assert {u["metadata.jp.kanaPreferredFamilyName"] for u in v3.rows["users"]} == {
        u["metadata.jp.kanaPreferredFamilyName"] for u in generated.rows["users"]
    }


def test_export_defaults_to_the_profile_of_the_last_applied_import(
    container: Container, tmp_path: Path
) -> None:
    tenant_id = _tenant(container)
    _seed_small_roster(container, tenant_id)
    assert export_roster(container, "139999", tmp_path / "a").profile is Profile.V4
    with container.database.transaction() as session:
        for profile, outcome, minute in (("v6", "applied", 1), ("v3", "rejected", 2)):
            at = NOW.replace(minute=minute)
            session.add(
                RosterImport(
                    tenant_id=tenant_id,
                    source_name="x.zip",
                    profile=profile,
                    dry_run=False,
                    outcome=outcome,
                    started_at=at,
                    finished_at=at,
                    error_count=0,
                    warning_count=0,
                    summary={},
                )
            )
    assert export_roster(container, "139999", tmp_path / "b").profile is Profile.V6


def test_cli_export_prints_json(container: Container, tmp_path: Path) -> None:
    tenant_id = _tenant(container)
    _seed_small_roster(container, tenant_id)
    runner = CliRunner()
    args = ["roster", "export", "--tenant", "139999", str(tmp_path / "o.zip"), "--json"]
    result = runner.invoke(app, args, obj=container)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output == {
        "path": str(tmp_path / "o.zip"),
        "profile": "v4",
        "counts": {
            "orgs": 2,
            "academicSessions": 0,
            "courses": 0,
            "classes": 0,
            "users": 2,
            "roles": 0,
            "enrollments": 1,
        },
    }
    result = runner.invoke(app, ["roster", "export", "--tenant", "999999", "x.zip"], obj=container)
    assert result.exit_code == 1


def _stored(container: Container, tenant_id: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Every stored roster row of a tenant, minus bookkeeping columns."""
    skip = {"tenant_id", "date_last_modified", "source_modified_at"}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with container.database.session() as session:
        for file_name, model in MODEL_BY_FILE.items():
            columns = [c for c in model.__table__.columns if c.name not in skip]
            rows = session.execute(
                select(*columns).where(columns[0].table.c.tenant_id == tenant_id)
            )
            out[file_name] = {r.sourced_id: dict(r._mapping) for r in rows}
    return out


@pytest.mark.parametrize("profile", list(Profile))
def test_round_trip_through_the_importer(
    container: Container, tmp_path: Path, profile: Profile
) -> None:
    """import → export → import into the emptied tenant reproduces the roster, byte for byte."""
    source = tmp_path / "source.zip"
    generate_roster(GeneratorConfig(students=150, seed=5, profile=profile), source)
    tenant = _tenant(container, "139999")
    assert import_roster(container, "139999", source).applied
    original = _stored(container, tenant)
    export_roster(container, "139999", tmp_path / "export.zip", profile=profile)

    # The board moves to a fresh system: the same tenant, no roster.
    with container.database.transaction() as session:
        for model in MODEL_BY_FILE.values():
            session.execute(delete(model).where(model.tenant_id == tenant))  # type: ignore[attr-defined]
    assert all(rows == {} for rows in _stored(container, tenant).values())

    result = import_roster(container, "139999", tmp_path / "export.zip")
    assert result.applied, [p.message_en for p in result.errors]
    assert result.warning_count == 0
    assert _stored(container, tenant) == original
    export_roster(container, "139999", tmp_path / "again.zip", profile=profile)
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "export.zip").read_bytes()
