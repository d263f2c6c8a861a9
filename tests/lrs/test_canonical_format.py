"""``format=canonical``: activities carry the LRS's canonical definition, language-filtered
(xAPI 1.0.3 Part Three §2.1.3 "format")."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.lrs.conftest import Cred, statement

ITEM = "https://portal.example.jp/items/9"
UNIT = "https://portal.example.jp/units/3"


def about_item(name: dict[str, str], **definition: Any) -> dict[str, Any]:
    s = statement()
    s["object"] = {"objectType": "Activity", "id": ITEM, "definition": {"name": name, **definition}}
    s["context"] = {
        **s["context"],
        "contextActivities": {"parent": [{"id": UNIT, "definition": {"name": name}}]},
    }
    return s


def get(http: TestClient, cred: Cred, language: str, **params: str) -> Any:
    r = http.get(
        "/xapi/statements", params=params, headers={**cred.headers(), "Accept-Language": language}
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_canonical_uses_the_merged_definition(http: TestClient, cred: Cred) -> None:
    first = about_item({"ja-JP": "分数", "en-US": "Fractions"})
    later = about_item({"ja-JP": "分数のかけ算"}, description={"ja-JP": "第3問"})
    first_id = http.post("/xapi/statements", json=first, headers=cred.headers()).json()[0]
    http.post("/xapi/statements", json=later, headers=cred.headers())

    exact = get(http, cred, "en", statementId=first_id)
    assert exact["object"]["definition"] == {"name": {"ja-JP": "分数", "en-US": "Fractions"}}

    english = get(http, cred, "en", statementId=first_id, format="canonical")
    # The newer statement's description is part of the canonical definition now.
    assert english["object"]["definition"] == {
        "name": {"en-US": "Fractions"},
        "description": {"ja-JP": "第3問"},
    }
    assert english["context"]["contextActivities"]["parent"][0]["definition"] == {
        "name": {"en-US": "Fractions"}
    }
    japanese = get(http, cred, "ja-JP", statementId=first_id, format="canonical")
    assert japanese["object"]["definition"]["name"] == {"ja-JP": "分数のかけ算"}

    page = get(http, cred, "ja", format="canonical", activity=ITEM)["statements"]
    assert len(page) == 2
    assert all(s["object"]["definition"]["name"] == {"ja-JP": "分数のかけ算"} for s in page)
    # Agents stay as they were sent (exact).
    assert page[0]["actor"] == first["actor"]


def test_activities_without_a_definition_stay_as_sent(http: TestClient, cred: Cred) -> None:
    bare = statement()
    bare["object"] = {"objectType": "Activity", "id": "https://portal.example.jp/bare"}
    sid = http.post("/xapi/statements", json=bare, headers=cred.headers()).json()[0]
    got = get(http, cred, "ja", statementId=sid, format="canonical")
    assert got["object"] == {"objectType": "Activity", "id": "https://portal.example.jp/bare"}
