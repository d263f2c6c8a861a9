"""OAuth 2.0 client credentials with a JWT client assertion (1EdTech Security Framework §4.1).

The tool signs an assertion with its own key (``private_key_jwt``, RFC 7523): ``iss`` = ``sub`` =
its client_id, ``aud`` = this token endpoint (or the issuer, which Dynamic Registration advertises
as the authorization server), a ``jti`` seen only once, and a short ``exp``. The token it gets
carries the requested scopes that the registration grants (the permitted subset: pylti1p3 asks for
every scope in the launch's AGS claim at once, lti-oneroster-notes.md §1.4.2), and lives
``lti_access_token_lifetime_seconds``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from tsunagu.container import Container
from tsunagu.lti.launch import issuer, token_url, use_once
from tsunagu.lti.models import TOOL_ACTIVE, AccessToken, Tool
from tsunagu.lti.toolkeys import ToolTokenError, header_and_claims, verify_tool_jwt
from tsunagu.machine_credentials import as_utc, keyed_hash, utcnow

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: Longest assertion lifetime accepted (the jti is remembered this long).
MAX_ASSERTION_SECONDS = 600


class TokenError(Exception):
    """An RFC 6749 §5.2 error."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ToolPrincipal:
    """The tool behind a service request."""

    tool_id: int
    client_id: str
    scopes: frozenset[str]


def _hash(container: Container, token: str) -> str:
    return keyed_hash(container.settings.resolved_secret_key, "lti-access:" + token)


def issue_token(container: Container, form: dict[str, str]) -> IssuedToken:
    if form.get("grant_type") != "client_credentials":
        raise TokenError("unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise TokenError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = form.get("client_assertion", "")
    try:
        _, unverified = header_and_claims(assertion)
    except ToolTokenError as exc:
        raise TokenError("invalid_client", str(exc)) from exc
    client_id = unverified.get("iss")
    settings = container.settings
    with container.database.session() as session:
        tool = session.scalar(select(Tool).where(Tool.client_id == str(client_id)))
        if tool is None or tool.status != TOOL_ACTIVE:
            raise TokenError("invalid_client", "unknown or inactive client")
        try:
            claims = verify_tool_jwt(tool, assertion)
        except ToolTokenError as exc:
            raise TokenError("invalid_client", str(exc)) from exc
        tool_id = tool.id
        granted = [s for s in tool.scopes.split(" ") if s]
    if claims.get("sub") != client_id:
        raise TokenError("invalid_client", "sub must equal iss (the client_id)")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not {token_url(settings), issuer(settings)} & set(audiences):
        raise TokenError("invalid_client", f"aud must be the token endpoint {token_url(settings)}")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise TokenError("invalid_client", "jti is required")
    if float(claims["exp"]) - time.time() > MAX_ASSERTION_SECONDS:
        raise TokenError("invalid_client", "the assertion lives too long (exp)")
    if not use_once(container, "jti", f"{tool_id}:{jti}", MAX_ASSERTION_SECONDS + 120):
        raise TokenError("invalid_client", "the assertion was already used (jti)")
    requested = [s for s in form.get("scope", "").split(" ") if s]
    scopes = tuple(s for s in requested if s in granted) if requested else tuple(granted)
    if not scopes:
        raise TokenError("invalid_scope", "none of the requested scopes is granted to this tool")
    token = secrets.token_urlsafe(32)
    lifetime = settings.lti_access_token_lifetime_seconds
    with container.database.transaction() as session:
        session.add(
            AccessToken(
                token_hash=_hash(container, token),
                tool_id=tool_id,
                scopes=" ".join(scopes),
                expires_at=utcnow() + timedelta(seconds=lifetime),
            )
        )
    return IssuedToken(access_token=token, expires_in=lifetime, scopes=scopes)


def verify_access_token(container: Container, token: str) -> ToolPrincipal | None:
    with container.database.session() as session:
        row = session.get(AccessToken, _hash(container, token))
        if row is None or as_utc(row.expires_at) <= utcnow():
            return None
        tool = session.get(Tool, row.tool_id)
        if tool is None or tool.status != TOOL_ACTIVE:
            return None
        # A scope withdrawn from the registration stops working at once.
        granted = set(tool.scopes.split(" "))
        return ToolPrincipal(
            tool_id=tool.id,
            client_id=tool.client_id,
            scopes=frozenset(s for s in row.scopes.split(" ") if s in granted),
        )
