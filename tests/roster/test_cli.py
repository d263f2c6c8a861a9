"""The ``tsunagu`` command as operators use it: JSON on stdout, problems on stderr, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.roster.conftest import snapshot
from tests.roster.packages import BOARD_CODE, OTHER_BOARD_CODE, valid_roster, write_package
from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.settings import Settings


@pytest.fixture
def cli(settings: Settings) -> CliRunner:
    return CliRunner(
        env={
            "TSUNAGU_DATABASE_URL": settings.resolved_database_url,
            "TSUNAGU_VAR_DIR": str(settings.var_dir),
            "TSUNAGU_SECRET_KEY": settings.secret_key,
        }
    )


def _tenant(cli: CliRunner, code: str, name: str) -> dict[str, object]:
    result = cli.invoke(app, ["tenant", "create", code, "--name", name, "--json"])
    assert result.exit_code == 0, result.stderr
    created: dict[str, object] = json.loads(result.stdout)
    return created


def test_tenant_create_prints_json_and_refuses_duplicates(cli: CliRunner) -> None:
    created = _tenant(cli, BOARD_CODE, "つなぐ市教育委員会")
    assert created["code"] == BOARD_CODE
    assert created["name"] == "つなぐ市教育委員会"
    assert isinstance(created["id"], int)

    again = cli.invoke(app, ["tenant", "create", BOARD_CODE, "--name", "x", "--json"])
    assert again.exit_code == 1
    assert again.stdout == ""
    assert "already exists" in again.stderr


def test_import_json_report_and_exit_codes(
    cli: CliRunner, container: Container, tmp_path: Path
) -> None:
    _tenant(cli, BOARD_CODE, "つなぐ市教育委員会")
    package = write_package(tmp_path / "ok.zip", valid_roster())

    dry = cli.invoke(
        app, ["roster", "import", str(package), "--tenant", BOARD_CODE, "--dry-run", "--json"]
    )
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["changes"]["users"]["added"] == 6
    assert all(rows == [] for rows in snapshot(container).values())

    done = cli.invoke(app, ["roster", "import", str(package), "--tenant", BOARD_CODE, "--json"])
    assert done.exit_code == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["applied"] is True
    assert body["changes"]["enrollments"]["added"] == 10
    before = snapshot(container)

    rows = valid_roster()
    rows["users"][3]["metadata.jp.kanaGivenName"] = "ｻｸﾗ"
    broken = write_package(tmp_path / "broken.zip", rows)
    report = tmp_path / "report.csv"
    refused = cli.invoke(
        app, ["roster", "import", str(broken), "--tenant", BOARD_CODE, "--report", str(report)]
    )
    assert refused.exit_code == 1
    assert "value.halfwidth_kana" in refused.stderr
    with open(report, encoding="utf-8-sig", newline="") as stream:
        reported = list(csv.DictReader(stream))
    assert [(r["severity"], r["file"], r["row"], r["column"]) for r in reported] == [
        ("error", "users.csv", "4", "metadata.jp.kanaGivenName")
    ]
    assert "半角カタカナ" in reported[0]["message_ja"]
    assert snapshot(container) == before


def test_a_board_cannot_import_another_boards_roster(
    cli: CliRunner, container: Container, tmp_path: Path
) -> None:
    _tenant(cli, BOARD_CODE, "つなぐ市教育委員会")
    _tenant(cli, OTHER_BOARD_CODE, "となり市教育委員会")
    package = write_package(tmp_path / "a.zip", valid_roster())
    result = cli.invoke(
        app, ["roster", "import", str(package), "--tenant", OTHER_BOARD_CODE, "--json"]
    )
    assert result.exit_code == 1
    rules = {p["rule"] for p in json.loads(result.stdout)["problems"]}
    assert "org.other_tenant" in rules
    assert all(rows == [] for rows in snapshot(container).values())


def test_unknown_tenant_and_missing_package_fail_cleanly(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["roster", "import", str(tmp_path), "--tenant", "999999"])
    assert result.exit_code == 1
    assert "No tenant with code 999999" in result.stderr
    _tenant(cli, BOARD_CODE, "つなぐ市教育委員会")
    missing = cli.invoke(
        app, ["roster", "import", str(tmp_path / "nope.zip"), "--tenant", BOARD_CODE, "--json"]
    )
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["problems"][0]["rule"] == "package.unreadable"


def test_dry_run_writes_the_changes_for_review(cli: CliRunner, tmp_path: Path) -> None:
    _tenant(cli, BOARD_CODE, "つなぐ市教育委員会")
    package = write_package(tmp_path / "ok.zip", valid_roster())
    changes = tmp_path / "changes.csv"
    result = cli.invoke(
        app,
        [
            "roster",
            "import",
            str(package),
            "--tenant",
            BOARD_CODE,
            "--dry-run",
            "--changes",
            str(changes),
        ],
    )
    assert result.exit_code == 0, result.stderr
    with open(changes, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {(r["file"], r["action"]) for r in rows} == {
        (name, "added")
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
    assert len(rows) == 3 + 1 + 3 + 3 + 6 + 7 + 10
    assert (rows[0]["file"], rows[0]["label"]) == ("orgs", "つなぐ市教育委員会")
