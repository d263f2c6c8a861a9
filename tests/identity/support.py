"""Signing a test client in as a roster user.

CONTRACT for the tests of every domain: ``sign_in(client, container, tenant_code,
user_sourced_id)`` leaves ``client`` signed in as that user and returns their principal. It is a
real sign-in: a local password is set through the identity service, then the sign-in form is
fetched and posted (with its CSRF token), and administrators answer the TOTP step with a code
computed from their enrolled secret. The client ends up holding a real session cookie.

When the portal's base URL is https (the test settings' is), cookies are ``Secure``, so the
client is switched to an https base URL on the same host.
"""

from __future__ import annotations

import time

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from tsunagu.container import Container
from tsunagu.identity import service
from tsunagu.identity.models import TotpSecret
from tsunagu.identity.operators import principal_for
from tsunagu.identity.principal import Principal
from tsunagu.roster.models import User
from tsunagu.tenancy.models import Tenant

#: The local password ``sign_in`` gives people (meets the password policy).
TEST_PASSWORD = "correct-horse-battery-staple"


def csrf_token(client: TestClient, path: str = "/signin") -> str:
    """Fetch a page so the CSRF cookie is set, and return the token forms must carry."""
    response = client.get(path, follow_redirects=False)
    assert response.status_code < 500, response.text
    token = client.cookies.get("csrftoken")
    assert token, "the CSRF middleware set no cookie"
    return token


def totp_code_for(container: Container, tenant_id: int, user_sourced_id: str) -> str:
    """A TOTP code not used yet (each code is good once; the next step is accepted too)."""
    with container.database.session() as session:
        row = session.get(TotpSecret, (tenant_id, user_sourced_id))
        assert row is not None, "no TOTP enrollment"
        totp = pyotp.TOTP(service.totp_secret(container, row))
        step = max(int(time.time()) // totp.interval, row.last_step + 1)
        return totp.generate_otp(step)


def sign_in(
    client: TestClient, container: Container, tenant_code: str, user_sourced_id: str
) -> Principal:
    if container.settings.is_https and client.base_url.scheme != "https":
        client.base_url = client.base_url.copy_with(scheme="https")
    with container.database.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.code == tenant_code))
        assert tenant_id is not None, f"no tenant {tenant_code}"
        user = session.get(User, (tenant_id, user_sourced_id))
        assert user is not None, f"no user {user_sourced_id} in {tenant_code}"
        username = user.username
        service.set_password(session, container, tenant_code, user_sourced_id, TEST_PASSWORD)
    token = csrf_token(client)
    response = client.post(
        "/signin",
        data={
            "csrftoken": token,
            "username": username,
            "password": TEST_PASSWORD,
            "tenant": tenant_code,
            "next": "/me",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    if response.headers["location"] == "/signin/totp":
        client.get("/signin/totp")  # enrolls the administrator on first sign-in
        response = client.post(
            "/signin/totp",
            data={"csrftoken": token, "code": totp_code_for(container, tenant_id, user_sourced_id)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    assert response.headers["location"] == "/me"
    with container.database.session() as session:
        principal = principal_for(session, tenant_id, user_sourced_id)
    assert principal is not None, f"{user_sourced_id} may not sign in"
    return principal
