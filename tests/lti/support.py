"""Helpers for the LTI tests: a small roster, a registered tool with its own key, form parsing,
and a checker of the Japan rules of eportal-standard.md §3 on an id_token."""

from __future__ import annotations

import html
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.roster.packages import BOARD_CODE, uid, valid_roster, write_package
from tsunagu.container import Container
from tsunagu.lti import registry
from tsunagu.lti import vocabulary as v
from tsunagu.roster.importer import import_roster
from tsunagu.tenancy.service import create_tenant

TOOL_BASE = "https://drill.example.com"
ELEM_SCHOOL_CODE_PREFIX = "B11321000001"


@dataclass(frozen=True)
class People:
    teacher: str
    junior_teacher: str
    students: tuple[str, ...]
    junior_student: str
    homeroom: str
    math: str
    junior_homeroom: str

    @staticmethod
    def of(board: str = BOARD_CODE) -> People:
        return People(
            teacher=uid(f"{board}:user:t-elem"),
            junior_teacher=uid(f"{board}:user:t-junior"),
            students=tuple(uid(f"{board}:user:{s}") for s in ("s1", "s2", "s3")),
            junior_student=uid(f"{board}:user:s4"),
            homeroom=uid(f"{board}:class:5-1"),
            math=uid(f"{board}:class:5-math"),
            junior_homeroom=uid(f"{board}:class:j1-1"),
        )


def load_roster(container: Container, tmp_path: Path, board: str = BOARD_CODE) -> People:
    with container.database.transaction() as session:
        create_tenant(session, board, "つなぐ市教育委員会")
    package = write_package(tmp_path / f"roster-{board}", valid_roster(board))
    result = import_roster(container, board, package)
    assert result.accepted, result.errors[:3]
    return People.of(board)


def register_tool(
    container: Container,
    key: RSAKey,
    *,
    client_id: str = "drill-tool",
    scopes: tuple[str, ...] = ("score", "lineitem", "result.readonly", "nrps"),
    base: str = TOOL_BASE,
    send_name: bool = False,
) -> str:
    jwk = dict(key.as_dict(private=False))
    jwk.update(kid="tool-key-1", alg="RS256", use="sig")
    with container.database.transaction() as session:
        registry.register_tool(
            session,
            name="計算ドリル",
            client_id=client_id,
            login_initiation_url=f"{base}/login",
            redirect_uris=[f"{base}/launch"],
            target_link_uri=f"{base}/launch",
            public_jwks={"keys": [jwk]},
            deep_linking_url=f"{base}/launch",
            custom={"vendor": "drill"},
            scopes=list(scopes),
            send_name=send_name,
        )
        registry.deploy_tool(session, client_id, BOARD_CODE)
    return client_id


def tool_jwt(key: RSAKey, claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": "tool-key-1", "typ": "JWT"}, claims, key)


FORM_ACTION = re.compile(r'<form id="lti-form" method="post" action="([^"]*)"')
FORM_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def parse_form(page: str) -> tuple[str, dict[str, str]]:
    action = FORM_ACTION.search(page)
    assert action is not None, page[:500]
    fields = {html.unescape(n): html.unescape(val) for n, val in FORM_FIELD.findall(page)}
    return html.unescape(action.group(1)), fields


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def auth_request(
    initiation: dict[str, str], *, redirect_uri: str, nonce: str | None = None, state: str = "st-1"
) -> dict[str, str]:
    """What a tool sends to the authorization endpoint after the login initiation."""
    return {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": initiation["client_id"],
        "redirect_uri": redirect_uri,
        "login_hint": initiation["login_hint"],
        "lti_message_hint": initiation["lti_message_hint"],
        "state": state,
        "nonce": nonce or uuid.uuid4().hex,
    }


def verify_id_token(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])  # type: ignore[arg-type]
    return dict(decoded.claims)


def assert_japan_rules(claims: dict[str, Any], *, client_id: str, issuer: str) -> None:
    """Each rule of eportal-standard.md §3.3-3.7 that Japanese tools check."""
    assert claims["iss"] == issuer
    assert claims["aud"] == client_id or claims["aud"][0] == client_id
    # sub: UUID v4, lower-case canonical (§3.6)
    assert v.UUID4.fullmatch(claims["sub"]), claims["sub"]
    assert claims["iat"] > 0
    assert claims["iat"] <= time.time() + 1
    assert 0 < claims["exp"] - claims["iat"] <= 600
    assert claims["nonce"]
    assert claims[v.CLAIM_VERSION] == "1.3.0"
    assert claims[v.CLAIM_MESSAGE_TYPE] in (v.RESOURCE_LINK_REQUEST, v.DEEP_LINKING_REQUEST)
    deployment_id = claims[v.CLAIM_DEPLOYMENT_ID]
    assert deployment_id.isascii()
    assert len(deployment_id) <= 255
    assert v.SCHOOL_DEPLOYMENT.fullmatch(deployment_id) or v.BOARD_DEPLOYMENT.fullmatch(
        deployment_id
    )
    assert claims[v.CLAIM_TARGET_LINK_URI]
    roles = claims[v.CLAIM_ROLES]
    assert isinstance(roles, list)
    assert roles
    assert all(r in v.ALLOWED_ROLES for r in roles), roles
    assert claims[v.CLAIM_CONTEXT]["id"]
    assert v.UUID4.fullmatch(claims[v.CLAIM_TOOL_PLATFORM]["guid"])
    custom = claims[v.CLAIM_CUSTOM]
    assert isinstance(custom, dict)
    assert "classname" in custom
    if "grade" in custom:
        assert v.GRADE_CODE.fullmatch(custom["grade"])
    if claims[v.CLAIM_MESSAGE_TYPE] == v.RESOURCE_LINK_REQUEST:
        assert claims[v.CLAIM_RESOURCE_LINK]["id"]
    else:
        settings = claims[v.CLAIM_DL_SETTINGS]
        assert settings["deep_link_return_url"]
        assert "ltiResourceLink" in settings["accept_types"]
        assert settings["accept_presentation_document_targets"]
    # Privacy by default: no names or e-mail unless the registration asks.
    assert claims[v.CLAIM_LAUNCH_PRESENTATION]["locale"] == "ja-JP"
