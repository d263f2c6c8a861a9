"""``POST /oauth/token``: the OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4).

The form is parsed by hand rather than with FastAPI ``Form`` parameters so that every malformed
request gets an RFC 6749 §5.2 error body instead of FastAPI's 422.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security.http import HTTPAuthorizationCredentials, HTTPBase
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.oauth import service
from tsunagu.oauth.service import OAuthError

router = APIRouter(tags=["OAuth 2.0"])

#: Documents client_secret_basic in the OpenAPI file; the header is decoded below (RFC 6749
#: §2.3.1 wants the id and secret form-urlencoded before Base64, which HTTPBasic does not undo).
client_basic_auth = HTTPBase(
    scheme="basic",
    scheme_name="clientSecretBasic",
    description="OAuth 2.0 client authentication with HTTP Basic (RFC 6749 §2.3.1).",
    auto_error=False,
)

#: RFC 6749 §5.2 errors and the HTTP status each is sent with.
_ERROR_STATUS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "invalid_scope": 400,
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_BODY = 8192


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful response."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (RFC 6750 token type)
    expires_in: int = Field(description="Lifetime of the token in seconds.")
    scope: str = Field(description="Space-separated scopes the token carries.")


class TokenErrorResponse(BaseModel):
    """RFC 6749 §5.2 error response."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    ]
    error_description: str | None = None


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {
            "type": "string",
            "description": "Space-separated subset of the client's scopes; default: all of them.",
        },
        "client_id": {"type": "string", "description": "client_secret_post only."},
        "client_secret": {"type": "string", "description": "client_secret_post only."},
    },
}


def _error(error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if error == "invalid_client":
        # RFC 6749 §5.2: a 401 for invalid_client carries the authentication scheme challenge.
        headers["WWW-Authenticate"] = 'Basic realm="tsunagu-oauth", charset="UTF-8"'
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=_ERROR_STATUS[error],
        headers=headers,
    )


def _basic_credentials(credentials: HTTPAuthorizationCredentials) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials.credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_client", "Malformed HTTP Basic credentials.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Malformed HTTP Basic credentials.")
    return unquote_plus(client_id), unquote_plus(secret)


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request",
            "The body must be application/x-www-form-urlencoded (RFC 6749 §4.4.2).",
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:  # stop reading: a token request is a few hundred bytes
            raise OAuthError("invalid_request", "Request body too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "The body is not valid form data.") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # RFC 6749 §3.2: request parameters MUST NOT be included more than once.
            raise OAuthError("invalid_request", f"Parameter '{name}' is repeated.")
        form[name] = value
    return form


def _client_credentials(
    form: dict[str, str], basic: HTTPAuthorizationCredentials | None
) -> tuple[str, str]:
    """The client id and secret, from exactly one of the two methods (RFC 6749 §2.3.1)."""
    if basic is not None:
        if basic.scheme.lower() != "basic":
            raise OAuthError("invalid_client", "Only HTTP Basic client authentication is accepted.")
        if "client_secret" in form:
            raise OAuthError("invalid_request", "Use one client authentication method, not two.")
        client_id, client_secret = _basic_credentials(basic)
        if "client_id" in form and form["client_id"] != client_id:
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials.")
        return client_id, client_secret
    if "client_id" in form and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    raise OAuthError("invalid_client", "Client authentication is required.")


def _issue(
    container: Container, client_id: str, client_secret: str, scope: str | None
) -> service.IssuedToken:
    settings = container.settings
    with container.database.transaction() as session:
        return service.issue_token(
            session,
            settings.resolved_secret_key,
            client_id=client_id,
            client_secret=client_secret,
            requested_scope=scope,
            lifetime_seconds=settings.oauth_token_lifetime_seconds,
        )


@router.post(
    "/oauth/token",
    operation_id="issueToken",
    summary="Issue an access token (OAuth 2.0 client credentials)",
    description=(
        "RFC 6749 §4.4. Authenticate with HTTP Basic (client_secret_basic) or with `client_id` "
        "and `client_secret` form fields (client_secret_post), not both. The token is opaque; "
        "send it as `Authorization: Bearer <token>` to the OneRoster endpoints."
    ),
    response_model=TokenResponse,
    responses={
        400: {"model": TokenErrorResponse, "description": "RFC 6749 §5.2 error."},
        401: {"model": TokenErrorResponse, "description": "invalid_client."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA}},
        },
        # Either Basic or the form fields: an empty requirement documents the second option.
        "security": [{}],
    },
)
async def token(
    request: Request,
    basic: HTTPAuthorizationCredentials | None = Depends(client_basic_auth),
    container: Container = Depends(container_dependency),
) -> JSONResponse:
    try:
        form = await _read_form(request)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required.")
        client_id, client_secret = _client_credentials(form, basic)
        if grant_type != "client_credentials":
            raise OAuthError(
                "unsupported_grant_type", "Only the client_credentials grant is supported."
            )
        issued = await run_in_threadpool(
            _issue, container, client_id, client_secret, form.get("scope")
        )
    except OAuthError as exc:
        return _error(exc.error, exc.description)
    body = TokenResponse(
        access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)
