"""CSRF on the portal's forms as a browser without JavaScript sends them: the token travels as
the form's first field, multipart (file uploads) included; htmx sends it as a header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.identity.support import sign_in
from tests.portal.support import BOARD_ADMIN, BOARD_CODE, load_board, portal_roster
from tests.roster.packages import write_package
from tsunagu.app import create_app
from tsunagu.container import Container


@pytest.fixture
def admin(container: Container, tmp_path: Path) -> Iterator[TestClient]:
    load_board(container, tmp_path)
    with TestClient(create_app(container=container), follow_redirects=False) as client:
        sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
        yield client


def test_multipart_upload_carries_its_token_in_the_form(admin: TestClient, tmp_path: Path) -> None:
    package = write_package(tmp_path / "p.zip", portal_roster()).read_bytes()
    token = admin.cookies.get("csrftoken")
    assert token
    files = {"package": ("p.zip", package, "application/zip")}
    # No token: refused before the upload is read.
    assert admin.post("/admin/roster", files=files).status_code == 403
    # A wrong token: refused.
    assert (
        admin.post("/admin/roster", data={"csrftoken": "x" + token}, files=files).status_code == 403
    )
    # The token after the file: refused (the upload is never read looking for it).
    late = {"package": files["package"], "csrftoken": (None, token)}
    assert admin.post("/admin/roster", files=late).status_code == 403
    # The token as the first field (what {{ csrf_input() }} at the top of the form sends).
    accepted = admin.post("/admin/roster", data={"csrftoken": token}, files=files)
    assert accepted.status_code == 303, accepted.text
    # The header (htmx) is enough too.
    again = admin.post("/admin/roster", files=files, headers={"X-CSRFToken": token})
    assert again.status_code == 303, again.text


def test_every_page_gives_htmx_the_token(admin: TestClient) -> None:
    page = admin.get("/teach")
    token = admin.cookies.get("csrftoken")
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page.text
    # A urlencoded form without the token is refused.
    assert admin.post("/teach/notices", data={"title": "x"}).status_code == 403
