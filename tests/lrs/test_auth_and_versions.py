"""Credentials (Basic, scopes, revocation, tenancy) and the version header rules."""

from __future__ import annotations

import base64
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.lrs.conftest import TENANT_B, Cred, MakeCred, statement
from tsunagu.container import Container
from tsunagu.lrs import credentials


def _put(http: TestClient, cred: Cred, sid: str | None = None) -> str:
    sid = sid or str(uuid.uuid4())
    r = http.put(f"/xapi/statements?statementId={sid}", json=statement(), headers=cred.headers())
    assert r.status_code == 204, r.text
    return sid


def test_about_needs_no_auth_and_lists_versions(http: TestClient) -> None:
    r = http.get("/xapi/about")
    assert r.status_code == 200
    assert r.json()["version"] == ["1.0.3", "2.0.0"]
    assert isinstance(r.json()["extensions"], dict)
    assert r.headers["X-Experience-API-Version"] in ("1.0.3", "2.0.0")
    assert http.head("/xapi/about").status_code == 200
    # A 1.0.x client is only told of 1.0.3 (old clients reject unknown versions).
    r = http.get("/xapi/about", headers={"X-Experience-API-Version": "1.0.3"})
    assert r.json()["version"] == ["1.0.3"]
    r = http.get("/xapi/about", headers={"X-Experience-API-Version": "2.0.0"})
    assert r.json()["version"] == ["1.0.3", "2.0.0"]
    assert r.headers["X-Experience-API-Version"] == "2.0.0"


def test_missing_or_wrong_credentials_get_401_with_challenge(http: TestClient, cred: Cred) -> None:
    version = {"X-Experience-API-Version": "1.0.3"}
    wrong = Cred(cred.key, cred.secret + "x").headers()
    unknown = Cred("nobody", cred.secret).headers()
    garbage = {**version, "Authorization": "Basic %%%"}
    bearer = {**version, "Authorization": "Bearer abc"}
    no_colon = {**version, "Authorization": "Basic " + base64.b64encode(b"abc").decode()}
    for headers in (version, wrong, unknown, garbage, bearer, no_colon):
        r = http.get("/xapi/statements", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["WWW-Authenticate"] == 'Basic realm="xAPI"'
        assert r.headers["X-Experience-API-Version"] == "1.0.3"
        assert "message" in r.json()


def test_revoked_credentials_stop_working(
    http: TestClient, cred: Cred, container: Container
) -> None:
    assert http.get("/xapi/statements", headers=cred.headers()).status_code == 200
    with container.database.transaction() as session:
        credentials.revoke_credential(session, cred.key)
    http.app.state.lrs_verifier.clear()  # type: ignore[attr-defined]  # the 5 s cache
    assert http.get("/xapi/statements", headers=cred.headers()).status_code == 401


@pytest.mark.parametrize(
    ("scope", "can_write", "can_read"),
    [
        ("statements/write", True, False),
        ("statements/read", False, True),
        ("statements/read/mine", False, True),
        ("all/read", False, True),
        ("all", True, True),
        ("state", False, False),
        ("profile", False, False),
    ],
)
def test_scopes(
    http: TestClient, make_cred: MakeCred, scope: str, can_write: bool, can_read: bool
) -> None:
    limited = make_cred("131016", scope)
    sid = str(uuid.uuid4())
    r = http.put(f"/xapi/statements?statementId={sid}", json=statement(), headers=limited.headers())
    assert r.status_code == (204 if can_write else 403), r.text
    r = http.get("/xapi/statements", headers=limited.headers())
    assert r.status_code == (200 if can_read else 403), r.text


def test_read_mine_sees_only_its_own_statements(http: TestClient, make_cred: MakeCred) -> None:
    writer_a = make_cred("131016", "statements/write", "statements/read/mine", name="A")
    writer_b = make_cred("131016", "all", name="B")
    own = _put(http, writer_a)
    other = _put(http, writer_b)
    r = http.get("/xapi/statements", headers=writer_a.headers())
    assert [s["id"] for s in r.json()["statements"]] == [own]
    assert (
        http.get(f"/xapi/statements?statementId={own}", headers=writer_a.headers()).status_code
        == 200
    )
    r = http.get(f"/xapi/statements?statementId={other}", headers=writer_a.headers())
    assert r.status_code == 404
    # B reads everything of the tenant.
    r = http.get("/xapi/statements", headers=writer_b.headers())
    assert {s["id"] for s in r.json()["statements"]} == {own, other}


def test_tenant_isolation(http: TestClient, make_cred: MakeCred) -> None:
    a = make_cred()
    b = make_cred(TENANT_B)
    sid_a = _put(http, a)
    assert http.get(f"/xapi/statements?statementId={sid_a}", headers=b.headers()).status_code == 404
    assert http.get("/xapi/statements", headers=b.headers()).json()["statements"] == []
    verb = "http://adlnet.gov/expapi/verbs/launched"
    r = http.get("/xapi/statements", params={"verb": verb}, headers=b.headers())
    assert r.json()["statements"] == []
    # The same id in another tenant is a different statement, not a conflict.
    other = statement(verb={"id": "http://adlnet.gov/expapi/verbs/completed"})
    r = http.put(f"/xapi/statements?statementId={sid_a}", json=other, headers=b.headers())
    assert r.status_code == 204
    got = http.get(f"/xapi/statements?statementId={sid_a}", headers=a.headers()).json()
    assert got["verb"]["id"] == verb


def test_more_token_of_another_tenant_is_refused(http: TestClient, make_cred: MakeCred) -> None:
    a = make_cred()
    b = make_cred(TENANT_B)
    for _ in range(3):
        _put(http, a)
    more = http.get("/xapi/statements?limit=1", headers=a.headers()).json()["more"]
    assert more
    assert http.get(more, headers=a.headers()).status_code == 200
    assert http.get(more, headers=b.headers()).status_code == 400
    tampered = more[:-3] + ("AAA" if not more.endswith("AAA") else "BBB")
    assert http.get(tampered, headers=a.headers()).status_code == 400


@pytest.mark.parametrize(
    ("sent", "served"),
    [("1.0", "1.0.3"), ("1.0.0", "1.0.3"), ("1.0.2", "1.0.3"), ("1.0.3", "1.0.3"),
     ("2.0", "2.0.0"), ("2.0.0", "2.0.0")],
)  # fmt: skip
def test_accepted_versions(http: TestClient, cred: Cred, sent: str, served: str) -> None:
    r = http.get("/xapi/statements", headers={**cred.headers(), "X-Experience-API-Version": sent})
    assert r.status_code == 200
    assert r.headers["X-Experience-API-Version"] == served


@pytest.mark.parametrize("sent", [None, "", "0.9.5", "1.1.0", "3.0.0", "1.0.x", "2"])
def test_refused_versions(http: TestClient, cred: Cred, sent: str | None) -> None:
    headers = cred.headers()
    if sent is None:
        del headers["X-Experience-API-Version"]
    else:
        headers["X-Experience-API-Version"] = sent
    r = http.get("/xapi/statements", headers=headers)
    assert r.status_code == 400
    assert "X-Experience-API-Version" in r.headers
    assert "X-Experience-API-Version" in r.json()["message"]


def test_unknown_paths_and_methods_answer_in_xapi_format(http: TestClient, cred: Cred) -> None:
    r = http.get("/xapi/nothing", headers=cred.headers())
    assert r.status_code == 404
    assert r.headers["X-Experience-API-Version"]
    r = http.delete("/xapi/statements", headers=cred.headers())
    assert r.status_code == 405


def test_unversioned_response_version_is_a_setting(
    http: TestClient, cred: Cred, container: Container
) -> None:
    headers = cred.headers()
    del headers["X-Experience-API-Version"]
    assert http.get("/xapi/statements", headers=headers).headers[
        "X-Experience-API-Version"] == "1.0.3"  # fmt: skip
    container.settings.lrs_unversioned_response_version = "2.0.0"
    assert http.get("/xapi/statements", headers=headers).headers[
        "X-Experience-API-Version"] == "2.0.0"  # fmt: skip
