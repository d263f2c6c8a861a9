"""The fictitious municipality generator: determinism, format, and every §4 rule."""

from __future__ import annotations

import json
import random
import tracemalloc
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.roster.package_rules import (
    UUID4,
    check_format,
    check_headers,
    check_manifest,
    check_rules,
    merge,
    read_package,
    shusseki_no,
)
from tsunagu.cli import app
from tsunagu.roster.csv.codes import is_valid_school_code, make_school_code, school_code_check_digit
from tsunagu.roster.csv.layouts import Profile
from tsunagu.roster.generator import (
    DISTRICT_NAME,
    GeneratorConfig,
    generate_delta,
    generate_roster,
    plan_municipality,
    uuid4_from,
)


def generate(tmp_path: Path, name: str = "roster.zip", **config: object) -> Path:
    target = tmp_path / name
    generate_roster(GeneratorConfig(**config), target)  # type: ignore[arg-type]
    return target


@pytest.fixture(scope="module")
def demo_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("gen") / "demo.zip"
    generate_roster(
        GeneratorConfig(students=600, elementary_schools=2, junior_high_schools=1), target
    )
    return target


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path, "a.zip", students=150, seed=7)
    second = generate(tmp_path, "b.zip", students=150, seed=7)
    other = generate(tmp_path, "c.zip", students=150, seed=8)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_folder_and_zip_carry_the_same_files(tmp_path: Path) -> None:
    zipped = read_package(generate(tmp_path, "r.zip", students=120))
    folder = read_package(generate(tmp_path, "r", students=120))
    assert zipped.raw == folder.raw


def test_fast_uuid_equals_the_uuid_module() -> None:
    ours, reference = random.Random(42), random.Random(42)
    for _ in range(2000):
        assert uuid4_from(ours) == str(uuid.UUID(int=reference.getrandbits(128), version=4))


# -- identifiers -------------------------------------------------------------------------------


def test_school_code_check_digit() -> None:
    # B1 13 2 9999001: "02" "13" "2" "9999001" weighted 1,2,1,… -> digit sum 31 -> 9
    assert school_code_check_digit("B11329999001") == 9
    code = make_school_code("C1", "01", 1234567)
    assert code.startswith("C1012")
    assert is_valid_school_code(code)
    wrong = code[:12] + str((int(code[12]) + 1) % 10)
    assert not is_valid_school_code(wrong)
    assert not is_valid_school_code("B113299990019X")
    with pytest.raises(ValueError, match="学校コード"):
        school_code_check_digit("Z11329999001")


def test_every_school_code_is_valid_and_unique() -> None:
    plan = plan_municipality(GeneratorConfig(students=60_000))
    codes = [school.code for school in plan.schools]
    assert len(codes) == len(set(codes)) > 50
    assert all(is_valid_school_code(code) for code in codes)
    assert {code[:2] for code in codes} == {"B1", "C1"}
    assert {code[2:5] for code in codes} == {"132"}  # 東京都 (board 139999), 公立


def test_ids_are_lowercase_uuid4_and_unique(demo_zip: Path) -> None:
    package = read_package(demo_zip)
    ids = [row["sourcedId"] for rows in package.rows.values() for row in rows]
    masters = [row["userMasterIdentifier"] for row in package.rows["users"]]
    assert all(UUID4.match(i) for i in ids + masters)
    assert len(set(ids)) == len(ids)
    assert len(set(masters)) == len(masters) == len(package.rows["users"])


# -- format and rules, per profile -------------------------------------------------------------


@pytest.mark.parametrize("profile", list(Profile))
def test_bulk_package_obeys_the_japan_profile(tmp_path: Path, profile: Profile) -> None:
    package = read_package(generate(tmp_path, students=300, profile=profile, seed=3))
    assert package.profile is profile
    assert check_format(package) == []
    assert check_headers(package) == []
    assert check_manifest(package, "bulk") == []
    assert check_rules(package) == []


def test_the_rule_checker_catches_broken_packages(demo_zip: Path) -> None:
    # The checks above must be able to fail: break a copy in the ways the rules forbid.
    package = read_package(demo_zip)
    package.rows["users"][5]["metadata.jp.kanaGivenName"] = "ﾀﾛｳ"
    package.rows["enrollments"][1]["primary"] = "true"
    package.rows["users"][6]["metadata.jp.homeClass"] = str(uuid.uuid4())
    package.rows["courses"][0]["status"] = "active"
    package.rows["orgs"][1]["identifier"] = package.rows["orgs"][1]["identifier"][:12] + "0"
    problems = "\n".join(check_rules(package))
    for expected in (
        "not full-width katakana",
        "student enrollment is primary",
        "homeClass does not resolve",
        "bulk row with status",
        "check digit",
    ):
        assert expected in problems
    package.raw["users.csv"] = b"\xef\xbb\xbf" + package.raw["users.csv"].replace(b"\r\n", b"\n")
    assert len(check_format(package)) == 2


def test_the_district_and_the_school_year(demo_zip: Path) -> None:
    package = read_package(demo_zip)
    district = [o for o in package.rows["orgs"] if o["type"] == "district"]
    assert [(o["name"], o["identifier"]) for o in district] == [(DISTRICT_NAME, "139999")]
    assert len([o for o in package.rows["orgs"] if o["type"] == "school"]) == 3
    (session,) = package.rows["academicSessions"]
    assert (session["title"], session["startDate"], session["endDate"]) == (
        "2026年度",
        "2026-04-01",
        "2027-03-31",
    )
    titles = {c["title"] for c in package.rows["courses"]}
    assert {"2026年度国語", "2026年度算数", "2026年度数学", "2026年度ホームルーム"} <= titles


# -- the shape of the school -------------------------------------------------------------------


def test_homerooms_number_pupils_in_kana_order(demo_zip: Path) -> None:
    package = read_package(demo_zip)
    users = package.by_id("users")
    classes = package.by_id("classes")
    by_homeroom: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for enrollment in package.rows["enrollments"]:
        if enrollment["role"] == "student":
            assert enrollment["primary"] == "false"
            if classes[enrollment["classSourcedId"]]["classType"] == "homeroom":
                user = users[enrollment["userSourcedId"]]
                assert user["metadata.jp.homeClass"] == enrollment["classSourcedId"]
                by_homeroom[enrollment["classSourcedId"]].append(
                    (int(shusseki_no(enrollment)), user)
                )
    assert len(by_homeroom) == sum(c["classType"] == "homeroom" for c in classes.values())
    for members in by_homeroom.values():
        numbers = sorted(n for n, _ in members)
        assert numbers == list(range(1, len(members) + 1))
        assert 1 <= len(members) <= 35
        kana = [
            (u["metadata.jp.kanaFamilyName"], u["metadata.jp.kanaGivenName"])
            for _, u in sorted(members, key=lambda m: m[0])
        ]
        assert kana == sorted(kana)


def test_pupils_have_four_enrollments_and_classes_one_teacher_in_charge(demo_zip: Path) -> None:
    package = read_package(demo_zip)
    users = package.by_id("users")
    students = [u for u in users.values() if u["grades"]]
    assert len(students) == 600
    per_user = Counter(e["userSourcedId"] for e in package.rows["enrollments"])
    assert {per_user[s["sourcedId"]] for s in students} == {4}
    in_charge = Counter(
        e["classSourcedId"]
        for e in package.rows["enrollments"]
        if e["role"] == "teacher" and e["primary"] == "true"
    )
    assert set(in_charge.values()) == {1}
    assert set(in_charge) == {c["sourcedId"] for c in package.rows["classes"]}
    # The 担任 of a homeroom has it as homeClass.
    for enrollment in package.rows["enrollments"]:
        if enrollment["role"] == "teacher" and enrollment["primary"] == "true":
            cls = package.by_id("classes")[enrollment["classSourcedId"]]
            if cls["classType"] == "homeroom":
                assert (
                    users[enrollment["userSourcedId"]]["metadata.jp.homeClass"] == cls["sourcedId"]
                )


def test_roles_include_managers_and_one_district_administrator(demo_zip: Path) -> None:
    package = read_package(demo_zip)
    secondary = Counter(r["role"] for r in package.rows["roles"] if r["roleType"] == "secondary")
    assert secondary == {"principal": 3, "siteAdministrator": 3, "districtAdministrator": 1}
    primary = Counter(r["role"] for r in package.rows["roles"] if r["roleType"] == "primary")
    assert primary["student"] == 600
    assert primary["teacher"] == len(package.rows["users"]) - 600


@pytest.mark.parametrize(
    ("students", "schools"), [(100, 2), (600, 3), (5000, 15)], ids=["village", "town", "small-city"]
)
def test_size_drives_school_count_and_pupils_add_up(students: int, schools: int) -> None:
    plan = plan_municipality(GeneratorConfig(students=students))
    assert len(plan.schools) == schools
    assert sum(s.pupils for s in plan.schools) == students
    assert len({s.name for s in plan.schools}) == schools


def test_generation_streams_school_by_school(tmp_path: Path) -> None:
    # Holding the 16,000 enrollments of 4,000 pupils alone takes ~7 MB; streaming needs < 1 MB.
    tracemalloc.start()
    try:
        generate(tmp_path, students=4000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * 1024 * 1024


# -- delta -------------------------------------------------------------------------------------


def test_delta_package_shape(tmp_path: Path, demo_zip: Path) -> None:
    config = GeneratorConfig(students=600, elementary_schools=2, junior_high_schools=1)
    summary = generate_delta(config, tmp_path / "delta.zip", change_ratio=0.01)
    delta = read_package(tmp_path / "delta.zip")
    base = read_package(demo_zip)
    assert check_format(delta) == []
    assert check_headers(delta) == []
    assert check_manifest(delta, "delta") == []
    assert check_rules(delta, delta=True, base=base) == []
    assert {r["dateLastModified"] for rows in delta.rows.values() for r in rows} == {
        "2026-09-01T00:00:00.000Z"
    }
    merged = merge(base, delta)
    assert check_rules(merged) == []

    base_enrollments = base.by_id("enrollments")
    ended = [e for e in delta.rows["enrollments"] if e["status"] == "tobedeleted"]
    begun = [e for e in delta.rows["enrollments"] if e["status"] == "active"]
    assert all(
        base_enrollments[e["sourcedId"]] == {**e, "status": "", "dateLastModified": ""}
        for e in ended
    )
    assert not any(e["sourcedId"] in base_enrollments for e in begun)
    assert summary.base_enrollments == len(base_enrollments)
    assert summary.changed_enrollments == len(delta.rows["enrollments"])
    assert 0.005 <= summary.changed_enrollments / summary.base_enrollments <= 0.02

    base_users = base.by_id("users")
    withdrawn = [u for u in delta.rows["users"] if u["status"] == "tobedeleted"]
    assert len(withdrawn) == summary.withdrawals >= 1
    assert all(u["sourcedId"] in base_users for u in withdrawn)
    moved = [
        u
        for u in delta.rows["users"]
        if u["status"] == "active" and u["sourcedId"] in base_users and u["grades"]
    ]
    assert len(moved) == summary.transfers >= 1
    merged_classes = merged.by_id("classes")
    for user in moved:
        before = base_users[user["sourcedId"]]
        assert user["primaryOrgSourcedId"] != before["primaryOrgSourcedId"]
        assert user["userMasterIdentifier"] == before["userMasterIdentifier"]
        home = merged_classes[user["metadata.jp.homeClass"]]
        assert home["schoolSourcedId"] == user["primaryOrgSourcedId"]
        assert home["classType"] == "homeroom"
    new_pupils = [
        u for u in delta.rows["users"] if u["sourcedId"] not in base_users and u["grades"]
    ]
    assert len(new_pupils) == summary.new_pupils >= 1

    (renamed,) = delta.rows["classes"]
    assert renamed["title"] != base.by_id("classes")[renamed["sourcedId"]]["title"]
    # The change of 担任: a homeroom's teacher enrollment ends and a new teacher's begins.
    classes = base.by_id("classes")
    homeroom_changes = [
        e
        for e in delta.rows["enrollments"]
        if e["role"] == "teacher" and classes[e["classSourcedId"]]["classType"] == "homeroom"
    ]
    assert sorted(e["status"] for e in homeroom_changes) == ["active", "tobedeleted"]
    # Every pupil of the merged roster still has four enrollments and one homeroom.
    per_user = Counter(e["userSourcedId"] for e in merged.rows["enrollments"])
    students = [u for u in merged.rows["users"] if u["grades"]]
    assert {per_user[u["sourcedId"]] for u in students} == {4}
    numbers = defaultdict(list)
    for e in merged.rows["enrollments"]:
        if shusseki_no(e):
            numbers[e["classSourcedId"]].append(int(shusseki_no(e)))
    assert all(len(n) == len(set(n)) for n in numbers.values())


def test_delta_is_deterministic_and_scales_with_the_ratio(tmp_path: Path) -> None:
    config = GeneratorConfig(students=2000)
    generate_delta(config, tmp_path / "a.zip")
    generate_delta(config, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    small = generate_delta(config, tmp_path / "c", change_ratio=0.01)
    large = generate_delta(config, tmp_path / "d", change_ratio=0.05)
    assert 0.007 < small.changed_enrollments / small.base_enrollments < 0.015
    assert 0.04 < large.changed_enrollments / large.base_enrollments < 0.06


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_generate_and_generate_delta(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "roster",
            "generate",
            str(tmp_path / "r.zip"),
            "--students",
            "100",
            "--profile",
            "v6",
            "--seed",
            "5",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["profile"] == "v6"
    assert output["counts"]["users"] > 100
    assert read_package(tmp_path / "r.zip").manifest["oneroster.version"] == "1.2_JP"
    result = runner.invoke(
        app,
        [
            "roster",
            "generate-delta",
            str(tmp_path / "d.zip"),
            "--students",
            "100",
            "--seed",
            "5",
            "--change-ratio",
            "0.05",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    # A village has one school of each kind: nobody can transfer, pupils arrive and leave.
    changes = json.loads(result.stdout.strip().splitlines()[-1])["changes"]
    assert changes["transfers"] == 0
    assert changes["new_pupils"] >= 1
    result = runner.invoke(app, ["roster", "generate", str(tmp_path / "x"), "--board-code", "9"])
    assert result.exit_code == 1
