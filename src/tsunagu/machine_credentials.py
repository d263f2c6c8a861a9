"""Machine credentials: key/secret pairs that tools and services present, one tenant each.

OAuth 2.0 clients (OneRoster REST, later LTI services) and LRS credentials (xAPI Basic auth) are
the same thing underneath: an identifier, a 256-bit random secret kept only as an HMAC-SHA256
under the deployment key, granted scopes, an owning tenant, and revocation. Verifying a keyed
hash costs microseconds, where a slow password hash would cap a busy LRS at a few dozen requests
per second; a stolen database still yields no usable secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from tsunagu.tenancy.models import Tenant
from tsunagu.tenancy.service import TenantRef, get_tenant


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Tsunagu stores is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def split_scopes(value: str) -> tuple[str, ...]:
    return tuple(s for s in value.split(" ") if s)


class MachineCredential:
    """Columns every machine credential table shares (mixed into its ORM class)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"), index=True)

    #: HMAC-SHA256 of the secret under the deployment key; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Who it is for (tool or vendor).
    name: Mapped[str] = mapped_column(Text)
    #: Space-separated granted scopes.
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


C = TypeVar("C", bound=MachineCredential)


def register(
    session: Session,
    row: C,
    deployment_key: bytes,
    *,
    tenant_code: str,
    name: str,
    scopes: tuple[str, ...],
    now: datetime | None = None,
) -> tuple[C, TenantRef, str]:
    """Fill ``row`` (with its identifier already set) for a tenant and store it.

    Returns the row, its tenant and the secret, which is shown once and never stored.
    """
    tenant = get_tenant(session, tenant_code)
    secret = new_secret()
    row.tenant_id = tenant.id
    row.secret_hash = keyed_hash(deployment_key, secret)
    row.name = name
    row.scopes = " ".join(scopes)
    row.created_at = now or utcnow()
    session.add(row)
    session.flush()
    return row, tenant, secret


def of_tenant(session: Session, model: type[C], tenant_code: str) -> tuple[TenantRef, list[C]]:
    """A tenant's credentials of one kind, oldest first."""
    tenant = get_tenant(session, tenant_code)
    order: list[Any] = [model.created_at, getattr(model, "id")]  # noqa: B009
    rows = session.scalars(select(model).where(model.tenant_id == tenant.id).order_by(*order))
    return tenant, list(rows)


def find_with_tenant(
    session: Session, model: type[C], identifier: Any, value: str
) -> tuple[C, str] | None:
    """The credential whose ``identifier`` column equals ``value``, with its tenant's code."""
    found = session.execute(
        select(model, Tenant.code)
        .join(Tenant, Tenant.id == model.tenant_id)
        .where(identifier == value.strip())
    ).first()
    return None if found is None else (found[0], found[1])


def revoke(row: MachineCredential, now: datetime | None = None) -> None:
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
