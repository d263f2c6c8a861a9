"""Platform keys (JWKS, rotation), the registry, Dynamic Registration and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.lti.support import People
from tests.roster.packages import BOARD_CODE, school_code
from tsunagu.cli import app as cli_app
from tsunagu.container import Container
from tsunagu.lti import keys, registry
from tsunagu.lti.models import PlatformKey
from tsunagu.machine_credentials import utcnow


def test_jwks_rotation_publishes_before_signing_and_keeps_old_keys(
    client: TestClient, container: Container
) -> None:
    with container.database.transaction() as session:
        keys.ensure_keys(session, container.settings)
    published = client.get("/lti/jwks").json()["keys"]
    assert len(published) == 2  # current + next
    for jwk in published:
        assert jwk["alg"] == "RS256"
        assert jwk["use"] == "sig"
        assert jwk["kid"]
        assert "d" not in jwk  # never the private part
    assert client.get("/.well-known/jwks.json").json()["keys"] == published
    current_kid, _ = keys.signing_key(container)
    next_kid = next(k["kid"] for k in published if k["kid"] != current_kid)

    # Too early: the next key was published moments ago.
    with container.database.transaction() as session, pytest.raises(keys.KeyRotationError):
        keys.rotate(session, container.settings)
    later = utcnow() + timedelta(seconds=container.settings.lti_key_publish_lead_seconds + 1)
    with container.database.transaction() as session:
        promoted = keys.rotate(session, container.settings, now=later)
    assert promoted.kid == next_kid
    assert keys.signing_key(container)[0] == next_kid
    kids = {k["kid"] for k in client.get("/lti/jwks").json()["keys"]}
    assert current_kid in kids  # retiring: still verifies tokens it signed
    assert next_kid in kids
    assert len(kids) == 3  # and a new next key
    # Once every token it signed has expired, the old key leaves the JWKS and its secret goes.
    much_later = later + timedelta(seconds=container.settings.lti_id_token_lifetime_seconds + 301)
    with container.database.session() as session:
        assert current_kid not in {k["kid"] for k in keys.public_jwks(session, much_later)["keys"]}
    with container.database.transaction() as session:
        keys.rotate(session, container.settings, force=True, now=much_later)
        old = session.scalar(select(PlatformKey).where(PlatformKey.kid == current_kid))
        assert old is not None
        assert old.state == "retired"
        assert old.private_key_encrypted == ""
    # Private keys are stored sealed, not as PEM.
    with container.database.session() as session:
        for row in session.scalars(select(PlatformKey)):
            assert "PRIVATE KEY" not in row.private_key_encrypted


def test_registry_validates_and_deploys(container: Container, people: People) -> None:
    with container.database.transaction() as session:
        with pytest.raises(registry.RegistryError):
            registry.register_tool(
                session,
                name="x",
                login_initiation_url="ftp://x",
                redirect_uris=["https://a/b"],
                target_link_uri="https://a/b",
                jwks_url="https://a/jwks",
            )
        with pytest.raises(registry.RegistryError):
            registry.register_tool(
                session,
                name="x",
                login_initiation_url="https://a/login",
                redirect_uris=[],
                target_link_uri="https://a/b",
                jwks_url="https://a/jwks",
            )
        with pytest.raises(registry.RegistryError):  # neither JWKS URL nor key
            registry.register_tool(
                session,
                name="x",
                login_initiation_url="https://a/login",
                redirect_uris=["https://a/b"],
                target_link_uri="https://a/b",
            )
        with pytest.raises(registry.RegistryError):
            registry.register_tool(
                session,
                name="x",
                login_initiation_url="https://a/login",
                redirect_uris=["https://a/b"],
                target_link_uri="https://a/b",
                jwks_url="https://a/jwks",
                scopes=["everything"],
            )
        registry.register_tool(
            session,
            name="x",
            client_id="x",
            login_initiation_url="https://a/login",
            redirect_uris=["https://a/b"],
            target_link_uri="https://a/b",
            jwks_url="https://a/jwks",
        )
        board = registry.deploy_tool(session, "x", BOARD_CODE)
        assert [d.deployment_id for d in board] == [f"B_{BOARD_CODE}"]
        code = school_code("B11321000001")
        school = registry.deploy_tool(session, "x", BOARD_CODE, [code])
        assert school[0].deployment_id == f"S_{code}"
        assert registry.deploy_tool(session, "x", BOARD_CODE, [code]) == school  # idempotent
        with pytest.raises(registry.RegistryError):
            registry.deploy_tool(session, "x", BOARD_CODE, ["A123"])
        with pytest.raises(registry.RegistryError):
            registry.deploy_tool(session, "x", BOARD_CODE, [school_code("B99999999999")])


def test_dynamic_registration_needs_approval(
    client: TestClient, container: Container, people: People
) -> None:
    config = client.get("/lti/.well-known/openid-configuration").json()
    assert config["registration_endpoint"].endswith("/lti/register")
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    platform = config["https://purl.imsglobal.org/spec/lti-platform-configuration"]
    assert {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]} in platform[
        "messages_supported"
    ]
    with container.database.transaction() as session:
        token = registry.create_registration_token(
            session, container.settings.resolved_secret_key, BOARD_CODE
        )
    request = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": "https://dr.example.com/login",
        "redirect_uris": ["https://dr.example.com/launch"],
        "client_name": "自己登録ツール",
        "jwks_uri": "https://dr.example.com/jwks",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score "
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": "dr.example.com",
            "target_link_uri": "https://dr.example.com/launch",
            "claims": ["iss", "sub"],
            "messages": [{"type": "LtiDeepLinkingRequest"}],
        },
    }
    assert client.post("/lti/register", json=request).status_code == 401
    answer = client.post(
        "/lti/register", json=request, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    client_id = body["client_id"]
    assert body["https://purl.imsglobal.org/spec/lti-tool-configuration"]["deployment_id"] == (
        f"B_{BOARD_CODE}"
    )
    # The token is single-use.
    again = client.post("/lti/register", json=request, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401
    runner = CliRunner()
    env = {
        "TSUNAGU_DATABASE_URL": container.settings.resolved_database_url,
        "TSUNAGU_SECRET_KEY": "test-secret-key-not-for-production",
        "TSUNAGU_BASE_URL": "https://portal.example.jp",
        "TSUNAGU_VAR_DIR": str(container.settings.var_dir),
    }
    listed = json.loads(runner.invoke(cli_app, ["tool", "list", "--json"], env=env).stdout)
    assert listed[0]["status"] == "pending"
    assert listed[0]["deployments"] == []
    approved = runner.invoke(
        cli_app, ["tool", "approve", client_id, "--scope", "score", "--json"], env=env
    )
    assert approved.exit_code == 0, approved.output
    info = json.loads(approved.stdout)
    assert info["status"] == "active"
    assert info["scopes"] == ["https://purl.imsglobal.org/spec/lti-ags/scope/score"]
    assert info["deployments"][0]["deployment_id"] == f"B_{BOARD_CODE}"
    assert info["deep_linking_url"] == "https://dr.example.com/launch"


def test_cli_register_deploy_rotate(container: Container, people: People) -> None:
    runner = CliRunner()
    env = {
        "TSUNAGU_DATABASE_URL": container.settings.resolved_database_url,
        "TSUNAGU_SECRET_KEY": "test-secret-key-not-for-production",
        "TSUNAGU_VAR_DIR": str(container.settings.var_dir),
    }
    registered = runner.invoke(
        cli_app,
        [
            "tool",
            "register",
            "--name",
            "デジタル教科書",
            "--client-id",
            "textbook",
            "--login-url",
            "https://tb.example.com/login",
            "--redirect-uri",
            "https://tb.example.com/launch",
            "--target-link-uri",
            "https://tb.example.com/launch",
            "--jwks-url",
            "https://tb.example.com/jwks",
            "--custom",
            "publisher=tb",
            "--scope",
            "nrps",
            "--json",
        ],
        env=env,
    )
    assert registered.exit_code == 0, registered.output
    out = json.loads(registered.stdout)
    assert out["client_id"] == "textbook"
    assert out["platform"]["token_endpoint"].endswith("/lti/token")
    deployed = runner.invoke(
        cli_app,
        [
            "tool",
            "deploy",
            "textbook",
            "--tenant",
            BOARD_CODE,
            "--school",
            school_code("C11321000002"),
            "--json",
        ],
        env=env,
    )
    assert deployed.exit_code == 0, deployed.output
    assert json.loads(deployed.stdout)[0]["deployment_id"].startswith("S_C113")
    bad = runner.invoke(cli_app, ["tool", "deploy", "textbook", "--tenant", "999999"], env=env)
    assert bad.exit_code != 0
    # Placing a test (with its AGS line item) in a class of the deployed school.
    placed = runner.invoke(
        cli_app,
        [
            "tool",
            "link",
            "textbook",
            "--tenant",
            BOARD_CODE,
            "--class",
            people.junior_homeroom,
            "--title",
            "単元テスト",
            "--custom",
            "unit=7",
            "--score-maximum",
            "20",
            "--json",
        ],
        env=env,
    )
    assert placed.exit_code == 0, placed.output
    link = json.loads(placed.stdout)
    assert link["deployment_id"].startswith("S_C113")
    assert link["line_item_id"]
    # Not deployed for the elementary school's classes.
    refused = runner.invoke(
        cli_app,
        [
            "tool",
            "link",
            "textbook",
            "--tenant",
            BOARD_CODE,
            "--class",
            people.homeroom,
            "--title",
            "x",
        ],
        env=env,
    )
    assert refused.exit_code != 0
    listed = runner.invoke(cli_app, ["keys", "list", "--json"], env=env)
    assert {k["state"] for k in json.loads(listed.stdout)} == {"current", "next"}
    refused = runner.invoke(cli_app, ["keys", "rotate"], env=env)
    assert refused.exit_code != 0
    rotated = runner.invoke(cli_app, ["keys", "rotate", "--force", "--json"], env=env)
    assert rotated.exit_code == 0, rotated.output
    states = [
        k["state"]
        for k in json.loads(runner.invoke(cli_app, ["keys", "list", "--json"], env=env).stdout)
    ]
    assert sorted(states) == ["current", "next", "retiring"]


def test_dynamic_registration_with_pylti1p3(
    database_url: str, tmp_path: pytest.TempPathFactory
) -> None:
    """The tool side of LTI-DR done by PyLTI1p3's DynamicRegistration against a served platform."""
    from pathlib import Path
    from typing import Any

    from pylti1p3.dynamic_registration import DynamicRegistration

    from tests.lti.support import load_roster
    from tests.lti.tool_process import free_port, serve_platform
    from tsunagu.app import create_app
    from tsunagu.container import build_container
    from tsunagu.settings import Settings

    port = free_port()
    folder = Path(str(tmp_path))
    settings = Settings(
        database_url=database_url,
        var_dir=folder / "var",
        secret_key="dr-secret",
        base_url=f"http://127.0.0.1:{port}",
    )
    container = build_container(settings)
    load_roster(container, folder)
    with container.database.transaction() as session:
        token = registry.create_registration_token(
            session, settings.resolved_secret_key, BOARD_CODE, school_code("B11321000001")
        )

    class Registration(DynamicRegistration):  # type: ignore[misc]
        client_name = "ライブラリ登録ツール"
        description = "registered by pylti1p3"
        completed: dict[str, Any] = {}

        def get_openid_configuration_endpoint(self) -> str:
            return f"{settings.base_url}/lti/.well-known/openid-configuration"

        def get_registration_token(self) -> str:
            return token

        def get_initiate_login_uri(self) -> str:
            return "https://lib.example.com/login"

        def get_jwks_uri(self) -> str:
            return "https://lib.example.com/jwks"

        def get_redirect_uris(self) -> list[str]:
            return ["https://lib.example.com/launch"]

        def get_domain(self) -> str:
            return "lib.example.com"

        def get_target_link_uri(self) -> str:
            return "https://lib.example.com/launch"

        def get_logo_uri(self) -> str:
            return "https://lib.example.com/logo.png"

        def complete_registration(
            self, openid_configuration: dict[str, Any], openid_registration: dict[str, Any]
        ) -> Any:
            self.completed.update(openid_registration)
            return openid_registration

    with serve_platform(create_app(container=container), port):
        answer = Registration().register()
    tool_config = answer["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool_config["deployment_id"] == f"S_{school_code('B11321000001')}"
    with container.database.transaction() as session:
        pending = registry.get_tool(session, answer["client_id"], active_only=False)
        assert pending.status == "pending"
        info, deployments = registry.approve_tool(session, answer["client_id"])
    assert info.status == "active"
    assert [d.deployment_id for d in deployments] == [tool_config["deployment_id"]]
    assert info.name == "ライブラリ登録ツール"
    container.close()
