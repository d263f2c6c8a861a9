"""What the platform refuses: wrong redirect URI, replayed nonce, forged or expired hints, someone
else's launch, unknown deployment; Deep Linking responses the spec forbids."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import select

from tests.identity.support import sign_in
from tests.lti.support import (
    TOOL_BASE,
    People,
    auth_request,
    parse_form,
    query_of,
    tool_jwt,
    verify_id_token,
)
from tests.lti.test_launch import REDIRECT, place_link
from tests.roster.packages import BOARD_CODE
from tsunagu.container import Container
from tsunagu.lti import vocabulary as v
from tsunagu.lti.models import Deployment, ResourceLink
from tsunagu.lti.sealing import seal_json

ISSUER = "https://portal.example.jp"


def _initiate(client: TestClient, url: str) -> dict[str, str]:
    started = client.get(url)
    assert started.status_code == 303, started.text
    return query_of(started.headers["location"])


def _error_of(response: Any) -> str:
    action, fields = parse_form(response.text)
    assert action == REDIRECT
    assert "id_token" not in fields
    return fields["error"]


def test_wrong_redirect_uri_is_never_redirected_to(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    initiation = _initiate(client, f"/lti/launch/{link}")
    params = auth_request(initiation, redirect_uri="https://evil.example.com/launch")
    response = client.get("/lti/authorize", params=params)
    assert response.status_code == 400
    assert "evil.example.com" not in response.text
    assert "redirect_uri" in response.text
    # Unknown client_id: same, an error page.
    params = auth_request({**initiation, "client_id": "nobody"}, redirect_uri=REDIRECT)
    assert client.get("/lti/authorize", params=params).status_code == 400


def test_replayed_nonce_is_refused(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    initiation = _initiate(client, f"/lti/launch/{link}")
    params = auth_request(initiation, redirect_uri=REDIRECT, nonce="same-nonce")
    first = client.get("/lti/authorize", params=params)
    assert "id_token" in parse_form(first.text)[1]
    second = client.get("/lti/authorize", params=params)
    assert _error_of(second) == "invalid_request"
    # POST works like GET (OIDC Core §3.1.2.1), and is checked the same way.
    third = client.post("/lti/authorize", data=params)
    assert _error_of(third) == "invalid_request"


def test_protocol_parameters_are_checked(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    initiation = _initiate(client, f"/lti/launch/{link}")
    base = auth_request(initiation, redirect_uri=REDIRECT)
    for change, error in (
        ({"prompt": "login"}, "invalid_request"),
        ({"response_mode": "query"}, "invalid_request"),
        ({"response_type": "code"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"nonce": ""}, "invalid_request"),
    ):
        assert _error_of(client.get("/lti/authorize", params={**base, **change})) == error


def test_tampered_and_expired_hints_and_other_users(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    initiation = _initiate(client, f"/lti/launch/{link}")
    hint = initiation["lti_message_hint"]
    tampered = hint[:-3] + ("AAA" if not hint.endswith("AAA") else "BBB")
    params = auth_request({**initiation, "lti_message_hint": tampered}, redirect_uri=REDIRECT)
    assert _error_of(client.get("/lti/authorize", params=params)) == "invalid_request"
    # A hint sealed by this portal but expired.
    secret = container.settings.resolved_secret_key
    with container.database.session() as session:
        stored = session.get(ResourceLink, link)
        assert stored is not None
        deployment_pk = stored.deployment_pk
    principal = sign_in(client, container, BOARD_CODE, people.students[0])
    expired = seal_json(
        secret,
        "lti-message-hint",
        {
            "k": "rl",
            "rl": link,
            "t": principal.tenant_id,
            "u": principal.user_sourced_id,
            "d": deployment_pk,
            "exp": int(time.time()) - 1,
        },
    )
    params = auth_request({**initiation, "lti_message_hint": expired}, redirect_uri=REDIRECT)
    assert _error_of(client.get("/lti/authorize", params=params)) == "invalid_request"
    # Another pupil signed in on this browser cannot use the first pupil's launch.
    sign_in(client, container, BOARD_CODE, people.students[1])
    params = auth_request(initiation, redirect_uri=REDIRECT)
    assert _error_of(client.get("/lti/authorize", params=params)) == "login_required"


def test_unknown_or_withdrawn_deployment(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    initiation = _initiate(client, f"/lti/launch/{link}")
    with container.database.transaction() as session:
        for deployment in session.scalars(select(Deployment)):
            deployment.active = False
    params = auth_request(initiation, redirect_uri=REDIRECT)
    assert _error_of(client.get("/lti/authorize", params=params)) == "unauthorized_client"
    assert client.get(f"/lti/launch/{link}").status_code == 409


def test_id_tokens_expire_and_are_signed(
    client: TestClient, container: Container, people: People, tool: str
) -> None:
    link = place_link(container, tool, people.homeroom)
    sign_in(client, container, BOARD_CODE, people.students[0])
    initiation = _initiate(client, f"/lti/launch/{link}")
    token = parse_form(
        client.get("/lti/authorize", params=auth_request(initiation, redirect_uri=REDIRECT)).text
    )[1]["id_token"]
    jwks = client.get("/lti/jwks").json()
    claims = verify_id_token(token, jwks)
    assert claims["exp"] - claims["iat"] == container.settings.lti_id_token_lifetime_seconds
    header, payload, signature = token.split(".")
    import base64
    import json

    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["sub"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    import pytest
    from joserfc.errors import BadSignatureError

    with pytest.raises(BadSignatureError):
        verify_id_token(".".join([header, forged, signature]), jwks)


# --- Deep Linking responses ------------------------------------------------------------------


def _dl_request(
    client: TestClient, container: Container, people: People, tool: str
) -> dict[str, Any]:
    sign_in(client, container, BOARD_CODE, people.teacher)
    initiation = _initiate(
        client,
        f"/lti/deep-linking/start?client_id={tool}&class={people.math}&placement=timetable:tue-2",
    )
    page = client.get("/lti/authorize", params=auth_request(initiation, redirect_uri=REDIRECT))
    return verify_id_token(parse_form(page.text)[1]["id_token"], client.get("/lti/jwks").json())


def _dl_response(request: dict[str, Any], tool: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": tool,
        "aud": [ISSUER],
        "iat": now,
        "exp": now + 600,
        "nonce": uuid.uuid4().hex,
        v.CLAIM_MESSAGE_TYPE: v.DEEP_LINKING_RESPONSE,
        v.CLAIM_VERSION: "1.3.0",
        v.CLAIM_DEPLOYMENT_ID: request[v.CLAIM_DEPLOYMENT_ID],
        v.CLAIM_DL_DATA: request[v.CLAIM_DL_SETTINGS]["data"],
        v.CLAIM_DL_CONTENT_ITEMS: [
            {
                "type": "ltiResourceLink",
                "title": "わり算",
                "url": f"{TOOL_BASE}/launch",
                "custom": {"unit": "div-1"},
                "lineItem": {"scoreMaximum": 10, "label": "わり算"},
            }
        ],
    }
    claims.update(changes)
    return claims


def test_deep_linking_response_creates_links_in_the_period(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    request = _dl_request(client, container, people, tool)
    token = tool_jwt(tool_key, _dl_response(request, tool))
    page = client.post("/lti/deep-linking/return", data={"JWT": token})
    assert page.status_code == 200, page.text
    assert "わり算" in page.text
    from tsunagu.lti.launch import resource_links_for

    with container.database.session() as session:
        links = resource_links_for(
            session, request_tenant(container), people.math, "timetable:tue-2"
        )
    assert len(links) == 1
    assert links[0].custom == {"unit": "div-1"}
    assert links[0].line_item_id is not None


def request_tenant(container: Container) -> int:
    from tsunagu.tenancy.models import Tenant

    with container.database.session() as session:
        found = session.scalar(select(Tenant.id).where(Tenant.code == BOARD_CODE))
        assert found is not None
        return found


def test_deep_linking_responses_the_spec_forbids(
    client: TestClient, container: Container, people: People, tool: str, tool_key: RSAKey
) -> None:
    request = _dl_request(client, container, people, tool)
    other_key = RSAKey.generate_key(2048)
    bad_cases: list[tuple[str, str]] = [
        (tool_jwt(other_key, _dl_response(request, tool)), "signature"),
        (tool_jwt(tool_key, _dl_response(request, tool, aud=["https://elsewhere.example"])), "aud"),
        (
            tool_jwt(
                tool_key,
                _dl_response(request, tool, **{v.CLAIM_MESSAGE_TYPE: "LtiResourceLinkRequest"}),
            ),
            "message_type",
        ),
        (
            tool_jwt(tool_key, _dl_response(request, tool, **{v.CLAIM_DEPLOYMENT_ID: "B_999999"})),
            "deployment_id",
        ),
        (tool_jwt(tool_key, _dl_response(request, tool, **{v.CLAIM_DL_DATA: "forged"})), "data"),
        (
            tool_jwt(
                tool_key,
                _dl_response(
                    request, tool, exp=int(time.time()) - 3600, iat=int(time.time()) - 4000
                ),
            ),
            "expired",
        ),
        (tool_jwt(tool_key, _dl_response(request, tool, nonce="")), "nonce"),
        (
            tool_jwt(
                tool_key,
                _dl_response(
                    request,
                    tool,
                    **{
                        v.CLAIM_DL_CONTENT_ITEMS: [
                            {"type": "file", "url": "https://x.example/a.pdf"}
                        ]
                    },
                ),
            ),
            "ltiResourceLink",
        ),
        (
            tool_jwt(
                tool_key,
                _dl_response(
                    request,
                    tool,
                    **{
                        v.CLAIM_DL_CONTENT_ITEMS: [
                            {"type": "ltiResourceLink", "lineItem": {"scoreMaximum": 0}}
                        ]
                    },
                ),
            ),
            "scoreMaximum",
        ),
        (
            tool_jwt(
                tool_key,
                _dl_response(
                    request,
                    tool,
                    **{
                        v.CLAIM_DL_CONTENT_ITEMS: [
                            {"type": "ltiResourceLink", "url": "javascript:alert(1)"}
                        ]
                    },
                ),
            ),
            "http(s)",
        ),
        ("not-a-jwt", "JWT"),
    ]
    for token, reason in bad_cases:
        page = client.post("/lti/deep-linking/return", data={"JWT": token})
        assert page.status_code == 400, reason
        assert reason in page.text, (reason, page.text[-800:])
    assert client.post("/lti/deep-linking/return", data={}).status_code == 400
    with container.database.session() as session:
        assert session.scalar(select(ResourceLink.id)) is None  # nothing was created
    # A valid response is accepted once; its replay is refused.
    good = tool_jwt(tool_key, _dl_response(request, tool))
    assert client.post("/lti/deep-linking/return", data={"JWT": good}).status_code == 200
    replay = client.post("/lti/deep-linking/return", data={"JWT": good})
    assert replay.status_code == 400
    assert "replayed" in replay.text
