"""The whole loop with an independent tool: the PyLTI1p3 sample tool in its own process on
loopback, the platform served by uvicorn. Login initiation → authorization → id_token validated
by the library → NRPS with paging → AGS line item, score, results → Deep Linking response
accepted, and the tool's xAPI statements in the LRS."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.identity.support import sign_in
from tests.lti.support import load_roster, parse_form, query_of
from tests.lti.tool_process import free_port, run_tool, serve_platform
from tests.roster.packages import BOARD_CODE
from tsunagu.app import create_app
from tsunagu.container import Container, build_container
from tsunagu.lrs.credentials import create_credential
from tsunagu.lrs.models import Statement
from tsunagu.lti import launch, registry
from tsunagu.lti.models import Deployment, Result, Tool
from tsunagu.roster.models import User
from tsunagu.settings import Settings
from tsunagu_sample_tool.units import UNITS, problems

LAUNCH_ID = re.compile(r'data-launch-id="([^"]+)"')


def on_portal(url: str) -> str:
    """A portal URL as the test browser reaches it (its cookies belong to the test host)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def loop(database_url: str, tmp_path: Path) -> Any:
    platform_port, tool_port = free_port(), free_port()
    settings = Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        secret_key="interop-secret",
        base_url=f"http://127.0.0.1:{platform_port}",
        lti_nrps_page_size=2,  # four members in 5年1組: the tool must follow Link rel=next
    )
    container = build_container(settings)
    people = load_roster(container, tmp_path)
    with container.database.transaction() as session:
        lrs = create_credential(
            session, settings.resolved_secret_key, tenant_code=BOARD_CODE, name="計算ドリル"
        )
    tool_url = f"http://localhost:{tool_port}"
    base = settings.base_url
    config = {
        "issuer": base,
        "client_id": "drill-interop",
        "deployment_ids": [f"B_{BOARD_CODE}"],
        "auth_login_url": base + "/lti/authorize",
        "auth_token_url": base + "/lti/token",
        "key_set_url": base + "/lti/jwks",
        "tool_url": tool_url,
        "lrs": {"endpoint": base + "/xapi", "key": lrs.info.key, "secret": lrs.secret},
    }
    app = create_app(container=container)
    with (
        serve_platform(app, platform_port),
        run_tool(config, tmp_path / "tool", tool_port),
        TestClient(app, follow_redirects=False) as browser,
        httpx.Client(follow_redirects=False, timeout=30) as tool_browser,
    ):
        with container.database.transaction() as session:
            registry.register_tool(
                session,
                name="計算ドリル",
                client_id="drill-interop",
                login_initiation_url=tool_url + "/login",
                redirect_uris=[tool_url + "/launch"],
                target_link_uri=tool_url + "/launch",
                jwks_url=tool_url + "/jwks",
                deep_linking_url=tool_url + "/launch",
                scopes=["score", "lineitem", "result.readonly", "nrps"],
            )
            registry.deploy_tool(session, "drill-interop", BOARD_CODE)
        yield container, people, browser, tool_browser, tool_url
    container.close()


def _launch(browser: TestClient, tool_browser: httpx.Client, start: str) -> tuple[str, str]:
    """Portal start URL → tool login → platform authorization → tool launch: (launch id, page)."""
    started = browser.get(start)
    assert started.status_code == 303, started.text
    login = tool_browser.get(started.headers["location"])
    assert login.status_code == 302, login.text
    authorize = login.headers["location"]
    assert "/lti/authorize?" in authorize
    assert query_of(authorize)["prompt"] == "none"
    answer = browser.get(on_portal(authorize))
    action, fields = parse_form(answer.text)
    assert "id_token" in fields, fields
    launched = tool_browser.post(action, data=fields)
    assert launched.status_code == 200, launched.text
    found = LAUNCH_ID.search(launched.text)
    assert found is not None
    # The tool's own, independent check of the 標準モデル rules passes on every launch.
    assert 'data-japan-rules="ok"' in launched.text, launched.text
    return found.group(1), launched.text


def _place(container: Container, class_id: str, **kwargs: Any) -> str:
    with container.database.transaction() as session:
        tool = session.scalar(select(Tool).where(Tool.client_id == "drill-interop"))
        assert tool is not None
        deployment = session.scalars(
            select(Deployment).where(Deployment.tool_id == tool.id).order_by(Deployment.id.desc())
        ).first()
        assert deployment is not None
        return launch.create_resource_link(
            session,
            tenant_id=deployment.tenant_id,
            deployment=deployment,
            class_sourced_id=class_id,
            title="たし算",
            custom={"unit": "add-1"},
            **kwargs,
        ).id


def test_full_loop_with_pylti1p3_tool(loop: Any) -> None:
    container, people, browser, tool_browser, tool_url = loop
    people = people  # type: People

    # 1. A pupil launches a link placed in 5年1組; PyLTI1p3 validates the id_token.
    link = _place(container, people.homeroom)
    pupil = sign_in(browser, container, BOARD_CODE, people.students[0])
    launch_id, page = _launch(browser, tool_browser, f"/lti/launch/{link}")
    assert "たし算（くり上がりなし）" in page

    # 2. NRPS through the library: 4 members over 2 pages (page size 2).
    members = tool_browser.get(f"{tool_url}/api/members", params={"launch_id": launch_id})
    assert members.status_code == 200, members.text
    user_ids = sorted(m["user_id"] for m in members.json())
    with container.database.session() as session:
        expected = sorted(
            session.scalars(
                select(User.user_master_identifier).where(
                    User.sourced_id.in_([people.teacher, *people.students])
                )
            )
        )
    assert user_ids == expected
    assert all("name" not in m for m in members.json())  # names were not granted

    # 3. AGS: the tool finds-or-creates its line item, posts the score, reads results back.
    answers = {f"a{i}": str(answer) for i, (_, _, answer) in enumerate(problems(UNITS["add-1"]))}
    answers["a4"] = "999"  # one wrong
    submitted = tool_browser.post(
        f"{tool_url}/submit",
        data={"launch_id": launch_id, "unit": "add-1", **answers},
        headers={"Accept": "application/json"},
    )
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["score"] == 8
    assert [r["userId"] for r in body["results"]] == [pupil.user_master_identifier]
    assert body["results"][0]["resultScore"] == 8
    with container.database.session() as session:
        stored = session.scalars(select(Result)).one()
        assert stored.score_given == 8
        assert stored.grading_progress == "FullyGraded"

    # 4. A teacher deep-links a unit into a timetable period; the platform accepts the response.
    sign_in(browser, container, BOARD_CODE, people.teacher)
    start = (
        "/lti/deep-linking/start?client_id=drill-interop"
        f"&class={people.math}&placement=timetable:mon-1"
    )
    dl_launch, page = _launch(browser, tool_browser, start)
    assert "授業で使う単元" in page
    response_form = tool_browser.get(
        f"{tool_url}/deep-link", params={"launch_id": dl_launch, "unit": "mul-1"}
    )
    assert response_form.status_code == 200, response_form.text
    jwt_value = re.search(r'name="JWT" value="([^"]+)"', response_form.text)
    action = re.search(r'action="([^"]+)"', response_form.text)
    assert jwt_value is not None
    assert action is not None
    assert action.group(1).endswith("/lti/deep-linking/return")
    accepted = browser.post("/lti/deep-linking/return", data={"JWT": jwt_value.group(1)})
    assert accepted.status_code == 200, accepted.text
    assert "かけ算九九" in accepted.text
    with container.database.session() as session:
        placed = launch.resource_links_for(
            session, pupil.tenant_id, people.math, placement="timetable:mon-1"
        )
    assert [p.title for p in placed] == ["かけ算九九"]
    assert placed[0].custom == {"unit": "mul-1"}
    assert placed[0].line_item_id is not None  # lineItem from the DL response
    # The same response cannot be replayed.
    again = browser.post("/lti/deep-linking/return", data={"JWT": jwt_value.group(1)})
    assert again.status_code == 400

    # 5. A pupil of the math class takes the deep-linked unit: the score goes to its line item.
    sign_in(browser, container, BOARD_CODE, people.students[1])
    launch_id, page = _launch(browser, tool_browser, f"/lti/launch/{placed[0].id}")
    assert "かけ算九九" in page
    answers = {f"a{i}": str(a) for i, (_, _, a) in enumerate(problems(UNITS["mul-1"]))}
    submitted = tool_browser.post(
        f"{tool_url}/submit",
        data={"launch_id": launch_id, "unit": "mul-1", **answers},
        headers={"Accept": "application/json"},
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["score"] == 10
    with container.database.session() as session:
        result = session.scalar(select(Result).where(Result.line_item_id == placed[0].line_item_id))
        assert result is not None
        assert result.score_given == 10

    # 6. The LRS holds the portal's launches and scores and the tool's own statements.
    with container.database.session() as session:
        verbs = [
            s.payload["verb"]["id"].rsplit("/", 1)[-1] for s in session.scalars(select(Statement))
        ]
    assert verbs.count("launched") == 2  # resource-link launches only, not deep linking
    assert verbs.count("completed") == 4  # 2 AGS scores mirrored + 2 from the tool
    assert verbs.count("attempted") == 2  # the tool's


def test_tool_rejects_a_tampered_id_token(loop: Any) -> None:
    container, people, browser, tool_browser, _ = loop
    link = _place(container, people.homeroom)
    sign_in(browser, container, BOARD_CODE, people.students[0])
    started = browser.get(f"/lti/launch/{link}")
    login = tool_browser.get(started.headers["location"])
    action, fields = parse_form(browser.get(on_portal(login.headers["location"])).text)
    genuine = fields["id_token"]
    header, payload, signature = genuine.split(".")
    fields["id_token"] = ".".join([header, payload, signature[:-4] + "AAAA"])
    assert tool_browser.post(action, data=fields).status_code >= 400
    # Correctly signed by the platform but expired: the library refuses it too.
    import base64
    import json

    from tsunagu.lti.keys import sign_jwt

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["iat"] -= 3600
    claims["exp"] -= 3600
    fields["id_token"] = sign_jwt(container, claims)
    assert tool_browser.post(action, data=fields).status_code >= 400
    # And the genuine token is accepted (the refusals above were about the tokens).
    fields["id_token"] = genuine
    assert tool_browser.post(action, data=fields).status_code == 200


def test_tool_rejects_a_deployment_it_does_not_know(loop: Any) -> None:
    """The school gets its own deployment (S_…), which the tool was never told about."""
    from tests.roster.packages import school_code

    container, people, browser, tool_browser, _ = loop
    with container.database.transaction() as session:
        registry.deploy_tool(session, "drill-interop", BOARD_CODE, [school_code("B11321000001")])
    link = _place(container, people.homeroom)
    sign_in(browser, container, BOARD_CODE, people.students[0])
    started = browser.get(f"/lti/launch/{link}")
    assert query_of(started.headers["location"])["lti_deployment_id"].startswith("S_")
    login = tool_browser.get(started.headers["location"])
    action, fields = parse_form(browser.get(on_portal(login.headers["location"])).text)
    assert tool_browser.post(action, data=fields).status_code >= 400
