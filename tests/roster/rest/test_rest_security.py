"""Bearer tokens, scopes and tenant isolation on the rostering endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from tsunagu.machine_credentials import keyed_hash
from tsunagu.oauth import service as oauth_service
from tsunagu.oauth.models import OAuthToken

API = "/ims/oneroster/rostering/v1p2"

ALL_COLLECTIONS = [
    ("/orgs", "orgs"),
    ("/schools", "orgs"),
    ("/academicSessions", "academicSessions"),
    ("/terms", "academicSessions"),
    ("/gradingPeriods", "academicSessions"),
    ("/courses", "courses"),
    ("/classes", "classes"),
    ("/users", "users"),
    ("/students", "users"),
    ("/teachers", "users"),
    ("/enrollments", "enrollments"),
]


def error_code(response: Any) -> str:
    field = response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    return str(field["imsx_codeMinorFieldValue"])


def test_requests_without_a_usable_token_are_401(api: Any) -> None:
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {api.token} extra"},
        {"Authorization": "Bearer " + "x" * 5000},
    ]
    for headers in cases:
        response = api.client.get(API + "/users", headers=headers)
        assert response.status_code == 401, headers
        assert error_code(response) == "unauthorisedrequest"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert api.token not in response.text
    bad = api.client.get(API + "/users", headers={"Authorization": "Bearer nope"})
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_auth_is_checked_before_parameters(api: Any) -> None:
    response = api.client.get(API + "/users?limit=0&filter=nonsense")
    assert response.status_code == 401


def test_core_scope_reaches_core_operations_only(api: Any, core_token: str) -> None:
    for path, _key in ALL_COLLECTIONS:
        assert api.get(path, token=core_token).status_code == 200, path
    assert api.get("/users/a-student-1", token=core_token).status_code == 200
    for path in (
        "/classes/a-class-hr/students",
        "/schools/a-school-1/classes",
        "/users/a-student-1/classes",
        "/terms/a-term-1/gradingPeriods",
    ):
        response = api.get(path, token=core_token)
        assert response.status_code == 403, path
        assert error_code(response) == "forbidden"
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert "roster.readonly" in challenge


def test_token_without_a_roster_scope_is_403(api: Any, container: Any) -> None:
    token = _fresh_token(container)
    with container.database.transaction() as session:
        session.execute(
            update(OAuthToken)
            .where(
                OAuthToken.token_hash == keyed_hash(container.settings.resolved_secret_key, token)
            )
            .values(scopes="https://purl.imsglobal.org/spec/lti-ags/scope/score")
        )
    response = api.get("/orgs", token=token)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"


def _fresh_token(container: Any) -> str:
    key = container.settings.resolved_secret_key
    with container.database.transaction() as session:
        created = oauth_service.create_client(
            session, key, tenant_code="131016", name="t", scopes=["roster.readonly"]
        )
        return oauth_service.issue_token(
            session,
            key,
            client_id=created.info.client_id,
            client_secret=created.secret,
            requested_scope=None,
            lifetime_seconds=600,
        ).access_token


def test_expired_token_is_401(api: Any, container: Any) -> None:
    token = _fresh_token(container)
    with container.database.transaction() as session:
        session.execute(
            update(OAuthToken)
            .where(
                OAuthToken.token_hash == keyed_hash(container.settings.resolved_secret_key, token)
            )
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = api.get("/orgs", token=token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoked_client_tokens_are_401(api: Any, container: Any) -> None:
    token = _fresh_token(container)
    with container.database.transaction() as session:
        client_id = oauth_service.list_clients(session, "131016")[-1].client_id
        oauth_service.revoke_client(session, client_id)
    assert api.get("/orgs", token=token).status_code == 401


def test_a_tenant_never_sees_another_tenants_rows(api: Any, api_b: Any) -> None:
    for path, key in ALL_COLLECTIONS:
        rows = api.get(path, limit=10000).json()[key]
        assert rows, path
        assert all(r["sourcedId"].startswith("a-") for r in rows), path
        b_rows = api_b.get(path, limit=10000).json()[key]
        assert not {r["sourcedId"] for r in b_rows} & {r["sourcedId"] for r in rows} - {
            "a-student-1"
        }, path
    assert api_b.ids("/users", "users") == ["a-student-1", "b-student-1", "b-teacher-1"]
    # The same sourcedId in two tenants is two different people.
    assert api.get("/users/a-student-1").json()["user"]["familyName"] == "鈴木"
    assert api_b.get("/users/a-student-1").json()["user"]["familyName"] == "別市"
    assert api.ids("/classes/a-class-hr/students", "users") == [
        "a-student-1",
        "a-student-2",
        "a-student-3",
    ]
    assert api_b.ids("/classes/b-class-hr/students", "users") == ["a-student-1", "b-student-1"]
    assert api.ids("/users/a-student-1/classes", "classes") == ["a-class-hr", "a-class-math"]
    assert api_b.ids("/users/a-student-1/classes", "classes") == ["b-class-hr"]


def test_another_tenants_ids_are_unknown(api: Any) -> None:
    for path in (
        "/orgs/b-school-1",
        "/schools/b-school-1",
        "/schools/b-school-1/classes",
        "/users/b-student-1",
        "/students/b-student-1",
        "/teachers/b-teacher-1/classes",
        "/classes/b-class-hr",
        "/classes/b-class-hr/students",
        "/courses/b-course-hr",
        "/terms/b-term-1",
        "/terms/b-term-1/classes",
        "/enrollments/b-enr-s1",
        "/academicSessions/b-sy-2026",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert error_code(response) == "unknownobject"


def test_filters_cannot_widen_the_tenant(api: Any) -> None:
    body = api.get("/users", filter="sourcedId='b-student-1' OR sourcedId!='zzz'").json()
    assert all(u["sourcedId"].startswith("a-") for u in body["users"])
    assert len(body["users"]) == 6
    assert api.ids("/enrollments", "enrollments", filter="school.sourcedId='b-school-1'") == []
