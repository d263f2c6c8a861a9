"""xAPI 1.0.3 Alternate Request Syntax: supported on 1.0.x, refused on 2.0."""

from __future__ import annotations

import json
import uuid

from fastapi.testclient import TestClient

from tests.lrs.conftest import Cred, statement


def _form(cred: Cred, version: str, **fields: str) -> dict[str, str]:
    auth = cred.headers()["Authorization"]
    return {"Authorization": auth, "X-Experience-API-Version": version, **fields}


def test_put_and_get_through_the_alternate_syntax(http: TestClient, cred: Cred) -> None:
    sid = str(uuid.uuid4())
    r = http.post(
        "/xapi/statements?method=PUT",
        data=_form(
            cred, "1.0.3",
            statementId=sid, content=json.dumps(statement()),
            **{"Content-Type": "application/json"},
        ),
    )  # fmt: skip
    assert r.status_code == 204, r.text
    r = http.post("/xapi/statements?method=GET", data=_form(cred, "1.0.3", statementId=sid))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == sid


def test_refused_on_2_0(http: TestClient, cred: Cred) -> None:
    r = http.post("/xapi/statements?method=GET", data=_form(cred, "2.0.0"))
    assert r.status_code == 400


def test_extra_query_parameters_are_not_rewritten(http: TestClient, cred: Cred) -> None:
    sid = str(uuid.uuid4())
    r = http.post(f"/xapi/statements?method=GET&statementId={sid}", data=_form(cred, "1.0.3"))
    assert r.status_code == 400


def test_real_headers_with_a_form_of_parameters(http: TestClient, cred: Cred) -> None:
    # As the ADL suite sends it: headers as headers, only the parameters in the form.
    r = http.post("/xapi/statements?method=GET", data={"limit": "1"}, headers=cred.headers())
    assert r.status_code == 200, r.text
    assert "statements" in r.json()
