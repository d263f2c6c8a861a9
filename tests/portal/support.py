"""A small board for portal tests: the roster tests' package plus a 小1 class and a board admin."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from tests.identity.support import sign_in
from tests.lti.support import (
    TOOL_BASE,
    auth_request,
    parse_form,
    query_of,
    tool_jwt,
    verify_id_token,
)
from tests.roster.packages import BOARD_CODE, Rows, clone, uid, valid_roster, write_package
from tsunagu.container import Container
from tsunagu.identity.principal import Principal
from tsunagu.lti import vocabulary as v
from tsunagu.roster.importer import import_roster
from tsunagu.tenancy.service import create_tenant

ELEM = uid(f"{BOARD_CODE}:elem")
DISTRICT = uid(f"{BOARD_CODE}:district")
CLASS_5_1 = uid(f"{BOARD_CODE}:class:5-1")
CLASS_1_1 = uid(f"{BOARD_CODE}:class:1-1")
CLASS_J1 = uid(f"{BOARD_CODE}:class:j1-1")
TEACHER = uid(f"{BOARD_CODE}:user:t-elem")
TEACHER_JUNIOR = uid(f"{BOARD_CODE}:user:t-junior")
PUPIL = uid(f"{BOARD_CODE}:user:s1")
PUPIL_JUNIOR = uid(f"{BOARD_CODE}:user:s4")
YOUNG = uid(f"{BOARD_CODE}:user:y1")
BOARD_ADMIN = uid(f"{BOARD_CODE}:user:admin")


def portal_roster() -> Rows:
    rows = clone(valid_roster())
    year = uid(f"{BOARD_CODE}:year")
    rows["courses"].append(
        {
            "sourcedId": uid(f"{BOARD_CODE}:course:hr1"),
            "schoolYearSourcedId": year,
            "title": "2026年度ホームルーム",
            "grades": "P1",
            "orgSourcedId": ELEM,
        }
    )
    rows["classes"].append(
        {
            "sourcedId": CLASS_1_1,
            "title": "1年1組",
            "grades": "P1",
            "courseSourcedId": uid(f"{BOARD_CODE}:course:hr1"),
            "classType": "homeroom",
            "schoolSourcedId": ELEM,
            "termSourcedIds": year,
            "metadata.jp.specialNeeds": "false",
        }
    )
    people = [
        ("y1", "小林", "あおい", "コバヤシ", "アオイ", "student", "P1", ELEM, CLASS_1_1, "1"),
        (
            "admin",
            "中村",
            "誠",
            "ナカムラ",
            "マコト",
            "districtAdministrator",
            "",
            DISTRICT,
            None,
            "",
        ),
    ]
    for number, (label, family, given, kfam, kgiv, role, grade, org, klass, no) in enumerate(
        people, start=50
    ):
        user = uid(f"{BOARD_CODE}:user:{label}")
        rows["users"].append(
            {
                "sourcedId": user,
                "enabledUser": "true",
                "username": f"{label}@{BOARD_CODE}.tsunagu.example.jp",
                "userIds": f"{{Google:{100000 + number}}}",
                "givenName": given,
                "familyName": family,
                "grades": grade,
                "userMasterIdentifier": uid(f"{BOARD_CODE}:umi:{label}"),
                "preferredGivenName": given,
                "preferredFamilyName": family,
                "primaryOrgSourcedId": org,
                "metadata.jp.kanaGivenName": kgiv,
                "metadata.jp.kanaFamilyName": kfam,
                "metadata.jp.homeClass": klass or "",
            }
        )
        rows["roles"].append(
            {
                "sourcedId": uid(f"{BOARD_CODE}:role:{label}"),
                "userSourcedId": user,
                "roleType": "primary",
                "role": role,
                "orgSourcedId": org,
            }
        )
        if klass:
            rows["enrollments"].append(
                {
                    "sourcedId": uid(f"{BOARD_CODE}:enr:{label}"),
                    "classSourcedId": klass,
                    "schoolSourcedId": org,
                    "userSourcedId": user,
                    "role": "student",
                    "primary": "false",
                    "metadata.jp.ShussekiNo": no,
                }
            )
    # The elementary teacher also teaches 1年1組 (so they may edit its timetable).
    rows["enrollments"].append(
        {
            "sourcedId": uid(f"{BOARD_CODE}:enr:t-elem:1-1"),
            "classSourcedId": CLASS_1_1,
            "schoolSourcedId": ELEM,
            "userSourcedId": TEACHER,
            "role": "teacher",
            "primary": "false",
            "metadata.jp.ShussekiNo": "",
        }
    )
    return rows


def load_board(container: Container, tmp_path: Path, rows: Rows | None = None) -> None:
    with container.database.transaction() as session:
        create_tenant(session, BOARD_CODE, "つなぐ市教育委員会")
    package = write_package(tmp_path / "portal-roster.zip", rows or portal_roster())
    result = import_roster(container, BOARD_CODE, package)
    assert result.applied, [str(p) for p in result.errors]


def sign_in_htmx(
    client: TestClient, container: Container, tenant_code: str, user_sourced_id: str
) -> Principal:
    """Sign in for real, then send the CSRF token as the ``X-CSRFToken`` header on every request,
    as the portal's pages do for htmx (``hx-headers`` on ``<body>``)."""
    principal = sign_in(client, container, tenant_code, user_sourced_id)
    client.headers["X-CSRFToken"] = client.cookies.get("csrftoken") or ""
    return principal


#: The tool the portal tests pick materials from (played by the test, as in tests/lti).
DRILL = "drill-tool"


def deep_link_material(
    client: TestClient,
    key: RSAKey,
    slot_id: int,
    title: str,
    *,
    custom: dict[str, str] | None = None,
) -> str:
    """A signed-in teacher picks ``title`` in the drill tool for a period, through the real
    Deep Linking flow: the portal's start URL, the platform's authorization endpoint (the
    tool's side played here), the tool's signed response to the return URL. Returns the id of
    the resource link created."""
    started = client.get(f"/teach/slots/{slot_id}/deep-link/{DRILL}", follow_redirects=False)
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith(f"{TOOL_BASE}/login?")
    initiation = query_of(started.headers["location"])
    page = client.get(
        "/lti/authorize", params=auth_request(initiation, redirect_uri=f"{TOOL_BASE}/launch")
    )
    request = verify_id_token(parse_form(page.text)[1]["id_token"], client.get("/lti/jwks").json())
    assert request[v.CLAIM_MESSAGE_TYPE] == v.DEEP_LINKING_REQUEST
    now = int(time.time())
    answer = {
        "iss": DRILL,
        "aud": [request["iss"]],
        "iat": now,
        "exp": now + 600,
        "nonce": uuid.uuid4().hex,
        v.CLAIM_MESSAGE_TYPE: v.DEEP_LINKING_RESPONSE,
        v.CLAIM_VERSION: "1.3.0",
        v.CLAIM_DEPLOYMENT_ID: request[v.CLAIM_DEPLOYMENT_ID],
        v.CLAIM_DL_DATA: request[v.CLAIM_DL_SETTINGS]["data"],
        v.CLAIM_DL_CONTENT_ITEMS: [
            {"type": "ltiResourceLink", "title": title, "custom": custom or {"unit": "add-1"}}
        ],
    }
    done = client.post("/lti/deep-linking/return", data={"JWT": tool_jwt(key, answer)})
    assert done.status_code == 200, done.text
    found = re.search(r'data-resource-link-id="([^"]+)"', done.text)
    assert found is not None, done.text
    return found.group(1)
