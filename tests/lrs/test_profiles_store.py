"""Profile matches recorded at store time, strict mode over HTTP, and the CLI (both backends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, or_, select
from typer.testing import CliRunner

from tests.lrs.conftest import TENANT_A, TENANT_B, Cred, MakeCred, statement
from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.lrs.models import Statement
from tsunagu.lrs.profiles import service as profiles
from tsunagu.lrs.service import LrsError, record_statement
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy

ASSESSMENT = "https://w3id.org/japan-xapi/profiles/assessment"
ANSWERED = {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en": "answered"}}


def answered(score: dict[str, Any] | None = None) -> dict[str, Any]:
    s = statement(verb=ANSWERED)
    s["context"] = {**s["context"], "contextActivities": {"category": [{"id": ASSESSMENT}]}}
    if score is not None:
        s["result"] = {"score": score}
    return s


def unclaimed() -> dict[str, Any]:
    s = statement()
    s["context"] = {"platform": "つなぐ", "language": "ja-JP"}
    return s


GOOD_SCORE = {"scaled": 0.5, "raw": 5, "max": 10}


def rows(container: Container) -> list[tuple[str | None, str | None]]:
    """(template, rules) of every stored statement that claims a Japan profile."""
    s = Statement
    with container.database.session() as session:
        found = session.execute(
            select(s.profile_template, s.profile_rules)
            .where(or_(s.profile_template.is_not(None), s.profile_rules.is_not(None)))
            .order_by(s.seq)
        ).all()
    return [(r[0], r[1]) for r in found]


def stored_count(container: Container) -> int:
    with container.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Statement)) or 0)


def set_strict(container: Container, tenant: str, on: bool) -> None:
    with container.database.transaction() as session:
        profiles.set_strict(session, tenant, on)


def test_matches_are_recorded_per_statement(
    http: TestClient, cred: Cred, container: Container
) -> None:
    batch = [statement(), answered(GOOD_SCORE), answered({"scaled": 0.5}), unclaimed()]
    r = http.post("/xapi/statements", json=batch, headers=cred.headers())
    assert r.status_code == 200, r.text
    advice = (
        "assessment.answered.duration assessment.answered.grouping assessment.answered.response"
    )
    assert rows(container) == [
        ("lms.launched", None),
        ("assessment.answered", advice),
        (
            "assessment.answered",
            f"{advice} assessment.answered.score-max assessment.answered.score-raw",
        ),
    ]  # the unclaimed statement has NULLs: it matches no template
    # A repeated statement (idempotent) is not recorded twice.
    again = http.post(
        "/xapi/statements", json=[{**batch[0], "id": r.json()[0]}], headers=cred.headers()
    )
    assert again.status_code == 200
    assert len(rows(container)) == 3


def test_strict_mode_rejects_the_whole_batch_naming_rule_and_path(
    http: TestClient, cred: Cred, container: Container
) -> None:
    set_strict(container, TENANT_A, True)
    batch = [statement(), answered({"scaled": 0.5, "max": 10}), unclaimed()]
    r = http.post("/xapi/statements", json=batch, headers=cred.headers())
    assert r.status_code == 400
    body = r.json()
    assert body["rule"] == "assessment.answered.score-raw"
    assert body["path"] == "$[1].result.score.raw"
    assert "assessment.answered.score-raw" in body["message"]
    assert "strict" in body["message"]
    assert body["problems"][0]["rule"] == "assessment.answered.score-raw"
    assert "得点" in body["problems"][0]["message"]
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    assert stored_count(container) == 0
    assert rows(container) == []

    # PUT of one statement too; the actor's mbox names the actor rule.
    bad = {**statement(), "actor": {"objectType": "Agent", "mbox": "mailto:taro@example.jp"}}
    r = http.put(
        "/xapi/statements?statementId=6a1f3c2e-0c7b-4f7e-8d43-5f1f2c9e7a10",
        json=bad,
        headers=cred.headers(),
    )
    assert r.status_code == 400
    assert {p["rule"] for p in r.json()["problems"]} >= {"common.actor-no-mbox"}
    assert stored_count(container) == 0

    # Conforming and unclaimed statements still go in.
    r = http.post(
        "/xapi/statements",
        json=[statement(), answered(GOOD_SCORE), unclaimed()],
        headers=cred.headers(),
    )
    assert r.status_code == 200, r.text
    assert stored_count(container) == 3
    advice = (
        "assessment.answered.duration assessment.answered.grouping assessment.answered.response"
    )
    # Advice (recommended items missing) is never refused.
    assert rows(container) == [("lms.launched", None), ("assessment.answered", advice)]


def test_strict_mode_is_per_tenant_and_off_by_default(
    http: TestClient, make_cred: MakeCred, container: Container
) -> None:
    a, b = make_cred(TENANT_A), make_cred(TENANT_B)
    bad = [answered({"scaled": 0.5})]
    assert http.post("/xapi/statements", json=bad, headers=a.headers()).status_code == 200
    set_strict(container, TENANT_B, True)
    assert http.post("/xapi/statements", json=bad, headers=b.headers()).status_code == 400
    assert http.post("/xapi/statements", json=bad, headers=a.headers()).status_code == 200
    set_strict(container, TENANT_B, False)
    assert http.post("/xapi/statements", json=bad, headers=b.headers()).status_code == 200


@pytest.fixture
def run(settings: Settings, tmp_path: Path) -> Any:
    env = {
        "TSUNAGU_DATABASE_URL": settings.database_url,
        "TSUNAGU_SECRET_KEY": settings.secret_key,
        "TSUNAGU_VAR_DIR": str(tmp_path / "cli-var"),
        "TSUNAGU_BASE_URL": settings.base_url,
    }

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def test_strict_mode_cli(run: Any, tenants: tuple[str, str], container: Container) -> None:
    r = run("lrs", "strict-mode", "--tenant", TENANT_A, "--json")
    assert (r.exit_code, json.loads(r.stdout)) == (0, {"tenant": TENANT_A, "strict": False})
    r = run("lrs", "strict-mode", "--tenant", TENANT_A, "on")
    assert r.exit_code == 0, r.output
    with container.database.session() as session:
        assert profiles.get_strict(session, TENANT_A) is True
        assert profiles.get_strict(session, TENANT_B) is False
    r = run("lrs", "strict-mode", "--tenant", TENANT_A, "off", "--json")
    assert json.loads(r.stdout)["strict"] is False
    assert run("lrs", "strict-mode", "--tenant", TENANT_A, "maybe").exit_code == 1
    assert run("lrs", "strict-mode", "--tenant", "999999", "on").exit_code == 1


def test_profile_report_cli(
    run: Any, http: TestClient, make_cred: MakeCred, container: Container
) -> None:
    a, b = make_cred(TENANT_A), make_cred(TENANT_B)
    batch = [
        statement(),
        statement(),
        answered(GOOD_SCORE),
        answered({"scaled": 0.5}),
        unclaimed(),
        {**statement(), "verb": ANSWERED},  # claims LMS, no LMS template for answered
    ]
    assert http.post("/xapi/statements", json=batch, headers=a.headers()).status_code == 200
    # Another tenant's statements never count.
    assert http.post("/xapi/statements", json=[statement()], headers=b.headers()).status_code == 200

    r = run("lrs", "profile-report", "--tenant", TENANT_A, "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["total"] == 6
    assert report["claimed"] == 5
    assert report["matched"] == 4
    assert report["no_template"] == 2
    assert report["claimed_without_template"] == 1
    assert {t["template"]: (t["statements"], t["with_errors"]) for t in report["templates"]} == {
        "lms.launched": (2, 0),
        "assessment.answered": (2, 1),
    }
    by_rule = {x["rule"]: (x["severity"], x["statements"]) for x in report["rules"]}
    assert by_rule["assessment.answered.score-raw"] == ("error", 1)
    assert by_rule["assessment.answered.score-max"] == ("error", 1)
    assert by_rule["lms.no-template"] == ("error", 1)
    assert by_rule["assessment.answered.response"] == ("advice", 2)

    r = run("lrs", "profile-report", "--tenant", TENANT_A)
    assert r.exit_code == 0, r.output
    assert "lms.launched" in r.output
    assert "assessment.answered.score-raw" in r.output

    r = run(
        "lrs", "profile-report", "--tenant", TENANT_A, "--since", "2999-01-01T00:00:00Z", "--json"
    )
    later = json.loads(r.stdout)
    assert (later["total"], later["claimed"], later["templates"]) == (0, 0, [])
    r = run(
        "lrs",
        "profile-report",
        "--tenant",
        TENANT_A,
        "--since",
        "2000-01-01T00:00:00+09:00",
        "--json",
    )
    assert json.loads(r.stdout)["matched"] == 4
    assert run("lrs", "profile-report", "--tenant", TENANT_A, "--since", "yesterday").exit_code == 1
    assert run("lrs", "profile-report", "--tenant", "999999").exit_code == 1


def test_report_on_an_empty_tenant(container: Container, tenants: tuple[str, str]) -> None:
    with container.database.session() as session:
        report = profiles.build_report(session, TENANT_B)
        tenant_id = tenancy.get_tenant(session, TENANT_B).id
    assert tenant_id
    assert report.as_json()["total"] == 0
    assert report.no_template == 0


def test_strict_mode_applies_in_process_too(container: Container, tenants: tuple[str, str]) -> None:
    set_strict(container, TENANT_A, True)
    with container.database.session() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
    with pytest.raises(LrsError) as refused:
        record_statement(container, tenant_id, answered({"raw": 5, "max": 10}))
    assert refused.value.status == 400
    assert [(p.rule, p.path) for p in refused.value.problems] == [
        ("assessment.answered.score-scaled", "$[0].result.score.scaled")
    ]
    assert stored_count(container) == 0
