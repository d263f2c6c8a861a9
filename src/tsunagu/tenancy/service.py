"""Creating and finding tenants."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.tenancy.models import Tenant

# 教育委員会コード: six digits, first in 0-4 (eportal-standard.md §4.7, DA2022 K社).
BOARD_CODE_PATTERN = re.compile(r"^[0-4][0-9]{5}$")


class TenantError(ValueError):
    """A tenant operation was refused; the message says why."""


class TenantNotFoundError(TenantError):
    pass


@dataclass(frozen=True)
class TenantRef:
    """The little every service needs to know about the tenant it works for."""

    id: int
    code: str
    name: str


def _ref(tenant: Tenant) -> TenantRef:
    return TenantRef(id=tenant.id, code=tenant.code, name=tenant.name)


def create_tenant(session: Session, code: str, name: str) -> TenantRef:
    code = code.strip()
    name = name.strip()
    if not BOARD_CODE_PATTERN.fullmatch(code):
        raise TenantError(
            f"'{code}' is not a 教育委員会コード: six digits, the first 0-4 (e.g. 131016)."
        )
    if not name:
        raise TenantError("A tenant needs a name (e.g. ○○市教育委員会).")
    if session.scalar(select(Tenant.id).where(Tenant.code == code)) is not None:
        raise TenantError(f"A tenant with code {code} already exists.")
    tenant = Tenant(code=code, name=name)
    session.add(tenant)
    session.flush()
    return _ref(tenant)


def get_tenant(session: Session, code: str) -> TenantRef:
    tenant = session.scalar(select(Tenant).where(Tenant.code == code.strip()))
    if tenant is None:
        raise TenantNotFoundError(
            f"No tenant with code {code}. Create it with 'tsunagu tenant create'."
        )
    return _ref(tenant)


def get_tenant_by_id(session: Session, tenant_id: int) -> TenantRef:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"No tenant with id {tenant_id}.")
    return _ref(tenant)


def list_tenants(session: Session) -> list[TenantRef]:
    return [_ref(t) for t in session.scalars(select(Tenant).order_by(Tenant.code))]
