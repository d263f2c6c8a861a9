"""A tenant with one OAuth client, and an HTTP client for the token endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.oauth import service
from tsunagu.oauth.scopes import ROSTER_CORE_READONLY, ROSTER_READONLY
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy

TENANT = "131016"


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str


@pytest.fixture(scope="session")
def shared_app() -> FastAPI:
    """One application for the run (FastAPI prepares all routes on the first request)."""
    return create_app(Settings(database_url="sqlite://", secret_key="unused"))


@pytest.fixture
def http(container: Container, shared_app: FastAPI) -> Iterator[TestClient]:
    shared_app.state.container = container
    shared_app.state.oauth_token_verifier = None
    with TestClient(shared_app) as client:
        yield client


@pytest.fixture
def tenant(container: Container) -> str:
    with container.database.transaction() as session:
        tenancy.create_tenant(session, TENANT, "つなぐ市教育委員会")
    return TENANT


@pytest.fixture
def credentials(container: Container, tenant: str) -> Credentials:
    """A client of the tenant granted both rostering scopes."""
    with container.database.transaction() as session:
        created = service.create_client(
            session,
            container.settings.resolved_secret_key,
            tenant_code=tenant,
            name="デジタル教材 A",
            scopes=[ROSTER_CORE_READONLY, ROSTER_READONLY],
        )
    return Credentials(created.info.client_id, created.secret)
