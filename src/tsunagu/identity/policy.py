"""Every permission decision, in one place. Handlers ask; they never look at roles themselves.

The rules (issue 4 §3): nobody crosses tenants; a student sees only themself; a teacher sees the
classes they teach and the people in them; a school administrator (``principal`` /
``siteAdministrator``) sees and administers their schools; a board administrator
(``districtAdministrator``) and the deployment operator administer their tenant. Functions are
pure: they take the principal and small descriptions of the thing asked about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tsunagu.identity.principal import PortalRole, Principal


@dataclass(frozen=True)
class ClassRef:
    tenant_id: int
    sourced_id: str
    school_sourced_id: str


@dataclass(frozen=True)
class UserRef:
    tenant_id: int
    sourced_id: str
    #: Schools where the person has a role or an enrollment.
    school_sourced_ids: frozenset[str] = field(default_factory=frozenset)
    #: Classes the person attends (as a student).
    class_sourced_ids: frozenset[str] = field(default_factory=frozenset)


def _same_tenant(principal: Principal, tenant_id: int) -> bool:
    return principal.tenant_id == tenant_id


def is_tenant_admin(principal: Principal) -> bool:
    return principal.has(PortalRole.BOARD_ADMIN) or principal.has(PortalRole.OPERATOR)


def can_administer_tenant(principal: Principal, tenant_id: int) -> bool:
    return _same_tenant(principal, tenant_id) and is_tenant_admin(principal)


def can_administer_school(principal: Principal, tenant_id: int, school_sourced_id: str) -> bool:
    if not _same_tenant(principal, tenant_id):
        return False
    if is_tenant_admin(principal):
        return True
    return (
        principal.has(PortalRole.SCHOOL_ADMIN) and school_sourced_id in principal.school_sourced_ids
    )


def can_view_class(principal: Principal, klass: ClassRef) -> bool:
    """See a class exists and its page (members see their own class)."""
    if not _same_tenant(principal, klass.tenant_id):
        return False
    if can_administer_school(principal, klass.tenant_id, klass.school_sourced_id):
        return True
    return klass.sourced_id in principal.classes_taught() | principal.classes_attended()


def can_view_class_roster(principal: Principal, klass: ClassRef) -> bool:
    """See who is in a class: its teachers and the administrators above it, not its pupils."""
    if not _same_tenant(principal, klass.tenant_id):
        return False
    if can_administer_school(principal, klass.tenant_id, klass.school_sourced_id):
        return True
    return klass.sourced_id in principal.classes_taught()


def can_issue_sign_in_cards(principal: Principal, klass: ClassRef) -> bool:
    return can_view_class_roster(principal, klass)


def can_view_user(principal: Principal, user: UserRef) -> bool:
    if not _same_tenant(principal, user.tenant_id):
        return False
    if user.sourced_id == principal.user_sourced_id:
        return True
    if is_tenant_admin(principal):
        return True
    if principal.has(PortalRole.SCHOOL_ADMIN) and (
        user.school_sourced_ids & principal.school_sourced_ids
    ):
        return True
    return bool(principal.classes_taught() & user.class_sourced_ids)


def can_read_audit_log(principal: Principal, tenant_id: int) -> bool:
    return can_administer_tenant(principal, tenant_id)
