from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from tests.lti.support import People, load_roster, register_tool
from tsunagu.app import create_app
from tsunagu.container import Container


@pytest.fixture(scope="session")
def tool_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture
def people(container: Container, tmp_path: Path) -> People:
    return load_roster(container, tmp_path)


@pytest.fixture
def tool(container: Container, people: People, tool_key: RSAKey) -> str:
    return register_tool(container, tool_key)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container=container), follow_redirects=False) as c:
        yield c
