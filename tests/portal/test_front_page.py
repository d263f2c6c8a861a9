from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.roster.packages import BOARD_CODE, valid_roster, write_package
from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.roster.importer import import_roster
from tsunagu.tenancy.service import create_tenant


def test_front_page_lists_boards_with_their_roster(container: Container, tmp_path: Path) -> None:
    with container.database.transaction() as session:
        create_tenant(session, BOARD_CODE, "つなぐ市教育委員会")
    assert import_roster(
        container, BOARD_CODE, write_package(tmp_path / "p", valid_roster())
    ).applied

    with TestClient(create_app(container=container)) as client:
        response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    row = re.search(r"<tr><td>131016</td>.*?</tr>", response.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([\d,]+)</td>', row.group(0))
    assert cells == ["2", "3", "4", "2"]  # schools, classes, pupils, teachers
    assert "つなぐ市教育委員会" in row.group(0)


def test_front_page_without_boards(container: Container) -> None:
    with TestClient(create_app(container=container)) as client:
        response = client.get("/")
    assert response.status_code == 200
    assert "tsunagu tenant create" in response.text


def test_front_page_sends_signed_in_people_to_their_start(
    container: Container, tmp_path: Path
) -> None:
    from tests.identity.support import sign_in
    from tests.portal.support import BOARD_ADMIN, PUPIL, TEACHER, load_board

    load_board(container, tmp_path)
    with TestClient(create_app(container=container)) as client:
        front = client.get("/")
        assert 'href="/signin"' in front.text
        assert '<link rel="stylesheet"' in front.text  # base.html, the portal's own CSS
        for user, start in ((PUPIL, "/home"), (TEACHER, "/teach"), (BOARD_ADMIN, "/teach")):
            sign_in(client, container, BOARD_CODE, user)
            answer = client.get("/", follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"] == start
