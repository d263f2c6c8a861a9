"""An LRS test bed: tenants, credentials and an HTTP client on the real app (both backends)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.lrs import credentials
from tsunagu.tenancy import service as tenancy

TENANT_A = "131016"
TENANT_B = "271004"
HOME = "https://portal.example.jp"


@dataclass(frozen=True)
class Cred:
    key: str
    secret: str

    def headers(self, version: str = "1.0.3") -> dict[str, str]:
        token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        return {"Authorization": f"Basic {token}", "X-Experience-API-Version": version}


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container)) as client:
        yield client


@pytest.fixture
def tenants(container: Container) -> tuple[str, str]:
    with container.database.transaction() as session:
        tenancy.create_tenant(session, TENANT_A, "つなぐ市教育委員会")
        tenancy.create_tenant(session, TENANT_B, "みなと市教育委員会")
    return TENANT_A, TENANT_B


MakeCred = Callable[..., Cred]


@pytest.fixture
def make_cred(container: Container, tenants: tuple[str, str]) -> MakeCred:
    def make(tenant: str = TENANT_A, *scopes: str, name: str = "教材") -> Cred:
        with container.database.transaction() as session:
            created = credentials.create_credential(
                session,
                container.settings.resolved_secret_key,
                tenant_code=tenant,
                name=name,
                scopes=scopes,
            )
        return Cred(created.info.key, created.secret)

    return make


@pytest.fixture
def cred(make_cred: MakeCred) -> Cred:
    return make_cred()


def learner(name: str | None = None) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": HOME, "name": name or str(uuid.uuid4())},
    }


def statement(**overrides: Any) -> dict[str, Any]:
    """A valid statement in the shape the Japan profiles use (eportal-standard.md §5.4)."""
    base: dict[str, Any] = {
        "actor": learner("3f1d8a5e-2c4b-4e7a-9b1c-0d2e3f4a5b6c"),
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/launched",
            "display": {"en": "launched", "ja-JP": "開始した"},
        },
        "object": {
            "objectType": "Activity",
            "id": "https://portal.example.jp/assignments/7c1e",
            "definition": {
                "type": "http://id.tincanapi.com/activitytype/school-assignment",
                "name": {"ja-JP": "分数のかけ算 ドリル", "en-US": "Fractions drill"},
            },
        },
        "context": {
            "platform": "つなぐ",
            "language": "ja-JP",
            "contextActivities": {
                "category": {"id": "https://w3id.org/japan-xapi/profiles/lms"},
            },
        },
        "timestamp": "2025-06-01T09:12:00+09:00",
    }
    base.update(overrides)
    return base
