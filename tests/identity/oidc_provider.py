"""A real OpenID Provider on loopback for the sign-in tests (``oidc-provider-mock``, Authlib).

It issues real RS256 id_tokens from its own key, publishes its JWKS and discovery document, and
runs the authorization code flow with PKCE and nonce. Users and their claims are set at run time
(``PUT /users/<sub>``); the claims go into the id_token as given, which is how the tests make a
Google-like token (``hd``), an Entra-like one (``tid``, ``oid``, ``preferred_username``) or a
broken one (another ``aud``, an ``exp`` in the past).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi.testclient import TestClient
from oidc_provider_mock import run_server_in_thread


class LoopbackProvider:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://localhost:{port}"
        self.discovery_url = f"{self.url}/.well-known/openid-configuration"

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        response = httpx.put(f"{self.url}/users/{sub}", json=claims)
        assert response.status_code == 204, response.text

    def authorize(self, authorization_url: str, sub: str) -> str:
        """The person ``sub`` signs in at the provider; returns where it sends the browser."""
        assert authorization_url.startswith(self.url), authorization_url
        response = httpx.post(authorization_url, data={"sub": sub}, follow_redirects=False)
        assert response.status_code == 302, response.text
        return response.headers["location"]


@contextmanager
def loopback_provider(port: int = 0) -> Iterator[LoopbackProvider]:
    with run_server_in_thread(port=port, require_nonce=True) as server:
        yield LoopbackProvider(server.server_port)


def sign_in_via(
    client: TestClient, provider: LoopbackProvider, provider_id: int, sub: str
) -> tuple[httpx.Response, str]:
    """Run the whole browser round trip; returns our callback's answer and the callback URL."""
    start = client.get(f"/signin/oidc/{provider_id}", follow_redirects=False)
    assert start.status_code == 303, start.text
    callback = provider.authorize(start.headers["location"], sub)
    parts = urlsplit(callback)
    path = f"{parts.path}?{parts.query}"
    return client.get(path, follow_redirects=False), path
