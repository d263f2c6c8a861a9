from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.lrs.conftest import Cred, statement


def test_put_then_get(http: TestClient, cred: Cred) -> None:
    sid = str(uuid.uuid4())
    r = http.put(f"/xapi/statements?statementId={sid}", json=statement(), headers=cred.headers())
    assert r.status_code == 204, r.text
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    r = http.get(f"/xapi/statements?statementId={sid}", headers=cred.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == sid
    assert body["authority"]["account"] == {
        "homePage": "https://portal.example.jp",
        "name": cred.key,
    }
    r = http.get("/xapi/statements", headers=cred.headers())
    assert r.status_code == 200, r.text
    assert [s["id"] for s in r.json()["statements"]] == [sid]
