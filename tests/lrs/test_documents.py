"""State, Activity Profile and Agent Profile documents; the Activities and Agents resources."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.lrs.conftest import TENANT_B, Cred, MakeCred, learner, statement

ACTIVITY = "https://portal.example.jp/assignments/7c1e"
AGENT = json.dumps(learner("alice"))


def _state(**extra: str) -> dict[str, str]:
    return {"activityId": ACTIVITY, "agent": AGENT, "stateId": "bookmark", **extra}


def test_state_put_get_post_merge_delete(http: TestClient, cred: Cred) -> None:
    h = cred.headers()
    r = http.put("/xapi/activities/state", params=_state(), json={"page": 3}, headers=h)
    assert r.status_code == 204, r.text
    r = http.get("/xapi/activities/state", params=_state(), headers=h)
    assert r.status_code == 200
    assert r.json() == {"page": 3}
    assert r.headers["ETag"].startswith('"')
    r = http.post("/xapi/activities/state", params=_state(), json={"zoom": 2}, headers=h)
    assert r.status_code == 204, r.text
    assert http.get("/xapi/activities/state", params=_state(), headers=h).json() == {
        "page": 3, "zoom": 2}  # fmt: skip
    listed = http.get(
        "/xapi/activities/state", params={"activityId": ACTIVITY, "agent": AGENT}, headers=h
    )
    assert listed.json() == ["bookmark"]
    since = http.get(
        "/xapi/activities/state",
        params={"activityId": ACTIVITY, "agent": AGENT, "since": "2999-01-01T00:00:00Z"},
        headers=h,
    )
    assert since.json() == []
    # Registration is part of the key.
    reg = _state(registration="6f2b9f4e-0d1c-4a3b-8e7f-112233445566")
    assert http.get("/xapi/activities/state", params=reg, headers=h).status_code == 404
    assert http.delete("/xapi/activities/state", params=_state(), headers=h).status_code == 204
    assert http.get("/xapi/activities/state", params=_state(), headers=h).status_code == 404


def test_state_requires_parameters_and_valid_json_merge(http: TestClient, cred: Cred) -> None:
    h = cred.headers()
    assert http.get("/xapi/activities/state", params={"activityId": ACTIVITY}, headers=h
                    ).status_code == 400  # fmt: skip
    bad_agent = {**_state(), "agent": "{}"}
    assert http.get("/xapi/activities/state", params=bad_agent, headers=h).status_code == 400
    assert http.put("/xapi/activities/state", params=_state(), content=b"plain",
                    headers={**h, "Content-Type": "text/plain"}).status_code == 204  # fmt: skip
    r = http.post("/xapi/activities/state", params=_state(), json={"a": 1}, headers=h)
    assert r.status_code == 400  # the stored document is not JSON
    r = http.post("/xapi/activities/state", params=_state(), content=b"[1]",
                  headers={**h, "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 400


def test_state_concurrency_on_2_0(http: TestClient, cred: Cred) -> None:
    h = cred.headers("2.0.0")
    assert http.put("/xapi/activities/state", params=_state(), json={"a": 1}, headers=h
                    ).status_code == 204  # fmt: skip
    # Overwriting without a precondition: 409 on 2.0, allowed on 1.0.3.
    assert http.put("/xapi/activities/state", params=_state(), json={"a": 2}, headers=h
                    ).status_code == 409  # fmt: skip
    etag = http.get("/xapi/activities/state", params=_state(), headers=h).headers["ETag"]
    r = http.put("/xapi/activities/state", params=_state(), json={"a": 3},
                 headers={**h, "If-Match": '"0000"'})  # fmt: skip
    assert r.status_code == 412
    r = http.put("/xapi/activities/state", params=_state(), json={"a": 3},
                 headers={**h, "If-Match": etag})  # fmt: skip
    assert r.status_code == 204
    r = http.put("/xapi/activities/state", params=_state(), json={"a": 4},
                 headers={**h, "If-None-Match": "*"})  # fmt: skip
    assert r.status_code == 412
    assert http.put("/xapi/activities/state", params=_state(), json={"a": 5},
                    headers=cred.headers("1.0.3")).status_code == 204  # fmt: skip


def test_activity_and_agent_profiles(http: TestClient, cred: Cred, make_cred: MakeCred) -> None:
    h = cred.headers()
    activity = {"activityId": ACTIVITY, "profileId": "settings"}
    r = http.put("/xapi/activities/profile", params=activity, json={"x": 1},
                 headers={**h, "If-None-Match": "*"})  # fmt: skip
    assert r.status_code == 204, r.text
    r = http.put("/xapi/activities/profile", params=activity, json={"x": 2}, headers=h)
    assert r.status_code == 409  # profiles need a precondition to overwrite, on 1.0.3 too
    assert http.get("/xapi/activities/profile", params=activity, headers=h).json() == {"x": 1}
    agent = {"agent": AGENT, "profileId": "prefs"}
    assert http.post("/xapi/agents/profile", params=agent, json={"lang": "ja"},
                     headers=h).status_code == 204  # fmt: skip
    assert http.get("/xapi/agents/profile", params={"agent": AGENT}, headers=h).json() == ["prefs"]
    assert http.delete("/xapi/agents/profile", params={"agent": AGENT}, headers=h
                       ).status_code == 400  # fmt: skip
    # Another tenant sees none of it.
    other = make_cred(TENANT_B).headers()
    assert http.get("/xapi/agents/profile", params=agent, headers=other).status_code == 404
    assert http.get("/xapi/activities/profile", params=activity, headers=other).status_code == 404
    # A credential without the profile scope cannot touch profiles.
    reader = make_cred("131016", "statements/read").headers()
    assert http.get("/xapi/agents/profile", params=agent, headers=reader).status_code == 403


def test_activities_and_agents_resources(http: TestClient, cred: Cred) -> None:
    h = cred.headers()
    assert http.post("/xapi/statements", json=statement(), headers=h).status_code == 200
    r = http.get("/xapi/activities", params={"activityId": ACTIVITY}, headers=h)
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    assert body["id"] == ACTIVITY
    assert body["definition"]["name"]["ja-JP"] == "分数のかけ算 ドリル"
    r = http.get("/xapi/activities", params={"activityId": "https://example.jp/unknown"}, headers=h)
    assert r.json() == {"objectType": "Activity", "id": "https://example.jp/unknown"}
    assert http.get("/xapi/activities", headers=h).status_code == 400
    r = http.get("/xapi/agents", params={"agent": AGENT}, headers=h)
    assert r.json() == {"objectType": "Person", "account": [learner("alice")["account"]]}
