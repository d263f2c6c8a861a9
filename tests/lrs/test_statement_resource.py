"""The Statement resource: writes, immutability, voiding, malformed input, queries, paging."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.lrs.conftest import HOME, Cred, learner, statement
from tsunagu.container import Container

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def put(http: TestClient, cred: Cred, s: dict[str, Any], version: str = "1.0.3") -> Any:
    sid = s.get("id") or str(uuid.uuid4())
    return http.put(f"/xapi/statements?statementId={sid}", json=s, headers=cred.headers(version))


def post(http: TestClient, cred: Cred, body: Any, version: str = "1.0.3") -> Any:
    return http.post("/xapi/statements", json=body, headers=cred.headers(version))


def get(http: TestClient, cred: Cred, version: str = "1.0.3", **params: Any) -> Any:
    return http.get("/xapi/statements", params=params, headers=cred.headers(version))


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["statements"]]


def count_rows(container: Container) -> int:
    from sqlalchemy import func, select

    from tsunagu.lrs.models import Statement

    with container.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Statement)) or 0)


# --- writing ---------------------------------------------------------------------------------


def test_post_single_and_batch_return_ids_in_order(http: TestClient, cred: Cred) -> None:
    r = post(http, cred, statement())
    assert r.status_code == 200, r.text
    [generated] = r.json()
    assert uuid.UUID(generated)
    given = [str(uuid.uuid4()), str(uuid.uuid4())]
    r = post(http, cred, [statement(id=given[0]), statement(), statement(id=given[1])])
    assert r.status_code == 200
    returned = r.json()
    assert returned[0] == given[0]
    assert returned[2] == given[1]
    assert len(returned) == 3


def test_stored_statement_keeps_what_was_sent_plus_lrs_fields(http: TestClient, cred: Cred) -> None:
    sent = statement(id=str(uuid.uuid4()))
    assert put(http, cred, sent).status_code == 204
    got = get(http, cred, statementId=sent["id"]).json()
    assert got["actor"] == sent["actor"]
    assert got["object"] == sent["object"]
    assert got["timestamp"] == sent["timestamp"]  # 1.0.3: as sent
    assert got["version"] == "1.0.0"
    assert got["stored"].endswith("Z")
    assert got["authority"] == {
        "objectType": "Agent",
        "account": {"homePage": HOME, "name": cred.key},
    }
    # A single context activity comes back as an array (1.0.3 Part Two §2.4.6.2).
    assert got["context"]["contextActivities"]["category"] == [
        {"id": "https://w3id.org/japan-xapi/profiles/lms"}
    ]


def test_2_0_converts_timestamps_to_utc_and_sets_last_modified(
    http: TestClient, cred: Cred
) -> None:
    sent = statement(id=str(uuid.uuid4()))
    assert put(http, cred, sent, "2.0.0").status_code == 204
    r = get(http, cred, "2.0.0", statementId=sent["id"])
    assert r.headers["X-Experience-API-Version"] == "2.0.0"
    assert r.json()["timestamp"] == "2025-06-01T00:12:00.000Z"
    assert r.headers["Last-Modified"].endswith("GMT")
    assert r.headers["X-Experience-API-Consistent-Through"]


def test_same_id_same_content_is_idempotent_and_different_content_conflicts(
    http: TestClient, cred: Cred, container: Container
) -> None:
    sent = statement(id=str(uuid.uuid4()))
    assert put(http, cred, sent).status_code == 204
    # Same statement again (also with a different version/authority, and as the same instant).
    again = {**sent, "version": "1.0.3", "timestamp": "2025-06-01T00:12:00Z"}
    assert put(http, cred, again).status_code == 204
    assert post(http, cred, [sent]).status_code == 200
    changed = {**sent, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}}
    r = put(http, cred, changed)
    assert r.status_code == 409, r.text
    assert post(http, cred, [statement(), changed]).status_code == 409
    assert count_rows(container) == 1  # the batch was all-or-nothing


def test_put_id_must_match_statement_id(http: TestClient, cred: Cred) -> None:
    sid = str(uuid.uuid4())
    s = statement(id=str(uuid.uuid4()))
    r = http.put(f"/xapi/statements?statementId={sid}", json=s, headers=cred.headers())
    assert r.status_code == 400
    r = http.put("/xapi/statements", json=s, headers=cred.headers())
    assert r.status_code == 400
    r = http.put("/xapi/statements?statementId=nope", json=s, headers=cred.headers())
    assert r.status_code == 400


def test_invalid_batch_stores_nothing_and_reports_paths(
    http: TestClient, cred: Cred, container: Container
) -> None:
    bad = statement()
    bad["actor"]["account"]["homePage"] = "not an iri"
    r = post(http, cred, [statement(), bad])
    assert r.status_code == 400
    body = r.json()
    assert body["path"] == "$[1].actor.account.homePage"
    assert body["problems"][0]["path"] == "$[1].actor.account.homePage"
    assert count_rows(container) == 0


def test_context_agents_depend_on_version(http: TestClient, cred: Cred) -> None:
    s = statement()
    s["context"]["contextAgents"] = [
        {"objectType": "contextAgent", "agent": learner(), "relevantTypes": [HOME + "/t"]}
    ]
    assert post(http, cred, s, "1.0.3").status_code == 400
    assert post(http, cred, s, "2.0.0").status_code == 200


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"actor": NaN}', "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
        (json.dumps(statement()).encode(), "text/plain", 400),
        (json.dumps(statement()).encode(), "multipart/mixed; boundary=x", 400),
        (b"null", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_malformed_requests_get_400(
    http: TestClient, cred: Cred, content: bytes, content_type: str, status: int
) -> None:
    headers = {**cred.headers(), "Content-Type": content_type}
    r = http.post("/xapi/statements", content=content, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["X-Experience-API-Version"] == "1.0.3"
    assert "message" in r.json()


def test_oversize_body_gets_413(http: TestClient, cred: Cred, container: Container) -> None:
    limit = container.settings.lrs_max_body_bytes
    big = statement()
    big["result"] = {"response": "x" * (limit + 1)}
    r = http.post("/xapi/statements", content=json.dumps(big), headers={
        **cred.headers(), "Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413
    assert count_rows(container) == 0


def test_bad_query_parameters_get_400(http: TestClient, cred: Cred) -> None:
    for params in (
        {"foo": "1"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"ascending": "yes"},
        {"since": "yesterday"},
        {"registration": "x"},
        {"agent": "{not json"},
        {"agent": json.dumps({"name": "no ifi"})},
        {"format": "full"},
        {"statementId": str(uuid.uuid4()), "voidedStatementId": str(uuid.uuid4())},
        {"statementId": str(uuid.uuid4()), "verb": "http://example.jp/v"},
        {"more": "garbage"},
    ):
        r = get(http, cred, **params)
        assert r.status_code == 400, (params, r.text)


# --- voiding ---------------------------------------------------------------------------------


def test_voiding(http: TestClient, cred: Cred) -> None:
    target = statement(id=str(uuid.uuid4()))
    assert put(http, cred, target).status_code == 204
    voiding = statement(
        id=str(uuid.uuid4()),
        verb={"id": VOIDED, "display": {"en": "voided"}},
        object={"objectType": "StatementRef", "id": target["id"]},
    )
    del voiding["context"]
    assert put(http, cred, voiding).status_code == 204
    assert get(http, cred, statementId=target["id"]).status_code == 404
    r = get(http, cred, voidedStatementId=target["id"])
    assert r.status_code == 200
    assert r.json()["id"] == target["id"]
    assert get(http, cred, voidedStatementId=voiding["id"]).status_code == 404
    assert ids(get(http, cred)) == [voiding["id"]]
    # A voiding statement cannot itself be voided.
    again = {**voiding, "id": str(uuid.uuid4()), "object": {
        "objectType": "StatementRef", "id": voiding["id"]}}  # fmt: skip
    assert put(http, cred, again).status_code == 400


def test_statement_voided_before_it_arrives(http: TestClient, cred: Cred) -> None:
    target_id = str(uuid.uuid4())
    voiding = statement(verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": target_id})
    del voiding["context"]
    assert post(http, cred, voiding).status_code == 200
    assert put(http, cred, statement(id=target_id)).status_code == 204
    assert get(http, cred, statementId=target_id).status_code == 404
    assert get(http, cred, voidedStatementId=target_id).status_code == 200


# --- queries ---------------------------------------------------------------------------------


@pytest.fixture
def corpus(http: TestClient, cred: Cred) -> dict[str, str]:
    """Statements that each filter tells apart; name -> id."""
    alice, bob, teacher = learner("alice"), learner("bob"), learner("teacher")
    registration = "6f2b9f4e-0d1c-4a3b-8e7f-112233445566"
    made = {
        "alice_launch": statement(actor=alice),
        "bob_complete": statement(
            actor=bob, verb={"id": "http://adlnet.gov/expapi/verbs/completed"}
        ),
        "alice_reg": statement(
            actor=alice,
            context={
                "registration": registration,
                "instructor": teacher,
                "contextActivities": {"parent": [{"id": "https://example.jp/course"}]},
            },
            object={"id": "https://example.jp/quiz"},
        ),
        "teacher_about_bob": statement(actor=teacher, object={**bob, "objectType": "Agent"}),
    }
    out = {}
    for name, s in made.items():
        if name == "teacher_about_bob":
            s.pop("context")
        r = post(http, cred, s)
        assert r.status_code == 200, r.text
        out[name] = r.json()[0]
    return out


def test_query_filters(http: TestClient, cred: Cred, corpus: dict[str, str]) -> None:
    c = corpus
    everything = ids(get(http, cred))
    assert everything == [c["teacher_about_bob"], c["alice_reg"], c["bob_complete"],
                          c["alice_launch"]]  # fmt: skip
    assert ids(get(http, cred, ascending="true")) == everything[::-1]
    alice = json.dumps(learner("alice"))
    bob = json.dumps(learner("bob"))
    teacher = json.dumps(learner("teacher"))
    assert ids(get(http, cred, agent=alice)) == [c["alice_reg"], c["alice_launch"]]
    # An Agent object matches agent= (1.0.3 Part Three §2.1.3).
    assert ids(get(http, cred, agent=bob)) == [c["teacher_about_bob"], c["bob_complete"]]
    assert ids(get(http, cred, agent=teacher)) == [c["teacher_about_bob"]]
    assert ids(get(http, cred, agent=teacher, related_agents="true")) == [
        c["teacher_about_bob"], c["alice_reg"]]  # fmt: skip
    assert ids(get(http, cred, verb="http://adlnet.gov/expapi/verbs/completed")) == [
        c["bob_complete"]
    ]
    assert ids(get(http, cred, activity="https://example.jp/quiz")) == [c["alice_reg"]]
    assert ids(get(http, cred, activity="https://example.jp/course")) == []
    assert ids(
        get(http, cred, activity="https://example.jp/course", related_activities="true")
    ) == [c["alice_reg"]]
    assert ids(get(http, cred, registration="6F2B9F4E-0D1C-4A3B-8E7F-112233445566")) == [
        c["alice_reg"]
    ]
    launched = "http://adlnet.gov/expapi/verbs/launched"
    assert ids(get(http, cred, agent=bob, verb=launched)) == [c["teacher_about_bob"]]
    # Related agents include the authority (the credential).
    authority = json.dumps({"account": {"homePage": HOME, "name": cred.key}})
    assert len(ids(get(http, cred, agent=authority, related_agents="true"))) == 4
    assert ids(get(http, cred, agent=authority)) == []


def test_since_and_until(http: TestClient, cred: Cred, corpus: dict[str, str]) -> None:
    stored = get(http, cred, statementId=corpus["bob_complete"]).json()["stored"]
    newer = ids(get(http, cred, since=stored))
    assert corpus["bob_complete"] not in newer
    older = ids(get(http, cred, until=stored))
    assert corpus["bob_complete"] in older
    assert set(newer) | set(older) == set(corpus.values())
    assert ids(get(http, cred, since="2999-01-01T00:00:00Z")) == []


def test_format_ids_and_canonical(http: TestClient, cred: Cred, corpus: dict[str, str]) -> None:
    r = get(http, cred, format="ids", statementId=corpus["alice_launch"])
    s = r.json()
    assert s["verb"] == {"id": "http://adlnet.gov/expapi/verbs/launched"}
    assert s["object"] == {"id": "https://portal.example.jp/assignments/7c1e"}
    assert s["actor"] == {"objectType": "Agent", "account": {"homePage": HOME, "name": "alice"}}
    r = http.get(
        "/xapi/statements",
        params={"format": "canonical", "statementId": corpus["alice_launch"]},
        headers={**cred.headers(), "Accept-Language": "en"},
    )
    assert r.json()["verb"]["display"] == {"en": "launched"}
    assert r.json()["object"]["definition"]["name"] == {"en-US": "Fractions drill"}
    listed = get(http, cred, format="ids").json()["statements"]
    assert all("display" not in s["verb"] for s in listed)


def test_head_has_headers_and_no_body(http: TestClient, cred: Cred, corpus: dict[str, str]) -> None:
    r = http.head("/xapi/statements", headers=cred.headers())
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["X-Experience-API-Consistent-Through"]
    r = http.head(f"/xapi/statements?statementId={corpus['alice_launch']}", headers=cred.headers())
    assert r.status_code == 200
    assert r.content == b""


def test_limit_defaults_and_maximum(http: TestClient, cred: Cred, container: Container) -> None:
    container.settings.lrs_default_limit = 2
    container.settings.lrs_max_limit = 3
    post(http, cred, [statement() for _ in range(5)])
    assert len(ids(get(http, cred))) == 2
    assert len(ids(get(http, cred, limit=0))) == 3
    assert len(ids(get(http, cred, limit=50))) == 3
    assert len(ids(get(http, cred, limit=1))) == 1


@pytest.mark.parametrize("ascending", ["true", "false"])
def test_more_pages_have_no_gaps_or_duplicates_while_statements_arrive(
    http: TestClient, cred: Cred, ascending: str
) -> None:
    first = post(http, cred, [statement() for _ in range(7)]).json()
    seen: list[str] = []
    r = get(http, cred, limit=3, ascending=ascending)
    while True:
        page = r.json()
        seen.extend(s["id"] for s in page["statements"])
        # Statements keep arriving between pages: they must not shift what the pages return.
        post(http, cred, [statement()])
        if not page["more"]:
            break
        assert page["more"].startswith("/xapi/statements?more=")
        r = http.get(page["more"], headers=cred.headers())
        assert r.status_code == 200, r.text
    expected = first if ascending == "true" else first[::-1]
    assert seen == expected


def test_more_keeps_the_filters(http: TestClient, cred: Cred) -> None:
    alice = learner("alice")
    post(http, cred, [statement(actor=alice) for _ in range(3)] + [statement() for _ in range(3)])
    r = get(http, cred, agent=json.dumps(alice), limit=2)
    got = ids(r)
    got += ids(http.get(r.json()["more"], headers=cred.headers()))
    assert len(got) == 3
    assert len(set(got)) == 3


def test_consistent_through_on_failed_gets(http: TestClient, cred: Cred) -> None:
    r = get(http, cred, statementId=str(uuid.uuid4()), verb="http://example.jp/v")
    assert r.status_code == 400
    assert r.headers["X-Experience-API-Consistent-Through"]
    assert get(http, cred, statementId=str(uuid.uuid4())).headers[
        "X-Experience-API-Consistent-Through"
    ]


def test_activity_definitions_merge_language_maps(http: TestClient, cred: Cred) -> None:
    activity = "https://example.jp/meeting"
    for lang, name in (("en-US", "meeting"), ("ja-JP", "会議")):
        s = statement(object={"id": activity, "definition": {"name": {lang: name}}})
        assert post(http, cred, s).status_code == 200
    r = http.get("/xapi/activities", params={"activityId": activity}, headers=cred.headers())
    assert r.json()["definition"]["name"] == {"en-US": "meeting", "ja-JP": "会議"}


def test_activity_definitions_merge_within_a_batch(http: TestClient, cred: Cred) -> None:
    activity = "https://example.jp/meeting"
    batch = [
        statement(object={"id": activity, "definition": {"name": {lang: name}}})
        for lang, name in (("en-US", "meeting"), ("fr-FR", "réunion"))
    ]
    assert post(http, cred, batch).status_code == 200
    r = http.get("/xapi/activities", params={"activityId": activity}, headers=cred.headers())
    assert r.json()["definition"]["name"] == {"en-US": "meeting", "fr-FR": "réunion"}


def test_durations_compare_to_hundredths(http: TestClient, cred: Cred) -> None:
    sent = statement(id=str(uuid.uuid4()), result={"duration": "PT1.2345S"})
    assert put(http, cred, sent).status_code == 204
    assert put(http, cred, {**sent, "result": {"duration": "PT1.239S"}}).status_code == 204
    assert put(http, cred, {**sent, "result": {"duration": "PT1.25S"}}).status_code == 409


def test_statements_targeting_a_matching_statement_are_returned(
    http: TestClient, cred: Cred
) -> None:
    # 1.0.3 Part Three §2.1.3 "Filter Conditions for StatementRefs" (ADL XAPI-00162).
    verb = f"https://example.jp/verbs/{uuid.uuid4()}"
    target = statement(id=str(uuid.uuid4()), verb={"id": verb})
    assert put(http, cred, target).status_code == 204
    voiding = {"actor": learner(), "verb": {"id": VOIDED},
               "object": {"objectType": "StatementRef", "id": target["id"]}}  # fmt: skip
    ref = {"actor": learner(), "verb": {"id": "https://example.jp/verbs/commented"},
           "object": {"objectType": "StatementRef", "id": target["id"]}}  # fmt: skip
    voiding_id = post(http, cred, voiding).json()[0]
    ref_id = post(http, cred, ref).json()[0]
    post(http, cred, statement())  # matches nothing
    assert ids(get(http, cred, verb=verb)) == [ref_id, voiding_id]
    actor = json.dumps(target["actor"])
    assert set(ids(get(http, cred, agent=actor))) >= {ref_id, voiding_id}
    assert target["id"] not in ids(get(http, cred, agent=actor))


def test_1_0_3_readers_do_not_get_2_0_context_properties(http: TestClient, cred: Cred) -> None:
    s = statement(id=str(uuid.uuid4()))
    s["context"]["contextAgents"] = [
        {"objectType": "contextAgent", "agent": learner(), "relevantTypes": [HOME + "/t"]}
    ]
    assert put(http, cred, s, "2.0.0").status_code == 204
    v2 = get(http, cred, "2.0.0", statementId=s["id"]).json()
    assert v2["context"]["contextAgents"] == s["context"]["contextAgents"]
    v1 = get(http, cred, "1.0.3", statementId=s["id"]).json()
    assert "contextAgents" not in v1["context"]
    assert v1["context"]["platform"] == "つなぐ"
    listed = get(http, cred, "1.0.3").json()["statements"]
    assert all("contextAgents" not in x["context"] for x in listed)
