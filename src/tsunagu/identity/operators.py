"""Who may sign in, as whom: the roster's principal plus the operator grant kept here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tsunagu.identity.models import Operator
from tsunagu.identity.principal import Principal, load_principal
from tsunagu.machine_credentials import utcnow


def principal_for(session: Session, tenant_id: int, user_sourced_id: str) -> Principal | None:
    """The principal every sign-in path and every session refresh uses."""
    operator = session.get(Operator, (tenant_id, user_sourced_id)) is not None
    return load_principal(session, tenant_id, user_sourced_id, operator=operator)


def grant(session: Session, tenant_id: int, user_sourced_id: str) -> bool:
    """Make a user an operator; False if they already were."""
    if session.get(Operator, (tenant_id, user_sourced_id)) is not None:
        return False
    session.add(Operator(tenant_id=tenant_id, user_sourced_id=user_sourced_id, granted_at=utcnow()))
    return True


def revoke(session: Session, tenant_id: int, user_sourced_id: str) -> bool:
    row = session.get(Operator, (tenant_id, user_sourced_id))
    if row is None:
        return False
    session.delete(row)
    return True
