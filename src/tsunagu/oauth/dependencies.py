"""FastAPI dependencies that turn a bearer token into a :class:`~tsunagu.oauth.service.Principal`.

Failures raise :class:`BearerAuthError`; each API renders it in its own error format (OneRoster
uses the imsx envelope) with the RFC 6750 §3 ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.oauth.scopes import scope_descriptions
from tsunagu.oauth.service import Principal, TokenVerifier

#: Name of the security scheme in the OpenAPI document (the official OneRoster file's name).
SCHEME_NAME = "OAuth2CC"
TOKEN_URL = "/oauth/token"  # noqa: S105 (a path, not a password)

oauth2_client_credentials = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl=TOKEN_URL, scopes=scope_descriptions()
        )
    ),
    scheme_name=SCHEME_NAME,
    description=(
        "OAuth 2.0 client credentials (RFC 6749 §4.4, 1EdTech Security Framework). Get a token "
        "from `POST /oauth/token` with the client id and secret an administrator created with "
        "`tsunagu oauth-client create`, then send `Authorization: Bearer <token>`. A client "
        "belongs to one board of education (tenant) and only ever sees that tenant's data. "
        "Demographics are deliberately not stored by Tsunagu (birth dates stay in the 校務 "
        "system), so no demographics scope or endpoint is offered."
    ),
    auto_error=False,
)


class BearerAuthError(Exception):
    """No usable token (401) or a token without the needed scope (403)."""

    def __init__(
        self,
        status_code: int,
        description: str,
        *,
        error: str | None = None,
        scopes: Sequence[str] = (),
    ) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.description = description
        self.error = error
        self.scopes = tuple(scopes)

    @property
    def www_authenticate(self) -> str:
        """The RFC 6750 §3 challenge for this failure."""
        parts = ['Bearer realm="tsunagu"']
        if self.error:
            parts.append(f'error="{self.error}"')
        if self.scopes:
            parts.append(f'scope="{" ".join(self.scopes)}"')
        return ", ".join(parts)


def _verifier(request: Request, container: Container) -> TokenVerifier:
    # One verifier (and its cache) per application, created on first use.
    verifier: TokenVerifier | None = getattr(request.app.state, "oauth_token_verifier", None)
    if verifier is None:
        verifier = TokenVerifier(container.settings.resolved_secret_key)
        request.app.state.oauth_token_verifier = verifier
    return verifier


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise BearerAuthError(401, "An access token is required (Authorization: Bearer …).")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise BearerAuthError(
            401, "The Authorization header must be 'Bearer <token>'.", error="invalid_request"
        )
    return token


def require_scopes(
    documented: str, *also_accepted: str
) -> Callable[[Request, str | None, Container], Principal]:
    """A dependency accepting a token that carries ``documented`` or any of ``also_accepted``.

    ``documented`` is the scope FastAPI writes into the operation's security requirement; a route
    that accepts alternatives documents them itself (OpenAPI lists alternatives as separate
    requirements, which ``Security`` cannot express).
    """
    accepted = frozenset((documented, *also_accepted))

    def dependency(
        request: Request,
        authorization: str | None = Security(oauth2_client_credentials, scopes=[documented]),
        container: Container = Depends(container_dependency),
    ) -> Principal:
        token = _bearer_token(authorization)
        with container.database.session() as session:
            principal = _verifier(request, container).verify(session, token)
        if principal is None:
            raise BearerAuthError(
                401, "The access token is invalid, expired or revoked.", error="invalid_token"
            )
        if not principal.scopes & accepted:
            raise BearerAuthError(
                403,
                "The access token lacks a scope this operation needs.",
                error="insufficient_scope",
                scopes=sorted(accepted),
            )
        return principal

    return dependency
