"""Local passwords, QR sign-in cards, TOTP for administrators, lockout and rate limits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.identity.conftest import World, new_client, username_of
from tests.identity.support import TEST_PASSWORD, csrf_token, sign_in, totp_code_for
from tsunagu.audit import service as audit_service
from tsunagu.cli import app as cli
from tsunagu.container import Container, build_container
from tsunagu.identity import service
from tsunagu.identity.models import LocalPassword, QrCard, TotpSecret
from tsunagu.settings import Settings


def _post_password(client: TestClient, username: str, password: str, tenant: str = "") -> object:
    token = csrf_token(client)
    return client.post(
        "/signin",
        data={"csrftoken": token, "username": username, "password": password, "tenant": tenant},
        follow_redirects=False,
    )


def test_set_password_cli_policy_and_argon2id(container: Container, world: World) -> None:
    runner = CliRunner()
    username = username_of(container, world.tenant_id, world.teacher)
    for weak in ("short", "password123", "aaaaaaaaaaaaaa", username.split("@")[0] + "-secret!"):
        result = runner.invoke(
            cli,
            ["user", "set-password", username, "--tenant", world.tenant, "--password-stdin"],
            input=weak + "\n",
            obj=container,
        )
        assert result.exit_code != 0, weak
    # By username, then by sourcedId.
    for reference in (username, world.teacher):
        result = runner.invoke(
            cli,
            ["user", "set-password", reference, "--tenant", world.tenant, "--password-stdin"],
            input="a long enough passphrase\n",
            obj=container,
        )
        assert result.exit_code == 0, result.output
    with container.database.session() as session:
        row = session.get(LocalPassword, (world.tenant_id, world.teacher))
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert "a long enough passphrase" not in row.password_hash
    missing = runner.invoke(
        cli,
        ["user", "set-password", "nobody", "--tenant", world.tenant, "--password-stdin"],
        input="a long enough passphrase\n",
        obj=container,
    )
    assert missing.exit_code != 0
    assert "No user" in missing.output


def test_no_user_enumeration(container: Container, client: TestClient, world: World) -> None:
    sign_in(client, container, world.tenant, world.teacher)  # gives the teacher TEST_PASSWORD
    client.cookies.clear()
    known = username_of(container, world.tenant_id, world.teacher)
    unknown = "nobody-at-all@tsunagu.example.jp"

    token = csrf_token(client)

    def attempt(username: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        response = client.post(
            "/signin",
            data={"csrftoken": token, "username": username, "password": "wrong password here"},
            follow_redirects=False,
        )
        elapsed = time.perf_counter() - started
        return response.status_code, response.text.replace(username, "USER"), elapsed

    wrong = [attempt(known) for _ in range(5)]
    missing = [attempt(unknown) for _ in range(5)]
    assert {w[0] for w in wrong} == {m[0] for m in missing} == {401}
    assert wrong[0][1] == missing[0][1]
    # Both paths pay for one argon2id verification: timings of the same order. The fastest of
    # five is compared (the machine is shared; slow outliers are other people's work). Without
    # the dummy hash the unknown user answers about three times faster (measured).
    ratio = min(w[2] for w in wrong) / min(m[2] for m in missing)
    print(f"wrong password / unknown user answer time: {ratio:.2f}")
    assert 0.5 < ratio < 2, ratio


def test_tenant_is_chosen_by_selector_or_unique_username(
    container: Container, world: World
) -> None:
    with new_client(container) as client:
        sign_in(client, container, world.tenant, world.teacher)
        client.cookies.clear()
        username = username_of(container, world.tenant_id, world.teacher)
        # The username is unique across tenants here: no selector needed.
        assert _post_password(client, username, TEST_PASSWORD).status_code == 303  # type: ignore[attr-defined]
        client.cookies.clear()
        # With the wrong tenant chosen it is just a failed sign-in.
        wrong_tenant = _post_password(client, username, TEST_PASSWORD, world.other_tenant)
        assert wrong_tenant.status_code == 401  # type: ignore[attr-defined]


def test_lockout_after_repeated_failures(settings: Settings, tmp_path: Path) -> None:
    from tests.identity.conftest import build_world

    strict = settings.model_copy(update={"signin_failure_limit": "3/15 minutes"})
    container = build_container(strict)
    try:
        world = build_world(container, tmp_path)
        with new_client(container) as client:
            sign_in(client, container, world.tenant, world.teacher)
            sign_in(client, container, world.tenant, world.pupil)
            client.cookies.clear()
            teacher = username_of(container, world.tenant_id, world.teacher)
            for _ in range(3):
                assert _post_password(client, teacher, "not the password").status_code == 401  # type: ignore[attr-defined]
            # Locked: even the right password is refused, with the same answer.
            locked = _post_password(client, teacher, TEST_PASSWORD)
            assert locked.status_code == 401  # type: ignore[attr-defined]
            # Another account is not affected.
            pupil = username_of(container, world.tenant_id, world.pupil)
            assert _post_password(client, pupil, TEST_PASSWORD).status_code == 303  # type: ignore[attr-defined]
            with container.database.session() as session:
                reasons = [
                    e.detail.get("reason")
                    for e in audit_service.list_events(session, world.tenant_id, limit=None)
                    if e.action == "signin.failure"
                ]
            assert reasons.count("invalid") == 3
    finally:
        container.close()


def test_rate_limit_per_address(settings: Settings, tmp_path: Path) -> None:
    from tests.identity.conftest import build_world

    strict = settings.model_copy(update={"signin_ip_rate_limit": "4/minute"})
    container = build_container(strict)
    try:
        world = build_world(container, tmp_path)
        with new_client(container) as client:
            statuses = [
                _post_password(client, f"user{i}@x.jp", "whatever-password").status_code  # type: ignore[attr-defined]
                for i in range(6)
            ]
            assert statuses[:4] == [401] * 4
            assert statuses[4:] == [429, 429]
            qr = client.post("/signin/qr", data={"csrftoken": csrf_token(client), "token": "a.b"})
            assert qr.status_code == 401  # QR has its own budget per address
        assert world.tenant
    finally:
        container.close()


def test_qr_cards_issue_sign_in_revoke_reissue(
    container: Container, client: TestClient, world: World, tmp_path: Path
) -> None:
    runner = CliRunner()
    pdf = tmp_path / "cards.pdf"
    result = runner.invoke(
        cli,
        ["qr", "issue", str(pdf), "--tenant", world.tenant, "--class", world.teacher_class],
        obj=container,
    )
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    with container.database.session() as session:
        cards = list(session.scalars(select(QrCard).where(QrCard.revoked_at.is_(None))))
    assert cards
    assert world.pupil in {c.user_sourced_id for c in cards}
    assert all(len(c.secret_hash) == 64 for c in cards)

    # The PDF's secrets are not in the database: issue in-process to learn one.
    with container.database.transaction() as session:
        _, token = service.reissue_card(session, container, world.tenant, world.pupil)
    page = client.get(f"/signin/qr/{token}")
    assert page.status_code == 200
    assert 'name="csrftoken"' in page.text
    signed = client.post(
        "/signin/qr", data={"csrftoken": csrf_token(client), "token": token}, follow_redirects=False
    )
    assert signed.status_code == 303
    assert client.get("/me").status_code == 200

    client.cookies.clear()
    revoked = runner.invoke(
        cli, ["qr", "revoke", world.pupil, "--tenant", world.tenant], obj=container
    )
    assert revoked.exit_code == 0, revoked.output
    refused = client.post("/signin/qr", data={"csrftoken": csrf_token(client), "token": token})
    assert refused.status_code == 401
    assert "このカードは使えません" in refused.text
    # A forged secret for a real card id is refused too.
    card_id = token.split(".")[0]
    forged = client.post(
        "/signin/qr", data={"csrftoken": csrf_token(client), "token": f"{card_id}.guess"}
    )
    assert forged.status_code == 401
    with container.database.transaction() as session:
        _, fresh = service.reissue_card(session, container, world.tenant, world.pupil)
    ok = client.post(
        "/signin/qr", data={"csrftoken": csrf_token(client), "token": fresh}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_administrators_confirm_with_totp(
    container: Container, client: TestClient, world: World
) -> None:
    sign_in(client, container, world.tenant, world.board_admin)  # enrolls TOTP on the way
    client.cookies.clear()
    username = username_of(container, world.tenant_id, world.board_admin)
    # The board's username exists in both generated tenants: the selector decides.
    first = _post_password(client, username, TEST_PASSWORD, world.tenant)
    assert first.headers["location"] == "/signin/totp"  # type: ignore[attr-defined]
    # Not signed in before the second factor.
    assert client.get("/me", follow_redirects=False).status_code == 303
    token = client.cookies.get("csrftoken") or ""
    wrong = client.post("/signin/totp", data={"csrftoken": token, "code": "000000"})
    assert wrong.status_code == 401
    code = totp_code_for(container, world.tenant_id, world.board_admin)
    ok = client.post(
        "/signin/totp", data={"csrftoken": token, "code": code}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert client.get("/me").status_code == 200
    # The same code cannot be used twice.
    client.cookies.clear()
    _post_password(client, username, TEST_PASSWORD, world.tenant)
    replay = client.post(
        "/signin/totp", data={"csrftoken": client.cookies.get("csrftoken") or "", "code": code}
    )
    assert replay.status_code == 401
    with container.database.session() as session:
        row = session.get(TotpSecret, (world.tenant_id, world.board_admin))
        assert row is not None
        assert row.confirmed_at is not None
        secret = service.totp_secret(container, row)
        assert secret not in row.secret  # encrypted at rest
        assert pyotp.TOTP(secret).verify(pyotp.TOTP(secret).now())
    # A lost phone: the operator resets it, and the next sign-in enrolls a new secret.
    reset = CliRunner().invoke(
        cli, ["user", "reset-totp", world.board_admin, "--tenant", world.tenant], obj=container
    )
    assert reset.exit_code == 0, reset.output
    client.cookies.clear()
    _post_password(client, username, TEST_PASSWORD, world.tenant)
    enroll = client.get("/signin/totp")
    assert "認証アプリ" in enroll.text
    assert "<svg" in enroll.text
    with container.database.session() as session:
        fresh = session.get(TotpSecret, (world.tenant_id, world.board_admin))
        assert fresh is not None
        assert fresh.confirmed_at is None
        assert service.totp_secret(container, fresh) != secret


def test_audit_export_cli(container: Container, client: TestClient, world: World) -> None:
    sign_in(client, container, world.tenant, world.teacher)
    client.cookies.clear()
    _post_password(client, "=HYPERLINK(1)", "wrong password here", world.tenant)
    result = CliRunner().invoke(cli, ["audit", "export", "--tenant", world.tenant], obj=container)
    assert result.exit_code == 0, result.output
    lines = result.stdout.lstrip("\ufeff").splitlines()
    assert lines[0] == "at,tenant,actor,action,target,ip,detail"
    assert any("signin.success" in line and world.teacher in line for line in lines)
    assert any("user.set_password" not in line for line in lines)
    assert not any(line.split(",")[2].startswith("=") for line in lines[1:])
    assert json.loads(json.dumps(lines))  # plain text, no binary


@pytest.mark.parametrize("path", ["/signin/qr/x.y"])
def test_qr_page_sends_no_referrer(client: TestClient, path: str) -> None:
    assert client.get(path).headers["referrer-policy"] == "no-referrer"


def test_demo_accounts_sign_in_with_the_printed_password(container: Container) -> None:
    from tsunagu.demo import service as demo

    result = CliRunner().invoke(cli, ["demo", "setup", "--json"], obj=container)
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout.strip().splitlines()[-1])
    roles = {a["role"]: a["username"] for a in output["accounts"]}
    assert set(roles) == {"teacher", "student", "school_admin"}
    assert output["password"] == demo.DEMO_PASSWORD
    with new_client(container) as client:
        for role in ("teacher", "student"):
            client.cookies.clear()
            answer = _post_password(client, roles[role], demo.DEMO_PASSWORD, demo.DEMO_TENANT_CODE)
            assert answer.status_code == 303, role  # type: ignore[attr-defined]
            assert client.get("/me").status_code == 200
        client.cookies.clear()
        admin = _post_password(
            client, roles["school_admin"], demo.DEMO_PASSWORD, demo.DEMO_TENANT_CODE
        )
        assert admin.headers["location"] == "/signin/totp"  # type: ignore[attr-defined]


def test_oversized_or_malformed_input_is_a_plain_refusal(client: TestClient, world: World) -> None:
    token = csrf_token(client)
    huge = client.post(
        "/signin", data={"csrftoken": token, "username": "x" * 10000, "password": "y" * 10000}
    )
    assert huge.status_code == 401
    assert (
        client.post("/signin/qr", data={"csrftoken": token, "token": "z" * 5000}).status_code == 401
    )
    assert client.get("/signin/oidc/not-a-number").status_code == 404
    assert client.get("/signin/oidc/999999").status_code == 404
    assert client.get("/signin/oidc/callback?state=" + "s" * 5000).status_code == 400
