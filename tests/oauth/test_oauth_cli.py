"""``tsunagu oauth-client``: create (the JSON is what deployment scripts parse), list, revoke."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tsunagu.cli import app
from tsunagu.oauth.scopes import ROSTER_CORE_READONLY, ROSTER_READONLY
from tsunagu.settings import Settings


@pytest.fixture
def run(settings: Settings, tmp_path: Path) -> Any:
    env = {
        "TSUNAGU_DATABASE_URL": settings.database_url,
        "TSUNAGU_SECRET_KEY": settings.secret_key,
        "TSUNAGU_VAR_DIR": str(tmp_path / "cli-var"),
    }

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def test_create_json_gives_working_credentials(run: Any, tenant: str, http: Any) -> None:
    result = run(
        "oauth-client", "create", "--tenant", tenant, "--name", "学習ツール",
        "--scope", "roster-core.readonly", "--scope", ROSTER_READONLY, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["tenant"] == tenant
    assert created["name"] == "学習ツール"
    assert created["scopes"] == [ROSTER_CORE_READONLY, ROSTER_READONLY]
    assert created["revoked_at"] is None
    assert len(created["client_secret"]) >= 43

    token = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == f"{ROSTER_CORE_READONLY} {ROSTER_READONLY}"
    orgs = http.get(
        "/ims/oneroster/rostering/v1p2/orgs",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert orgs.status_code == 200

    listed = run("oauth-client", "list", "--tenant", tenant, "--json")
    assert listed.exit_code == 0, listed.output
    clients = json.loads(listed.stdout)
    assert [c["client_id"] for c in clients] == [created["client_id"]]
    assert "client_secret" not in clients[0]

    revoked = run("oauth-client", "revoke", created["client_id"], "--json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    refused = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_human_output_shows_the_secret_once(run: Any, tenant: str) -> None:
    result = run(
        "oauth-client", "create", "--tenant", tenant, "--name", "x", "--scope", "roster.readonly"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # human output goes to stderr
    assert "client_id:" in result.stderr
    assert "client_secret:" in result.stderr
    table = run("oauth-client", "list", "--tenant", tenant)
    assert table.exit_code == 0
    assert "roster.readonly" in table.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "create",
                "--tenant",
                "131016",
                "--name",
                "x",
                "--scope",
                "roster-demographics.readonly",
            ],
            "unknown scope",
        ),
        (["create", "--tenant", "999999", "--name", "x", "--scope", "roster.readonly"], "999999"),
        (["create", "--tenant", "131016", "--name", " ", "--scope", "roster.readonly"], "name"),
        (["list", "--tenant", "999999", "--json"], "999999"),
        (["revoke", "no-such-client", "--json"], "no-such-client"),
    ],
)
def test_problems_go_to_stderr_with_a_failing_exit(
    run: Any, tenant: str, args: list[str], message: str
) -> None:
    result = (
        run("oauth-client", *args, "--json") if args[0] == "create" else run("oauth-client", *args)
    )
    assert result.exit_code != 0
    assert result.stdout == ""
    assert message in result.stderr
