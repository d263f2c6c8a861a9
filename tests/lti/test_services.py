"""Service access (client assertion tokens, scopes) and the NRPS / AGS endpoints."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import select

from tests.lti.support import People, register_tool, tool_jwt
from tests.lti.test_launch import place_link
from tests.roster.packages import BOARD_CODE, OTHER_BOARD_CODE
from tsunagu.container import Container
from tsunagu.lrs.models import Statement
from tsunagu.lti import vocabulary as v
from tsunagu.roster.models import User

TOKEN_URL = "https://portal.example.jp/lti/token"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def assertion(key: RSAKey, client_id: str, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return tool_jwt(key, claims)


def get_token(client: TestClient, key: RSAKey, client_id: str, scope: str, **changes: Any) -> Any:
    return client.post(
        "/lti/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION,
            "client_assertion": assertion(key, client_id, **changes),
            "scope": scope,
        },
    )


def bearer(client: TestClient, key: RSAKey, client_id: str, *scopes: str) -> dict[str, str]:
    response = get_token(client, key, client_id, " ".join(scopes))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_token_endpoint_checks_the_assertion(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    granted = get_token(client, tool_key, tool, f"{v.SCOPE_SCORE} {v.SCOPE_NRPS}")
    assert granted.status_code == 200
    body = granted.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == container.settings.lti_access_token_lifetime_seconds
    assert set(body["scope"].split()) == {v.SCOPE_SCORE, v.SCOPE_NRPS}
    assert granted.headers["cache-control"] == "no-store"

    other = RSAKey.generate_key(2048)
    failures = {
        "signature": get_token(client, other, tool, v.SCOPE_SCORE),
        "aud": get_token(client, tool_key, tool, v.SCOPE_SCORE, aud="https://elsewhere/token"),
        "expired": get_token(
            client,
            tool_key,
            tool,
            v.SCOPE_SCORE,
            exp=int(time.time()) - 300,
            iat=int(time.time()) - 400,
        ),
        "sub": get_token(client, tool_key, tool, v.SCOPE_SCORE, sub="someone-else"),
        "unknown": get_token(client, tool_key, "nobody", v.SCOPE_SCORE),
        "jti": get_token(client, tool_key, tool, v.SCOPE_SCORE, jti=""),
        "long-lived": get_token(
            client, tool_key, tool, v.SCOPE_SCORE, exp=int(time.time()) + 86400
        ),
    }
    for reason, response in failures.items():
        assert response.status_code == 401, reason
        assert response.json()["error"] == "invalid_client", reason
    # A replayed assertion (same jti) is refused.
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION,
        "client_assertion": assertion(tool_key, tool),
        "scope": v.SCOPE_SCORE,
    }
    assert client.post("/lti/token", data=form).status_code == 200
    assert client.post("/lti/token", data=form).status_code == 401
    wrong_grant = client.post("/lti/token", data={**form, "grant_type": "password"})
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


def test_scopes_are_limited_to_the_registration(
    client: TestClient, container: Container, people: People, tool_key: RSAKey
) -> None:
    narrow = register_tool(
        container,
        tool_key,
        client_id="score-only",
        scopes=("score",),
        base="https://narrow.example.com",
    )
    # Asking for more gets the permitted subset (pylti1p3 asks for everything at once).
    subset = get_token(
        client, tool_key, narrow, f"{v.SCOPE_SCORE} {v.SCOPE_NRPS} {v.SCOPE_LINEITEM}"
    )
    assert subset.status_code == 200
    assert subset.json()["scope"] == v.SCOPE_SCORE
    # Asking only for what was not granted is refused.
    refused = get_token(client, tool_key, narrow, v.SCOPE_NRPS)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    # And a token without the scope cannot call the service.
    headers = {"Authorization": f"Bearer {subset.json()['access_token']}"}
    url = f"/lti/services/{BOARD_CODE}/contexts/{people.homeroom}/memberships"
    denied = client.get(url, headers=headers)
    assert denied.status_code == 403
    assert "insufficient_scope" in denied.headers["www-authenticate"]
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_nrps_filters_and_pages(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    headers = bearer(client, tool_key, tool, v.SCOPE_NRPS)
    url = f"/lti/services/{BOARD_CODE}/contexts/{people.homeroom}/memberships"
    everyone = client.get(url, headers=headers)
    assert everyone.status_code == 200
    assert everyone.headers["content-type"].startswith(v.MEDIA_MEMBERSHIPS)
    body = everyone.json()
    assert body["context"]["title"] == "5年1組"
    assert len(body["members"]) == 4
    assert all(v.UUID4.fullmatch(m["user_id"]) for m in body["members"])
    assert all("name" not in m and "email" not in m for m in body["members"])
    learners = client.get(url, params={"role": "Learner"}, headers=headers).json()["members"]
    assert len(learners) == 3
    assert all(m["roles"] == [v.LEARNER] for m in learners)
    teachers = client.get(url, params={"role": v.INSTRUCTOR}, headers=headers).json()["members"]
    assert len(teachers) == 1
    # Paging: limit 3 → a next link that survives lower-casing (pylti1p3 2.0.0 quirk).
    first = client.get(url, params={"limit": 3}, headers=headers)
    assert len(first.json()["members"]) == 3
    link = first.headers["link"]
    assert 'rel="next"' in link
    next_url = link[link.index("<") + 1 : link.index(">")]
    assert next_url == next_url.lower()
    second = client.get(next_url.lower(), headers=headers)
    assert len(second.json()["members"]) == 1
    assert "link" not in second.headers
    seen = {m["user_id"] for m in first.json()["members"] + second.json()["members"]}
    assert len(seen) == 4
    # rlid: the members who can reach that link (here the class).
    link_id = place_link(container, tool, people.homeroom)
    assert len(client.get(url, params={"rlid": link_id}, headers=headers).json()["members"]) == 4
    assert client.get(url, params={"rlid": str(uuid.uuid4())}, headers=headers).status_code == 404
    # A class of another tenant, or unknown, does not exist for this tool.
    assert (
        client.get(
            f"/lti/services/{OTHER_BOARD_CODE}/contexts/{people.homeroom}/memberships",
            headers=headers,
        ).status_code
        == 404
    )
    assert client.get(url, params={"limit": 0}, headers=headers).status_code == 400


def test_ags_line_items_scores_results(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    headers = bearer(
        client, tool_key, tool, v.SCOPE_LINEITEM, v.SCOPE_SCORE, v.SCOPE_RESULT_READONLY
    )
    base = f"/lti/services/{BOARD_CODE}/contexts/{people.homeroom}/lineitems"
    created = client.post(
        base, json={"label": "小テスト", "scoreMaximum": 20, "tag": "quiz"}, headers=headers
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["id"].startswith("https://portal.example.jp" + base + "/")
    item_path = item["id"].removeprefix("https://portal.example.jp")
    assert client.get(base, headers=headers).json() == [item]
    assert client.get(base, params={"tag": "other"}, headers=headers).json() == []
    for bad in (
        {"label": "", "scoreMaximum": 1},
        {"label": "x", "scoreMaximum": 0},
        {"label": "x", "scoreMaximum": "10"},
        {"label": "x", "scoreMaximum": 5, "resourceLinkId": "nope"},
    ):
        assert client.post(base, json=bad, headers=headers).status_code == 400
    updated = client.put(
        item_path, json={"label": "小テスト改", "scoreMaximum": 10}, headers=headers
    )
    assert updated.json()["label"] == "小テスト改"

    with container.database.session() as session:
        pupil = session.scalar(select(User).where(User.sourced_id == people.students[0]))
        assert pupil is not None
    now = datetime.now(UTC)

    def score(when: datetime, given: float | None, **extra: Any) -> Any:
        body = {
            "userId": pupil.user_master_identifier,
            "timestamp": when.isoformat(timespec="milliseconds"),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            **({"scoreGiven": given, "scoreMaximum": 20} if given is not None else {}),
            **extra,
        }
        return client.post(item_path + "/scores", json=body, headers=headers)

    assert score(now, 15).status_code == 204
    # Older or equal timestamps do not replace the newer score.
    assert score(now - timedelta(seconds=5), 3).status_code == 409
    assert score(now, 3).status_code == 409
    results = client.get(item_path + "/results", headers=headers)
    assert results.headers["content-type"].startswith(v.MEDIA_RESULTS)
    assert results.json()[0]["resultScore"] == 7.5  # 15/20 on the line item's 10
    assert results.json()[0]["resultMaximum"] == 10
    # Progress without a score: the result stays, without resultScore.
    assert (
        score(
            now + timedelta(seconds=1),
            None,
            activityProgress="InProgress",
            gradingProgress="Pending",
        ).status_code
        == 204
    )
    assert "resultScore" not in client.get(item_path + "/results", headers=headers).json()[0]
    # A score awaiting manual grading is not a result score either.
    assert score(now + timedelta(seconds=2), 12, gradingProgress="PendingManual").status_code == 204
    assert "resultScore" not in client.get(item_path + "/results", headers=headers).json()[0]
    # Invalid scores are 400, never 500.
    for bad in (
        {"userId": pupil.user_master_identifier},
        {
            "userId": str(uuid.uuid4()),
            "timestamp": now.isoformat(),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
        },
        {
            "userId": pupil.user_master_identifier,
            "timestamp": "yesterday",
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
        },
        {
            "userId": pupil.user_master_identifier,
            "timestamp": (now + timedelta(seconds=9)).isoformat(),
            "activityProgress": "Done",
            "gradingProgress": "FullyGraded",
        },
        {
            "userId": pupil.user_master_identifier,
            "timestamp": (now + timedelta(seconds=9)).isoformat(),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "scoreGiven": 3,
        },
        [1, 2],
    ):
        assert client.post(item_path + "/scores", json=bad, headers=headers).status_code == 400, bad
    # Each accepted score is an Assessment-profile statement in the LRS.
    with container.database.session() as session:
        payloads = [s.payload for s in session.scalars(select(Statement))]
    assert len(payloads) == 3
    pending = [
        p
        for p in payloads
        if p["verb"]["id"].endswith("/completed") and "score" not in p.get("result", {})
    ]
    assert len(pending) == 1  # the PendingManual one carries no score
    completed = next(
        p
        for p in payloads
        if p["verb"]["id"].endswith("/completed") and "score" in p.get("result", {})
    )
    # The LRS's typed builder: min is sent only when it is not 0 (xapi-notes.md §1.5).
    assert completed["result"]["score"] == {"scaled": 0.75, "raw": 15, "max": 20}
    assert completed["actor"]["account"]["name"] == pupil.user_master_identifier
    assert completed["context"]["contextActivities"]["category"][0]["id"].endswith("/assessment")
    # Delete, then it is gone (and its results with it).
    assert client.delete(item_path, headers=headers).status_code == 204
    assert client.get(item_path, headers=headers).status_code == 404
    # Read-only scope cannot write.
    readonly = bearer(client, tool_key, tool, v.SCOPE_RESULT_READONLY)
    assert (
        client.post(base, json={"label": "x", "scoreMaximum": 1}, headers=readonly).status_code
        == 403
    )


def test_malformed_parameters_are_400_not_422(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    headers = bearer(client, tool_key, tool, v.SCOPE_NRPS)
    url = f"/lti/services/{BOARD_CODE}/contexts/{people.homeroom}/memberships"
    response = client.get(url, params={"limit": "many"}, headers=headers)
    assert response.status_code == 400
    assert "limit" in response.json()["error"]
    from tests.identity.support import sign_in

    sign_in(client, container, BOARD_CODE, people.teacher)
    assert client.get(f"/lti/deep-linking/start?client_id={tool}").status_code == 400


def test_expired_one_time_values_and_tokens_are_purged(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    from tsunagu.lti.launch import purge_expired, use_once
    from tsunagu.lti.models import AccessToken, UsedValue

    assert use_once(container, "nonce", "old", 60)
    assert not use_once(container, "nonce", "old", 60)  # still remembered
    bearer(client, tool_key, tool, v.SCOPE_NRPS)
    later = datetime.now(UTC) + timedelta(hours=2)
    with container.database.transaction() as session:
        assert purge_expired(session, later) >= 3  # the nonce, the jti, the token
    with container.database.session() as session:
        assert session.scalar(select(UsedValue.value)) is None
        assert session.scalar(select(AccessToken.token_hash)) is None


def test_extra_credit_scores_keep_raw_within_max() -> None:
    """AGS allows scoreGiven above scoreMaximum; xAPI wants raw within [min, max]: the statement
    reports the score given as the maximum (scaled 1), never a clipped raw score."""
    from datetime import UTC, datetime

    from tsunagu.lrs.validation import validate_statement
    from tsunagu.lrs.versions import V1
    from tsunagu.lti.statements import scored_statement
    from tsunagu.settings import Settings

    settings = Settings(base_url="https://portal.example.jp")
    learner = str(uuid.uuid4())
    when = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    extra = scored_statement(settings, learner, "https://x.example/li/1", "ドリル", 12, 10, when)
    assert extra["result"]["score"] == {"scaled": 1.0, "raw": 12, "max": 12}
    normal = scored_statement(settings, learner, "https://x.example/li/1", "ドリル", 7, 10, when)
    assert normal["result"]["score"] == {"scaled": 0.7, "raw": 7, "max": 10}
    for statement in (extra, normal):
        assert validate_statement(statement, V1) == []
