"""Every permission boundary, tried through HTTP by someone who must be refused (issue 4 §3)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.identity.conftest import World, new_client
from tests.identity.support import sign_in
from tsunagu.container import Container


def _status(client: TestClient, path: str) -> int:
    return client.get(path, follow_redirects=False).status_code


def test_anonymous_is_sent_to_sign_in(client: TestClient, world: World) -> None:
    response = client.get(f"/classes/{world.teacher_class}/roster", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=%2Fclasses%2F")
    assert _status(client, "/me") == 303
    assert _status(client, "/admin/audit") == 303


def test_student_sees_only_themself(container: Container, client: TestClient, world: World) -> None:
    sign_in(client, container, world.tenant, world.pupil)
    assert _status(client, "/me") == 200
    assert _status(client, f"/user/{world.pupil}") == 200
    assert _status(client, f"/user/{world.other_pupil}") == 403
    assert _status(client, f"/user/{world.teacher}") == 403
    # Not even their own class's list of classmates.
    assert _status(client, f"/classes/{world.teacher_class}/roster") == 403
    assert _status(client, "/admin/audit") == 403
    assert _status(client, "/admin/audit.csv") == 403
    assert client.post(f"/classes/{world.teacher_class}/sign-in-cards", headers=_csrf(client))
    assert (
        client.post(
            f"/classes/{world.teacher_class}/sign-in-cards",
            headers=_csrf(client),
            follow_redirects=False,
        ).status_code
        == 403
    )


def _csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies.get("csrftoken") or ""}


def test_teacher_sees_only_their_classes(
    container: Container, client: TestClient, world: World
) -> None:
    sign_in(client, container, world.tenant, world.teacher)
    response = client.get(f"/classes/{world.teacher_class}/roster")
    assert response.status_code == 200
    assert _status(client, f"/classes/{world.other_class}/roster") == 403
    assert _status(client, f"/classes/{world.foreign_school_class}/roster") == 403
    assert _status(client, f"/user/{world.pupil}") == 200
    assert _status(client, f"/user/{world.other_pupil}") == 403
    assert _status(client, "/admin/audit") == 403
    refused = client.post(
        f"/classes/{world.other_class}/sign-in-cards", headers=_csrf(client), follow_redirects=False
    )
    assert refused.status_code == 403
    cards = client.post(f"/classes/{world.teacher_class}/sign-in-cards", headers=_csrf(client))
    assert cards.status_code == 200
    assert cards.headers["content-type"] == "application/pdf"
    assert cards.content.startswith(b"%PDF")
    roster = client.get(f"/classes/{world.teacher_class}/roster").text
    pupils = roster.count("<td>student</td>")
    assert pupils > 0
    # Ten cards to an A4 page.
    assert cards.content.count(b"/Type /Page\n") == -(-pupils // 10)


def test_school_admin_sees_only_their_school(
    container: Container, client: TestClient, world: World
) -> None:
    sign_in(client, container, world.tenant, world.school_admin)
    with container.database.session() as session:
        from sqlalchemy import select

        from tsunagu.roster.models import Class

        own = session.scalar(
            select(Class.sourced_id).where(
                Class.tenant_id == world.tenant_id,
                Class.school_sourced_id == world.admin_school,
            )
        )
    assert _status(client, f"/classes/{own}/roster") == 200
    assert _status(client, f"/classes/{world.foreign_school_class}/roster") == 403
    assert _status(client, "/admin/audit") == 403


def test_board_admin_administers_the_tenant_and_nothing_else(
    container: Container, client: TestClient, world: World
) -> None:
    sign_in(client, container, world.tenant, world.board_admin)
    assert _status(client, f"/classes/{world.foreign_school_class}/roster") == 200
    assert _status(client, f"/user/{world.other_pupil}") == 200
    assert _status(client, "/admin/audit") == 200
    export = client.get("/admin/audit.csv")
    assert export.status_code == 200
    assert "signin.success" in export.text
    # Another tenant's class and pupil do not exist from here.
    assert _status(client, f"/classes/{world.other_tenant_class}/roster") == 404
    assert _status(client, f"/user/{world.other_tenant_pupil}") == 404


def test_nobody_crosses_tenants(container: Container, world: World) -> None:
    with new_client(container) as other:
        sign_in(other, container, world.other_tenant, world.other_board_admin)
        assert _status(other, f"/classes/{world.other_tenant_class}/roster") == 200
        assert _status(other, f"/classes/{world.teacher_class}/roster") == 404
        assert _status(other, f"/user/{world.pupil}") == 404
        csv_text = other.get("/admin/audit.csv").text
        # The other tenant's log holds only its own people.
        assert world.board_admin not in csv_text
        assert world.other_board_admin in csv_text


def test_operator_role_is_granted_and_revoked_by_the_cli(
    container: Container, client: TestClient, world: World
) -> None:
    from typer.testing import CliRunner

    from tsunagu.cli import app as cli
    from tsunagu.identity.principal import PortalRole
    from tsunagu.identity.sessions import session_store

    runner = CliRunner()
    granted = runner.invoke(
        cli, ["user", "grant-operator", world.teacher, "--tenant", world.tenant], obj=container
    )
    assert granted.exit_code == 0, granted.output
    principal = sign_in(client, container, world.tenant, world.teacher)  # TOTP on the way
    assert PortalRole.OPERATOR in principal.roles
    assert _status(client, "/admin/audit") == 200
    assert _status(client, f"/classes/{world.foreign_school_class}/roster") == 200
    assert _status(client, f"/classes/{world.other_tenant_class}/roster") == 404
    revoked = runner.invoke(
        cli, ["user", "revoke-operator", world.teacher, "--tenant", world.tenant], obj=container
    )
    assert revoked.exit_code == 0, revoked.output
    # At the next roster refresh the open session loses the role.
    store = session_store(container)
    session_id = client.cookies.get("tsunagu_session") or ""
    data = store.load(session_id)
    assert data is not None
    data["principal_at"] = 0
    store.save(session_id, data, 600)
    assert _status(client, "/admin/audit") == 403
    assert _status(client, f"/classes/{world.teacher_class}/roster") == 200
