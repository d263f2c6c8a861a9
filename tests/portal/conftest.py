"""The portal tests' board: the roster package of tests.portal.support and the sample drill tool
registered, served by a test client (a test module may define its own ``client``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from tests.lti.support import register_tool
from tests.portal.support import DRILL, load_board
from tsunagu.app import create_app
from tsunagu.container import Container


@pytest.fixture(scope="session")
def tool_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture
def client(container: Container, tmp_path: Path, tool_key: RSAKey) -> Iterator[TestClient]:
    load_board(container, tmp_path)
    register_tool(container, tool_key, client_id=DRILL)
    with TestClient(create_app(container=container)) as test_client:
        test_client.tool_key = tool_key  # type: ignore[attr-defined]
        yield test_client
