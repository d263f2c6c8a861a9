"""The launch flow through the platform's HTTP endpoints, with the tool's side played by the test;
every launch kind's id_token is checked against the Japan rules."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.identity.support import sign_in
from tests.lti.support import (
    TOOL_BASE,
    People,
    assert_japan_rules,
    auth_request,
    parse_form,
    query_of,
    verify_id_token,
)
from tests.roster.packages import BOARD_CODE
from tsunagu.container import Container
from tsunagu.lrs.models import Statement
from tsunagu.lti import launch
from tsunagu.lti import vocabulary as v
from tsunagu.lti.models import Deployment, Tool

ISSUER = "https://portal.example.jp"
REDIRECT = f"{TOOL_BASE}/launch"


def place_link(container: Container, client_id: str, class_id: str, **kwargs: Any) -> str:
    with container.database.transaction() as session:
        tool = session.scalar(select(Tool).where(Tool.client_id == client_id))
        assert tool is not None
        deployment = session.scalar(select(Deployment).where(Deployment.tool_id == tool.id))
        assert deployment is not None
        link = launch.create_resource_link(
            session,
            tenant_id=deployment.tenant_id,
            deployment=deployment,
            class_sourced_id=class_id,
            title=kwargs.pop("title", "たし算 1"),
            **kwargs,
        )
        return link.id


def run_launch(client: TestClient, start_url: str, **auth: Any) -> tuple[dict[str, str], Any]:
    """Start at a portal URL, play the tool's login step, return (initiation params, response)."""
    started = client.get(start_url)
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert location.startswith(f"{TOOL_BASE}/login?")
    initiation = query_of(location)
    response = client.get(
        "/lti/authorize", params=auth_request(initiation, redirect_uri=REDIRECT, **auth)
    )
    return initiation, response


def id_token_of(client: TestClient, response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    action, fields = parse_form(response.text)
    assert action == REDIRECT
    assert "error" not in fields, fields
    assert fields["state"] == "st-1"
    return verify_id_token(fields["id_token"], client.get("/lti/jwks").json())


def test_student_resource_link_launch(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom, custom={"unit": "add-1"})
    principal = sign_in(client, container, BOARD_CODE, people.students[0])
    initiation, response = run_launch(client, f"/lti/launch/{link}")
    assert initiation["iss"] == ISSUER
    assert initiation["lti_deployment_id"] == f"B_{BOARD_CODE}"
    assert initiation["client_id"] == tool
    assert initiation["target_link_uri"] == REDIRECT
    # The hints are opaque: no internal ids in clear.
    assert people.students[0] not in initiation["lti_message_hint"]
    assert people.students[0] not in initiation["login_hint"]
    claims = id_token_of(client, response)
    assert_japan_rules(claims, client_id=tool, issuer=ISSUER)
    assert claims["sub"] == principal.user_master_identifier
    assert claims[v.CLAIM_MESSAGE_TYPE] == v.RESOURCE_LINK_REQUEST
    assert claims[v.CLAIM_RESOURCE_LINK]["id"] == link
    assert claims[v.CLAIM_ROLES] == [v.STUDENT, v.LEARNER]
    assert claims[v.CLAIM_CONTEXT]["id"] == people.homeroom
    assert claims[v.CLAIM_CONTEXT]["title"] == "5年1組"
    assert claims[v.CLAIM_CUSTOM] == {
        "vendor": "drill",
        "unit": "add-1",
        "grade": "P5",
        "classname": "5年1組",
    }
    assert claims[v.CLAIM_NRPS]["context_memberships_url"].endswith(
        f"/lti/services/{BOARD_CODE}/contexts/{people.homeroom}/memberships"
    )
    assert claims[v.CLAIM_AGS]["lineitems"].endswith("/lineitems")
    assert "lineitem" not in claims[v.CLAIM_AGS]
    # Privacy by default: the registration did not ask for names or e-mail.
    for claim in ("name", "given_name", "family_name", "email"):
        assert claim not in claims
    # The launch is in the LRS as an LMS-profile "launched" statement with the UUID actor.
    with container.database.session() as session:
        statements = [s.payload for s in session.scalars(select(Statement))]
    launched = [s for s in statements if s["verb"]["id"].endswith("/launched")]
    assert len(launched) == 1
    assert launched[0]["actor"]["account"] == {
        "homePage": ISSUER,
        "name": principal.user_master_identifier,
    }


def test_guid_is_stable_per_tenant_and_names_only_when_asked(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    with container.database.transaction() as session:
        found = session.scalar(select(Tool).where(Tool.client_id == tool))
        assert found is not None
        found.send_name = True
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[1])
    first = id_token_of(client, run_launch(client, f"/lti/launch/{link}")[1])
    second = id_token_of(client, run_launch(client, f"/lti/launch/{link}")[1])
    assert first[v.CLAIM_TOOL_PLATFORM]["guid"] == second[v.CLAIM_TOOL_PLATFORM]["guid"]
    assert first["name"] == "田中 さくら"
    assert first["family_name"] == "田中"
    assert "email" not in first


def test_mexcbt_test_launch_carries_the_line_item(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(
        container,
        tool,
        people.math,
        title="単元テスト",
        line_item={"scoreMaximum": 10, "label": "単元テスト"},
    )
    sign_in(client, container, BOARD_CODE, people.students[2])
    claims = id_token_of(client, run_launch(client, f"/lti/launch/{link}")[1])
    assert_japan_rules(claims, client_id=tool, issuer=ISSUER)
    ags = claims[v.CLAIM_AGS]
    assert v.SCOPE_SCORE in ags["scope"]
    assert ags["lineitem"].startswith(ags["lineitems"] + "/")
    assert claims[v.CLAIM_CUSTOM]["classname"] == "5年算数"


def test_mexcbt_result_review_launch(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom, title="単元テスト")
    sign_in(client, container, BOARD_CODE, people.teacher)
    url = f"/lti/review/{link}?for_user={people.students[0]}&show_score=true&show_correct=false"
    claims = id_token_of(client, run_launch(client, url)[1])
    assert_japan_rules(claims, client_id=tool, issuer=ISSUER)
    custom = claims[v.CLAIM_CUSTOM]
    with container.database.session() as session:
        from tsunagu.roster.models import User

        pupil = session.scalar(select(User).where(User.sourced_id == people.students[0]))
        assert pupil is not None
    assert custom["for_user_id"] == pupil.user_master_identifier
    assert custom["for_roles"] == [v.STUDENT, v.LEARNER]
    assert custom["custom_show_score"] is True
    assert custom["custom_show_correct"] is False
    assert v.INSTRUCTOR in claims[v.CLAIM_ROLES]
    assert v.FACULTY in claims[v.CLAIM_ROLES]


def test_pupils_cannot_review_others(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[1])
    page = client.get(f"/lti/review/{link}?for_user={people.students[0]}")
    assert page.status_code == 403


def test_teacher_deep_linking_launch(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    sign_in(client, container, BOARD_CODE, people.teacher)
    url = f"/lti/deep-linking/start?client_id={tool}&class={people.math}&placement=timetable:mon-1"
    claims = id_token_of(client, run_launch(client, url)[1])
    assert_japan_rules(claims, client_id=tool, issuer=ISSUER)
    assert claims[v.CLAIM_MESSAGE_TYPE] == v.DEEP_LINKING_REQUEST
    assert v.CLAIM_RESOURCE_LINK not in claims
    settings = claims[v.CLAIM_DL_SETTINGS]
    assert settings["deep_link_return_url"] == f"{ISSUER}/lti/deep-linking/return"
    assert settings["data"]
    assert claims[v.CLAIM_ROLES][:2] == [v.FACULTY, v.INSTRUCTOR]
    # The elementary teacher is also principal: administrator roles come along.
    assert v.INSTITUTION_ADMIN in claims[v.CLAIM_ROLES]
    assert claims[v.CLAIM_CUSTOM]["grade"] == "P5"  # the class's grade for a teacher


def test_pupils_cannot_deep_link_or_open_other_classes(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    sign_in(client, container, BOARD_CODE, people.students[0])
    started = client.get(f"/lti/deep-linking/start?client_id={tool}&class={people.homeroom}")
    assert started.status_code == 403
    link = place_link(container, tool, people.junior_homeroom)
    assert client.get(f"/lti/launch/{link}").status_code == 403


def test_school_deployment_is_used_for_its_school(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    from tests.roster.packages import school_code
    from tsunagu.lti import registry

    code = school_code("B11321000001")
    with container.database.transaction() as session:
        registry.deploy_tool(session, tool, BOARD_CODE, [code])
    sign_in(client, container, BOARD_CODE, people.teacher)
    url = f"/lti/deep-linking/start?client_id={tool}&class={people.homeroom}"
    initiation, response = run_launch(client, url)
    assert initiation["lti_deployment_id"] == f"S_{code}"
    claims = id_token_of(client, response)
    assert claims[v.CLAIM_DEPLOYMENT_ID] == f"S_{code}"
    assert_japan_rules(claims, client_id=tool, issuer=ISSUER)


def test_iframe_launch_offers_platform_storage(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    import html
    import re

    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    page = client.get(f"/lti/launch/{link}?target=iframe")
    assert page.status_code == 200
    src = re.search(r'<iframe id="lti-tool-frame"[^>]*src="([^"]+)"', page.text)
    assert src is not None
    initiation = query_of(html.unescape(src.group(1)))
    assert initiation["lti_storage_target"] == "_parent"
    # Only the tool's own origin is answered.
    assert f'var allowed = ["{TOOL_BASE}"]' in page.text
    response = client.get("/lti/authorize", params=auth_request(initiation, redirect_uri=REDIRECT))
    claims = id_token_of(client, response)
    assert claims[v.CLAIM_LAUNCH_PRESENTATION]["document_target"] == "iframe"
    assert_japan_rules(claims, client_id=tool, issuer=ISSUER)
    # New window stays the default, without the storage target.
    assert "lti_storage_target" not in client.get(f"/lti/launch/{link}").headers["location"]


def test_launch_pages_carry_their_own_content_security_policy(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    import re

    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    _, response = run_launch(client, f"/lti/launch/{link}")
    policy = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in response.text
    assert f"form-action {TOOL_BASE};" in policy  # posts only to the tool
    framed = client.get(f"/lti/launch/{link}?target=iframe")
    assert f"frame-src {TOOL_BASE};" in framed.headers["content-security-policy"]


def test_teachers_review_only_their_class(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.teacher)
    # s4 is a junior-high pupil, not in 5年1組.
    assert client.get(f"/lti/review/{link}?for_user={people.junior_student}").status_code == 404


def test_login_initiation_by_post_form(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    page = client.get(f"/lti/launch/{link}?post=1")
    assert page.status_code == 200
    action, fields = parse_form(page.text)
    assert action == f"{TOOL_BASE}/login"
    assert fields["iss"] == ISSUER
    assert fields["lti_deployment_id"] == f"B_{BOARD_CODE}"
    response = client.post("/lti/authorize", data=auth_request(fields, redirect_uri=REDIRECT))
    assert_japan_rules(id_token_of(client, response), client_id=tool, issuer=ISSUER)
