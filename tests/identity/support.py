"""Signing a test client in as a roster user.

CONTRACT for the tests of every domain: ``sign_in(client, container, tenant_code,
user_sourced_id)`` leaves ``client`` signed in as that user and returns their principal. This
first version overrides the ``optional_principal`` dependency on the client's app; the identity
domain replaces it with a real sign-in through the sign-in form, keeping the signature.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tsunagu.container import Container
from tsunagu.identity.principal import Principal, load_principal
from tsunagu.identity.web import optional_principal
from tsunagu.tenancy.models import Tenant


def sign_in(
    client: TestClient, container: Container, tenant_code: str, user_sourced_id: str
) -> Principal:
    with container.database.session() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.code == tenant_code))
        assert tenant_id is not None, f"no tenant {tenant_code}"
        principal = load_principal(session, tenant_id, user_sourced_id)
    assert principal is not None, f"{user_sourced_id} may not sign in"
    app = client.app
    app.dependency_overrides[optional_principal] = lambda: principal  # type: ignore[attr-defined]
    return principal
