"""Verifying JWTs a tool signs (Deep Linking responses, client assertions) with the tool's keys.

Keys come from the registration: a stored public JWK set, or the tool's JWKS URL, fetched with a
short cache and fetched again once when a token names a ``kid`` the cache lacks (the tool rotated).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from tsunagu.lti.models import Tool

_CACHE_SECONDS = 300.0
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class ToolTokenError(ValueError):
    """A tool's JWT could not be verified; the message says why."""


def _fetch(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=5.0, follow_redirects=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ToolTokenError(f"the tool's JWKS at {url} could not be read: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ToolTokenError(f"the tool's JWKS at {url} is not a JWK set")
    return document


def _jwks(tool: Tool, kid: str | None) -> dict[str, Any]:
    if tool.public_jwks is not None:
        return tool.public_jwks
    assert tool.jwks_url is not None
    url = tool.jwks_url
    with _lock:
        cached = _cache.get(url)
    now = time.monotonic()
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        document = cached[1]
        if kid is None or any(k.get("kid") == kid for k in document["keys"]):
            return document
    document = _fetch(url)
    with _lock:
        _cache[url] = (now, document)
    return document


def header_and_claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified header and claims (to find the tool before verifying)."""
    try:
        compact = extract_compact(token.encode())
        import json

        claims = json.loads(compact.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise ToolTokenError(f"not a compact JWS: {exc}") from exc
    if not isinstance(claims, dict):
        raise ToolTokenError("the JWT payload is not a JSON object")
    return dict(compact.protected), claims


def verify_tool_jwt(tool: Tool, token: str, *, leeway: int = 60) -> dict[str, Any]:
    """The claims of ``token`` if it is RS256-signed by one of the tool's keys and in date."""
    header, _ = header_and_claims(token)
    if header.get("alg") != "RS256":
        raise ToolTokenError("the JWT must be signed with RS256")
    kid = header.get("kid")
    try:
        keys = KeySet.import_key_set(_jwks(tool, kid if isinstance(kid, str) else None))  # type: ignore[arg-type]
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
    except ToolTokenError:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise ToolTokenError(f"the signature does not verify with the tool's keys: {exc}") from exc
    claims = dict(decoded.claims)
    now = int(time.time())
    exp = claims.get("exp")
    iat = claims.get("iat")
    if not isinstance(exp, int | float) or exp + leeway < now:
        raise ToolTokenError("the JWT has expired (or has no exp)")
    if not isinstance(iat, int | float) or iat - leeway > now:
        raise ToolTokenError("the JWT is issued in the future (or has no iat)")
    return claims
