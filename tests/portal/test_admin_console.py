"""The administrators' console over HTTP: real sign-in, CSRF, policy, audit, tenant isolation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.identity.support import sign_in
from tests.portal.support import (
    BOARD_ADMIN,
    BOARD_CODE,
    CLASS_1_1,
    CLASS_5_1,
    CLASS_J1,
    ELEM,
    PUPIL,
    PUPIL_JUNIOR,
    TEACHER,
    TEACHER_JUNIOR,
    load_board,
)
from tests.roster.packages import OTHER_BOARD_CODE, uid, valid_roster, write_package
from tsunagu.app import create_app
from tsunagu.audit.models import AuditEvent
from tsunagu.container import Container
from tsunagu.identity import oidc, passwords
from tsunagu.identity.models import IdentityProvider, LocalPassword, QrCard, TotpSecret
from tsunagu.lrs import portal_statements as xapi
from tsunagu.lrs.models import Statement, StatementActivity, StatementAgent
from tsunagu.lrs.service import record_statement
from tsunagu.lti import registry
from tsunagu.lti.launch import create_resource_link
from tsunagu.lti.models import Deployment, Tool
from tsunagu.machine_credentials import utcnow
from tsunagu.roster.importer import import_roster
from tsunagu.tenancy.service import create_tenant, get_tenant

SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
JUNIOR = uid(f"{BOARD_CODE}:junior")
OTHER_PUPIL = uid(f"{OTHER_BOARD_CODE}:user:s1")
OTHER_CLASS = uid(f"{OTHER_BOARD_CODE}:class:5-1")


@pytest.fixture
def client(container: Container, tmp_path: Path) -> Iterator[TestClient]:
    load_board(container, tmp_path)
    with container.database.transaction() as session:
        create_tenant(session, OTHER_BOARD_CODE, "となり市教育委員会")
    other = write_package(tmp_path / "other.zip", valid_roster(OTHER_BOARD_CODE))
    assert import_roster(container, OTHER_BOARD_CODE, other).applied
    with TestClient(create_app(container=container)) as test_client:
        yield test_client


def tenant_id(container: Container, code: str = BOARD_CODE) -> int:
    with container.database.session() as session:
        return get_tenant(session, code).id


def post(client: TestClient, url: str, data: dict[str, Any] | None = None) -> Any:
    """A browser form post: carries the CSRF token of the client's cookie."""
    token = client.cookies.get("csrftoken")
    assert token
    return client.post(url, data={"csrftoken": token, **(data or {})}, follow_redirects=False)


def audit_actions(container: Container, code: str = BOARD_CODE) -> list[tuple[str, str, str]]:
    with container.database.session() as session:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == tenant_id(container, code))
            .order_by(AuditEvent.id)
        )
        return [(e.actor, e.action, e.target) for e in rows if not e.action.startswith("sign")]


def register_tool(container: Container, name: str = "さくさくドリル") -> str:
    with container.database.transaction() as session:
        tool = registry.register_tool(
            session,
            name=name,
            login_initiation_url="https://drill.example.com/login",
            redirect_uris=["https://drill.example.com/launch"],
            target_link_uri="https://drill.example.com/launch",
            jwks_url="https://drill.example.com/jwks",
            scopes=[SCORE],
        )
        return tool.client_id


def pending_registration(
    container: Container, code: str = BOARD_CODE, name: str = "自己登録"
) -> str:
    secret = container.settings.resolved_secret_key
    with container.database.transaction() as session:
        token = registry.create_registration_token(session, secret, code)
        tool, _ = registry.dynamic_register(
            session,
            secret,
            token,
            {
                "application_type": "web",
                "response_types": ["id_token"],
                "grant_types": ["implicit", "client_credentials"],
                "initiate_login_uri": "https://dr.example.com/login",
                "redirect_uris": ["https://dr.example.com/launch"],
                "client_name": name,
                "jwks_uri": "https://dr.example.com/jwks",
                "scope": f"{SCORE} {NRPS}",
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    "domain": "dr.example.com",
                    "target_link_uri": "https://dr.example.com/launch",
                    "claims": ["iss", "sub"],
                },
            },
        )
        return tool.client_id


def deployments(container: Container, client_id: str) -> dict[str, bool]:
    with container.database.session() as session:
        rows = session.scalars(
            select(Deployment)
            .join(Tool, Tool.id == Deployment.tool_id)
            .where(Tool.client_id == client_id)
        )
        return {d.deployment_id: d.active for d in rows}


def school_code(container: Container, school: str) -> str:
    from tsunagu.roster.models import Org

    with container.database.session() as session:
        org = session.get(Org, (tenant_id(container), school))
        assert org is not None
        assert org.identifier
        return org.identifier


# --- who may open what ---------------------------------------------------------------------------


PAGES = ["/admin/tools", "/admin/sign-in-settings", "/admin/cards", "/admin/users?q=山田"]


def test_board_admin_sees_every_page(client: TestClient, container: Container) -> None:
    register_tool(container)
    pending_registration(container)
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["cache-control"] == "no-store"
        for link in ("/admin/audit", "/admin/roster", "/admin/integrations", "/admin/users"):
            assert f'href="{link}"' in answer.text
    tools = client.get("/admin/tools").text
    assert "さくさくドリル" in tools
    assert "自己登録" in tools
    assert 'action="/admin/tools/approve"' in tools
    cards = client.get("/admin/cards").text
    assert "5年1組" in cards
    assert "1年1組" in cards
    assert f'action="/classes/{CLASS_5_1}/sign-in-cards"' in cards
    people = client.get("/admin/users?q=山田").text
    assert f'href="/admin/users/{PUPIL}"' in people
    assert client.get("/admin/users?q=" + "や" * 300).status_code == 200
    assert client.get("/admin/users/no-such-person").status_code == 404
    person = client.get(f"/admin/users/{PUPIL}")
    assert person.status_code == 200
    assert "ヤマダ タロウ" in person.text
    assert "5年1組" in person.text


@pytest.mark.parametrize("who", [TEACHER_JUNIOR, PUPIL])
def test_teachers_and_pupils_are_refused(
    client: TestClient, container: Container, who: str
) -> None:
    client_id = register_tool(container)
    sign_in(client, container, BOARD_CODE, who)
    for path in [*PAGES, f"/admin/users/{PUPIL}"]:
        assert client.get(path).status_code == 403, path
    assert (
        post(
            client, "/admin/tools/deploy", {"client_id": client_id, "target": "tenant"}
        ).status_code
        == 403
    )
    assert post(client, f"/admin/users/{PUPIL}/password").status_code == 403
    assert deployments(container, client_id) == {}
    assert audit_actions(container) == []


def test_signed_out_goes_to_sign_in(client: TestClient) -> None:
    answer = client.get("/admin/tools", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin?next=")


def test_school_admin_is_limited_to_their_school(client: TestClient, container: Container) -> None:
    client_id = register_tool(container)
    pending = pending_registration(container)
    sign_in(client, container, BOARD_CODE, TEACHER)  # the principal of みなみ小学校
    # Pages open, but the tenant-wide ones refuse.
    tools = client.get("/admin/tools")
    assert tools.status_code == 200
    assert pending not in tools.text  # approvals are the board's
    assert 'value="tenant"' not in tools.text
    assert "ひがし中学校" not in tools.text
    assert client.get("/admin/sign-in-settings").status_code == 403
    cards = client.get("/admin/cards").text
    assert CLASS_5_1 in cards
    assert CLASS_J1 not in cards
    # People: their school's, not the junior high's.
    assert PUPIL_JUNIOR not in client.get("/admin/users?q=高橋").text
    assert client.get(f"/admin/users/{PUPIL_JUNIOR}").status_code == 403
    assert client.get(f"/admin/users/{PUPIL}").status_code == 200
    with container.database.session() as session:
        before = session.get(LocalPassword, (tenant_id(container), PUPIL_JUNIOR))
    assert post(client, f"/admin/users/{PUPIL_JUNIOR}/password").status_code == 403
    assert post(client, f"/admin/users/{PUPIL_JUNIOR}/cards/revoke").status_code == 403
    assert post(client, f"/admin/cards/{CLASS_J1}/revoke").status_code == 403
    # A fellow administrator's credentials are the board's call.
    assert post(client, f"/admin/users/{BOARD_ADMIN}/totp-reset").status_code in (403, 404)
    with container.database.session() as session:
        assert session.get(LocalPassword, (tenant_id(container), PUPIL_JUNIOR)) == before
    # Deployments: to their own school only.
    refused = post(client, "/admin/tools/deploy", {"client_id": client_id, "target": "tenant"})
    assert refused.status_code == 403
    refused = post(
        client,
        "/admin/tools/deploy",
        {"client_id": client_id, "target": "schools", "school": JUNIOR},
    )
    assert refused.status_code == 403
    assert (
        post(client, "/admin/tools/approve", {"client_id": pending, "scope": SCORE}).status_code
        == 403
    )
    assert deployments(container, client_id) == {}
    done = post(
        client, "/admin/tools/deploy", {"client_id": client_id, "target": "schools", "school": ELEM}
    )
    assert done.status_code == 303
    elem_deployment = f"S_{school_code(container, ELEM)}"
    assert deployments(container, client_id) == {elem_deployment: True}
    # The board's own deployment is not theirs to stop.
    with container.database.transaction() as session:
        registry.deploy_tool(session, client_id, BOARD_CODE)
    stop_board = post(
        client,
        "/admin/tools/undeploy",
        {"client_id": client_id, "deployment_id": f"B_{BOARD_CODE}"},
    )
    assert stop_board.status_code == 403
    assert deployments(container, client_id)[f"B_{BOARD_CODE}"] is True
    stop_own = post(
        client, "/admin/tools/undeploy", {"client_id": client_id, "deployment_id": elem_deployment}
    )
    assert stop_own.status_code == 303
    assert deployments(container, client_id)[elem_deployment] is False
    assert [a[1] for a in audit_actions(container)] == ["lti.deploy", "lti.undeploy"]


# --- tools -------------------------------------------------------------------------------------


def test_board_admin_deploys_undeploys_approves_and_rejects(
    client: TestClient, container: Container
) -> None:
    client_id = register_tool(container)
    pending = pending_registration(container)
    other_pending = pending_registration(container, name="もう一つ")
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)

    # Bad input: 400 with the page, nothing changed.
    bad = post(client, "/admin/tools/deploy", {"client_id": client_id, "target": "everywhere"})
    assert bad.status_code == 400
    assert 'role="alert"' in bad.text
    bad = post(client, "/admin/tools/deploy", {"client_id": client_id, "target": "schools"})
    assert bad.status_code == 400
    bad = post(client, "/admin/tools/deploy", {"client_id": "no-such-tool", "target": "tenant"})
    assert bad.status_code == 400
    bad = post(client, "/admin/tools/deploy", {"client_id": pending, "target": "tenant"})
    assert bad.status_code == 400  # not approved yet
    assert deployments(container, client_id) == {}

    assert (
        post(
            client, "/admin/tools/deploy", {"client_id": client_id, "target": "tenant"}
        ).status_code
        == 303
    )
    both = post(
        client,
        "/admin/tools/deploy",
        {"client_id": client_id, "target": "schools", "school": [ELEM, JUNIOR]},
    )
    assert both.status_code == 303
    elem, junior = f"S_{school_code(container, ELEM)}", f"S_{school_code(container, JUNIOR)}"
    assert deployments(container, client_id) == {f"B_{BOARD_CODE}": True, elem: True, junior: True}
    page = client.get("/admin/tools").text
    assert "みなみ小学校" in page
    assert "ひがし中学校" in page
    assert (
        post(
            client, "/admin/tools/undeploy", {"client_id": client_id, "deployment_id": junior}
        ).status_code
        == 303
    )
    assert deployments(container, client_id)[junior] is False
    missing = post(
        client, "/admin/tools/undeploy", {"client_id": client_id, "deployment_id": "S_X"}
    )
    assert missing.status_code == 404

    # Approval: the administrator may grant fewer scopes than asked, never others.
    refused = post(
        client, "/admin/tools/approve", {"client_id": pending, "scope": [SCORE, LINEITEM]}
    )
    assert refused.status_code == 400
    with container.database.session() as session:
        assert registry.get_tool(session, pending, active_only=False).status == "pending"
    approved = post(client, "/admin/tools/approve", {"client_id": pending, "scope": SCORE})
    assert approved.status_code == 303
    with container.database.session() as session:
        tool = registry.get_tool(session, pending)
        assert tool.scopes == SCORE
    assert deployments(container, pending) == {f"B_{BOARD_CODE}": True}
    again = post(client, "/admin/tools/approve", {"client_id": pending, "scope": SCORE})
    assert again.status_code == 404
    assert post(client, "/admin/tools/reject", {"client_id": other_pending}).status_code == 303
    with container.database.session() as session:
        assert registry.get_tool(session, other_pending, active_only=False).status == "rejected"
    assert deployments(container, other_pending) == {}

    actions = audit_actions(container)
    assert [a[1] for a in actions] == [
        "lti.deploy",
        "lti.deploy",
        "lti.undeploy",
        "lti.approve",
        "lti.reject",
    ]
    assert all(actor == BOARD_ADMIN for actor, _, _ in actions)
    assert actions[3][2] == pending


def test_launch_figures_per_tool_and_school(client: TestClient, container: Container) -> None:
    client_id = register_tool(container)
    board = tenant_id(container)
    with container.database.transaction() as session:
        registry.deploy_tool(session, client_id, BOARD_CODE)
        deployment = session.scalar(select(Deployment).where(Deployment.tenant_id == board))
        assert deployment is not None
        links = {
            klass: create_resource_link(
                session,
                tenant_id=board,
                deployment=deployment,
                class_sourced_id=klass,
                title="分数",
            ).id
            for klass in (CLASS_5_1, CLASS_1_1, CLASS_J1)
        }

    def launch(klass: str) -> str:
        return record_statement(
            container,
            board,
            xapi.launched(
                container.settings,
                uid("someone"),
                xapi.PortalActivity(
                    id=f"{container.settings.base_url}/lti/resource-links/{links[klass]}",
                    name_ja="分数",
                    description_ja="さくさくドリル",
                ),
                grouping=f"{container.settings.base_url}/classes/{klass}",
            ),
        )

    for klass in (CLASS_5_1, CLASS_5_1, CLASS_1_1, CLASS_J1):
        launch(klass)
    old = launch(CLASS_J1)
    # Backdate the statement as the LRS would have stored it 20 days ago: its index rows carry
    # the same ``stored`` (the partition key).
    backdated = utcnow() - timedelta(days=20)
    with container.database.transaction() as session:
        seq = session.scalar(select(Statement.seq).where(Statement.statement_id == old))
        for table in (Statement, StatementActivity, StatementAgent):
            session.execute(update(table).where(table.seq == seq).values(stored=backdated))

    def figures(path: str) -> list[tuple[str, str, str]]:
        text = client.get(path).text
        body = text.split('id="stats-heading"', 1)[1]
        return re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>(\d+)</td></tr>", body)

    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    assert figures("/admin/tools?days=7") == [
        ("さくさくドリル", "つなぐ市立みなみ小学校", "3"),
        ("さくさくドリル", "つなぐ市立ひがし中学校", "1"),
    ]
    assert ("さくさくドリル", "つなぐ市立ひがし中学校", "2") in figures("/admin/tools?days=30")
    assert client.get("/admin/tools?days=99").status_code == 400
    # A school administrator sees their school's figures only.
    sign_in(client, container, BOARD_CODE, TEACHER)
    assert figures("/admin/tools?days=30") == [("さくさくドリル", "つなぐ市立みなみ小学校", "3")]


# --- sign-in settings ----------------------------------------------------------------------------


def test_identity_providers_are_added_and_removed(client: TestClient, container: Container) -> None:
    with container.database.transaction() as session:
        theirs = oidc.add_provider(
            session,
            container,
            tenant_code=OTHER_BOARD_CODE,
            kind="google",
            client_id="their-client",
            client_secret="their-secret",
            domains=["tonari.example.jp"],
        )
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    assert "their-client" not in client.get("/admin/sign-in-settings").text
    bad = post(
        client,
        "/admin/sign-in-settings/providers",
        {"kind": "google", "client_id": "ours", "client_secret": "s3cret"},
    )
    assert bad.status_code == 400
    assert 'value="ours"' in bad.text
    assert "s3cret" not in bad.text
    bad = post(
        client,
        "/admin/sign-in-settings/providers",
        {"kind": "facebook", "client_id": "x", "client_secret": "y"},
    )
    assert bad.status_code == 400
    with container.database.session() as session:
        assert oidc.list_providers(session, BOARD_CODE) == []
    added = post(
        client,
        "/admin/sign-in-settings/providers",
        {
            "kind": "google",
            "client_id": "ours",
            "client_secret": "s3cret",
            "domains": "tsunagu.example.jp",
        },
    )
    assert added.status_code == 303
    entra = post(
        client,
        "/admin/sign-in-settings/providers",
        {
            "kind": "microsoft",
            "client_id": "ms",
            "client_secret": "ms-secret",
            "entra_tenant_id": "00000000-0000-4000-8000-000000000001",
        },
    )
    assert entra.status_code == 303
    with container.database.session() as session:
        ours = oidc.list_providers(session, BOARD_CODE)
    assert [(p.kind, p.allowed_domains, p.allowed_tenant_ids) for p in ours] == [
        ("google", ("tsunagu.example.jp",), ()),
        ("microsoft", (), ("00000000-0000-4000-8000-000000000001",)),
    ]
    page = client.get("/admin/sign-in-settings").text
    assert "ours" in page
    assert "s3cret" not in page
    assert "/signin/oidc/callback" in page
    assert post(client, "/admin/sign-in-settings/providers/abc/delete").status_code == 404
    # Another tenant's provider cannot be removed from here.
    assert post(client, f"/admin/sign-in-settings/providers/{theirs.id}/delete").status_code == 404
    with container.database.session() as session:
        assert session.get(IdentityProvider, theirs.id) is not None
    assert post(client, f"/admin/sign-in-settings/providers/{ours[0].id}/delete").status_code == 303
    with container.database.session() as session:
        assert [p.kind for p in oidc.list_providers(session, BOARD_CODE)] == ["microsoft"]
    assert [a[1:] for a in audit_actions(container)] == [
        ("idp.add", str(ours[0].id)),
        ("idp.add", str(ours[1].id)),
        ("idp.remove", str(ours[0].id)),
    ]


# --- QR cards and credentials ------------------------------------------------------------------


def active_cards(container: Container, user: str, code: str = BOARD_CODE) -> int:
    with container.database.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(QrCard)
                .where(
                    QrCard.tenant_id == tenant_id(container, code),
                    QrCard.user_sourced_id == user,
                    QrCard.revoked_at.is_(None),
                )
            )
            or 0
        )


def test_class_cards_are_issued_and_revoked(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    issued = post(client, f"/classes/{CLASS_5_1}/sign-in-cards")
    assert issued.status_code == 200
    assert issued.headers["content-type"] == "application/pdf"
    assert active_cards(container, PUPIL) == 1
    row = client.get("/admin/cards").text.split(CLASS_5_1, 1)[1].split("</tr>", 1)[0]
    assert re.search(r"<td>3</td>\s*<td>3</td>", row), row
    assert post(client, f"/admin/cards/{CLASS_5_1}/revoke").status_code == 303
    assert active_cards(container, PUPIL) == 0
    assert post(client, f"/admin/cards/{OTHER_CLASS}/revoke").status_code == 404
    assert [a[1:] for a in audit_actions(container)] == [
        ("qr.issue", CLASS_5_1),
        ("qr.revoke", CLASS_5_1),
    ]


def test_credentials_are_reset(client: TestClient, container: Container) -> None:
    board = tenant_id(container)
    sign_in(client, container, BOARD_CODE, TEACHER)  # enrolls the principal's TOTP
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    page = client.get(f"/admin/users/{TEACHER}").text
    assert "学校管理者" in page
    assert "登録済み" in page

    # Password: a too-short one is refused and nothing changes; an empty one is generated.
    with container.database.session() as session:
        before = session.get(LocalPassword, (board, PUPIL))
        before_hash = before.password_hash if before else None
    short = post(client, f"/admin/users/{PUPIL}/password", {"new_password": "abc"})
    assert short.status_code == 400
    assert 'role="alert"' in short.text
    with container.database.session() as session:
        row = session.get(LocalPassword, (board, PUPIL))
        assert (row.password_hash if row else None) == before_hash
    generated = post(client, f"/admin/users/{PUPIL}/password")
    assert generated.status_code == 200
    assert generated.headers["cache-control"] == "no-store"
    shown = re.search(r'<code class="secret">([^<]+)</code>', generated.text)
    assert shown is not None
    with container.database.session() as session:
        row = session.get(LocalPassword, (board, PUPIL))
        assert row is not None
        assert passwords.verify(row.password_hash, shown.group(1))[0]

    # TOTP of the school administrator.
    assert post(client, f"/admin/users/{TEACHER}/totp-reset").status_code == 303
    with container.database.session() as session:
        assert session.get(TotpSecret, (board, TEACHER)) is None

    # A pupil's card: reissued as a one-card PDF, then revoked.
    card = post(client, f"/admin/users/{PUPIL}/cards/reissue")
    assert card.status_code == 200
    assert card.content.startswith(b"%PDF")
    assert active_cards(container, PUPIL) == 1
    assert "有効" in client.get(f"/admin/users/{PUPIL}").text
    assert post(client, f"/admin/users/{PUPIL}/cards/revoke").status_code == 303
    assert active_cards(container, PUPIL) == 0

    assert [a[1:] for a in audit_actions(container)] == [
        ("user.set_password", PUPIL),
        ("user.reset_totp", TEACHER),
        ("qr.reissue", PUPIL),
        ("qr.revoke", PUPIL),
    ]


def test_other_tenants_are_out_of_reach(client: TestClient, container: Container) -> None:
    their_pending = pending_registration(container, OTHER_BOARD_CODE, name="となりのツール")
    client_id = register_tool(container)
    with container.database.transaction() as session:
        registry.deploy_tool(session, client_id, OTHER_BOARD_CODE)
        registry.create_registration_token(
            session, container.settings.resolved_secret_key, BOARD_CODE
        )
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    tools = client.get("/admin/tools").text
    assert "となりのツール" not in tools
    assert f"B_{OTHER_BOARD_CODE}" not in tools
    assert post(client, "/admin/tools/approve", {"client_id": their_pending}).status_code == 404
    assert post(client, "/admin/tools/reject", {"client_id": their_pending}).status_code == 404
    stop = post(
        client,
        "/admin/tools/undeploy",
        {"client_id": client_id, "deployment_id": f"B_{OTHER_BOARD_CODE}"},
    )
    assert stop.status_code == 404
    assert deployments(container, client_id) == {f"B_{OTHER_BOARD_CODE}": True}
    # Same names in both boards: only ours are found.
    found = client.get("/admin/users?q=山田").text
    assert PUPIL in found
    assert OTHER_PUPIL not in found
    assert client.get(f"/admin/users/{OTHER_PUPIL}").status_code == 404
    assert post(client, f"/admin/users/{OTHER_PUPIL}/password").status_code == 404
    assert post(client, f"/admin/users/{OTHER_PUPIL}/cards/reissue").status_code == 404
    assert active_cards(container, OTHER_PUPIL, OTHER_BOARD_CODE) == 0
    with container.database.session() as session:
        assert (
            session.get(LocalPassword, (tenant_id(container, OTHER_BOARD_CODE), OTHER_PUPIL))
            is None
        )
        assert registry.get_tool(session, their_pending, active_only=False).status == "pending"
    assert audit_actions(container) == []
    assert audit_actions(container, OTHER_BOARD_CODE) == []


def test_state_changes_need_the_csrf_token(client: TestClient, container: Container) -> None:
    client_id = register_tool(container)
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    client.get("/admin/tools")
    for url, data in [
        ("/admin/tools/deploy", {"client_id": client_id, "target": "tenant"}),
        (f"/admin/users/{PUPIL}/cards/reissue", {}),
        (f"/admin/users/{PUPIL}/password", {"new_password": ""}),
    ]:
        answer = client.post(url, data=data, follow_redirects=False)
        assert answer.status_code == 403, url
        wrong = client.post(url, data={**data, "csrftoken": "forged"}, follow_redirects=False)
        assert wrong.status_code == 403, url
    assert deployments(container, client_id) == {}
    assert active_cards(container, PUPIL) == 0
    assert audit_actions(container) == []


def test_school_admin_cannot_touch_an_administrator(
    client: TestClient, container: Container
) -> None:
    from tsunagu.identity import operators

    sign_in(client, container, BOARD_CODE, TEACHER)
    assert 'action="/admin/users/' in client.get(f"/admin/users/{PUPIL}").text
    with container.database.transaction() as session:
        operators.grant(session, tenant_id(container), PUPIL)
    page = client.get(f"/admin/users/{PUPIL}")
    assert page.status_code == 200
    assert f'action="/admin/users/{PUPIL}/password"' not in page.text
    assert post(client, f"/admin/users/{PUPIL}/password").status_code == 403
    assert post(client, f"/admin/users/{PUPIL}/cards/reissue").status_code == 403
    assert active_cards(container, PUPIL) == 0
    assert audit_actions(container) == []


def test_console_speaks_english(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    english = client.get("/admin/tools", headers={"Accept-Language": "en"}).text
    assert "Registered tools and their deployments" in english
    assert "登録されているツールと配信先" not in english
    people = client.get(f"/admin/users/{PUPIL}", headers={"Accept-Language": "en"}).text
    assert "Sign-in methods" in people
