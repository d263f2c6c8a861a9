"""The in-process API for the portal's own statements: valid xAPI, matching the Japan templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.lrs.conftest import TENANT_A, Cred
from tsunagu.container import Container
from tsunagu.lrs import portal_statements as xapi
from tsunagu.lrs.models import Statement
from tsunagu.lrs.profiles import match_statement
from tsunagu.lrs.profiles import service as profiles
from tsunagu.lrs.profiles.matcher import check_rule
from tsunagu.lrs.profiles.vocabulary import GENERATIONS, Generation, load_vocabulary
from tsunagu.lrs.validation import validate_statement
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy

LEARNER = "8a0c4f0e-6a0e-4b7c-9a55-3c8e1b2d4f60"
TEACHER = "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"
WHEN = datetime(2026, 4, 15, 0, 23, tzinfo=UTC)
DUE = datetime(2026, 4, 22, 14, 59, tzinfo=UTC)
DRILL = xapi.PortalActivity(
    id="https://portal.example.jp/assignments/7c1e",
    name_ja="分数のかけ算 ドリル",
    description_ja="教科書 p.24 の練習問題",
    subject=("算数",),
    grade=("小学校第5学年",),
)


def settings_for(generation: Generation) -> Settings:
    return Settings(base_url="https://portal.example.jp", lrs_profile_namespace=generation)


def built(settings: Settings) -> dict[str, dict[str, Any]]:
    """template id (or 'none') -> the statement each builder makes."""
    return {
        "lms.launched": xapi.launched(settings, LEARNER, DRILL, when=WHEN),
        "lms.completed": xapi.completed(settings, LEARNER, DRILL, when=WHEN),
        "lms.created": xapi.created(settings, TEACHER, DRILL, due=DUE, when=WHEN),
        "lms.shared": xapi.assigned(settings, TEACHER, DRILL, due=DUE, when=WHEN),
        "assessment.completed": xapi.scored(
            settings,
            LEARNER,
            DRILL,
            raw=7,
            maximum=12,
            minimum=2,
            duration=timedelta(minutes=12, seconds=3.5),
            attempt="https://portal.example.jp/attempts/42",
            when=WHEN,
        ),
        "none": xapi.signed_in(settings, LEARNER, when=WHEN),
    }


@pytest.mark.parametrize("generation", GENERATIONS)
def test_builders_make_valid_statements_that_match_their_templates(generation: Generation) -> None:
    settings = settings_for(generation)
    vocabulary = load_vocabulary()
    for expected, statement in built(settings).items():
        assert validate_statement(statement, "1.0.3") == [], expected
        assert validate_statement(statement, "2.0.0") == [], expected
        match = match_statement(statement)
        if expected == "none":
            assert match.domain is None  # no Japan template for sign-in: claims no profile
            broken = [
                v
                for rule in vocabulary.common_rules
                for v in check_rule(statement, rule, vocabulary, generation)
            ]
            assert broken == []  # ...but follows the common rules all the same
            continue
        assert match.template == expected
        assert match.generation == generation
        assert match.violations == (), match.violations  # not even advice
        category = statement["context"]["contextActivities"]["category"][0]["id"]
        assert category == vocabulary.profiles[match.domain or ""].iri(generation)


def test_privacy_and_shape() -> None:
    settings = settings_for("japan-xapi")
    for statement in built(settings).values():
        assert statement["actor"] == {
            "objectType": "Agent",
            "account": {
                "homePage": "https://portal.example.jp",
                "name": statement["actor"]["account"]["name"],
            },
        }
        assert statement["timestamp"].endswith("+09:00")
    score = built(settings)["assessment.completed"]["result"]
    assert score == {
        "score": {"scaled": 0.5, "raw": 7, "max": 12, "min": 2},
        "completion": True,
        "duration": "PT723.50S",
    }
    feb = built(settings)["lms.shared"]["context"]["extensions"]
    assert feb == {
        "https://w3id.org/japan-xapi/extensions/due-date": "2026-04-22T23:59:00.000+09:00"
    }
    may = built(settings_for("xapi-japan-profiles"))["lms.shared"]["context"]["extensions"]
    assert may == {
        "https://w3id.org/xapi-japan-profiles/lms/extensions/due-date": {
            "start": "2026-04-15T09:23:00.000+09:00",
            "end": "2026-04-22T23:59:00.000+09:00",
        }
    }


def test_builders_refuse_bad_input() -> None:
    settings = settings_for("japan-xapi")
    with pytest.raises(ValueError, match="UUID"):
        xapi.launched(settings, "taro@example.jp", DRILL)
    with pytest.raises(ValueError, match="maximum"):
        xapi.scored(settings, LEARNER, DRILL, raw=1, maximum=0)
    with pytest.raises(ValueError, match="between"):
        xapi.scored(settings, LEARNER, DRILL, raw=11, maximum=10)
    with pytest.raises(ValueError, match="time zone"):
        xapi.launched(settings, LEARNER, DRILL, when=datetime(2026, 4, 15, 9, 0))


def test_record_stores_without_http_and_tags_the_template(
    container: Container, http: TestClient, cred: Cred, tenants: tuple[str, str]
) -> None:
    with container.database.transaction() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
        profiles.set_strict(session, TENANT_A, True)  # the portal's own statements pass strict
    ids = {
        name: xapi.record(container, tenant_id, s) for name, s in built(container.settings).items()
    }
    got = http.get(f"/xapi/statements?statementId={ids['lms.launched']}", headers=cred.headers())
    assert got.status_code == 200
    body = got.json()
    assert body["actor"]["account"] == {"homePage": container.settings.base_url, "name": LEARNER}
    assert body["authority"]["account"]["name"] == "tsunagu"
    with container.database.session() as session:
        templates = set(
            session.scalars(
                select(Statement.profile_template).where(Statement.profile_template.is_not(None))
            )
        )
    assert templates == {k for k in ids if k != "none"}
