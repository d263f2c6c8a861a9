"""``tsunagu lrs credentials`` and the in-process ``record_statement`` API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.lrs.conftest import TENANT_A, Cred, statement
from tsunagu.cli import app
from tsunagu.container import Container
from tsunagu.lrs.service import LrsError, record_statement
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy


@pytest.fixture
def run(settings: Settings, tmp_path: Path) -> Any:
    env = {
        "TSUNAGU_DATABASE_URL": settings.database_url,
        "TSUNAGU_SECRET_KEY": settings.secret_key,
        "TSUNAGU_VAR_DIR": str(tmp_path / "cli-var"),
        "TSUNAGU_BASE_URL": settings.base_url,
    }

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def test_create_list_revoke(run: Any, tenants: tuple[str, str], http: TestClient) -> None:
    r = run("lrs", "credentials", "create", "--tenant", TENANT_A, "--name", "ドリル", "--json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    assert created["scopes"] == ["all"]
    assert created["tenant"] == TENANT_A
    assert len(created["secret"]) >= 43  # 256 bits, URL-safe Base64
    cred = Cred(created["key"], created["secret"])
    assert http.get("/xapi/statements", headers=cred.headers()).status_code == 200

    r = run("lrs", "credentials", "create", "--tenant", TENANT_A, "--name", "閲覧",
            "--scope", "statements/read", "--scope", "state", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["scopes"] == ["statements/read", "state"]

    r = run("lrs", "credentials", "list", "--tenant", TENANT_A, "--json")
    assert [c["name"] for c in json.loads(r.stdout)] == ["ドリル", "閲覧"]
    assert "secret" not in r.stdout

    r = run("lrs", "credentials", "revoke", created["key"], "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["revoked_at"] is not None
    http.app.state.lrs_verifier.clear()  # type: ignore[attr-defined]
    assert http.get("/xapi/statements", headers=cred.headers()).status_code == 401


def test_create_refuses_bad_input(run: Any, tenants: tuple[str, str]) -> None:
    r = run("lrs", "credentials", "create", "--tenant", TENANT_A, "--name", "x", "--scope", "root")
    assert r.exit_code == 1
    assert "unknown scope" in r.output
    r = run("lrs", "credentials", "create", "--tenant", "999999", "--name", "x")
    assert r.exit_code == 1
    r = run("lrs", "credentials", "revoke", "nope")
    assert r.exit_code == 1


def test_record_statement_in_process(
    container: Container, http: TestClient, cred: Cred, tenants: tuple[str, str]
) -> None:
    with container.database.session() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
    sid = record_statement(container, tenant_id, statement())
    assert uuid.UUID(sid)
    got = http.get(f"/xapi/statements?statementId={sid}", headers=cred.headers()).json()
    assert got["authority"]["account"]["name"] == "tsunagu"
    with pytest.raises(LrsError) as caught:
        record_statement(container, tenant_id, statement(verb={"id": "nope"}))
    assert caught.value.status == 400
    assert caught.value.problems[0].path == "$.verb.id"
    # Idempotent for the same content, 409 for different content.
    same = statement(id=sid)
    assert record_statement(container, tenant_id, same) == sid
    with pytest.raises(LrsError) as conflict:
        record_statement(container, tenant_id, {**same, "result": {"completion": True}})
    assert conflict.value.status == 409


def test_record_statement_leaves_the_callers_dict_alone(
    container: Container, tenants: tuple[str, str]
) -> None:
    with container.database.session() as session:
        tenant_id = tenancy.get_tenant(session, TENANT_A).id
    sent = statement()
    before = json.dumps(sent, sort_keys=True)
    record_statement(container, tenant_id, sent)
    assert json.dumps(sent, sort_keys=True) == before  # no id, stored, authority added
