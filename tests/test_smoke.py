from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.settings import Settings
from tsunagu.tenancy import service
from tsunagu.tenancy.service import TenantError


def test_healthz_answers_from_the_database(container: Container) -> None:
    with TestClient(create_app(container=container)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_tenant_codes_are_validated_and_unique(container: Container) -> None:
    with container.database.transaction() as session:
        service.create_tenant(session, "131016", "つなぐ市教育委員会")
    with (
        pytest.raises(TenantError, match="already exists"),
        container.database.transaction() as session,
    ):
        service.create_tenant(session, "131016", "again")
    with (
        pytest.raises(TenantError, match="教育委員会コード"),
        container.database.transaction() as session,
    ):
        service.create_tenant(session, "93101", "short")


def test_the_app_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", var_dir=tmp_path)
    with (
        pytest.raises(RuntimeError, match="tsunagu db upgrade"),
        TestClient(create_app(settings=settings)),
    ):
        pass
