"""Who is signed in: the one shape every other domain receives from identity.

A :class:`Principal` is built from the roster at sign-in (and rebuilt when the session is
refreshed), so handlers never query roles themselves: they ask :mod:`tsunagu.identity.policy`
with a principal. The roster stays the source of truth; a pupil withdrawn by today's import has
no principal tomorrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session

from tsunagu.roster.models import ACTIVE, Enrollment, Role, User
from tsunagu.tenancy.models import Tenant


class PortalRole(StrEnum):
    """The portal's own roles, derived from OneRoster ``roles.csv`` and ``enrollments.csv``."""

    STUDENT = "student"
    TEACHER = "teacher"
    SCHOOL_ADMIN = "school_admin"
    BOARD_ADMIN = "board_admin"
    #: Runs the deployment (not from the roster: granted by the operator CLI).
    OPERATOR = "operator"


#: OneRoster ``roles.role`` values → the portal role they give (over ``roles.orgSourcedId``).
ROSTER_ROLE_MAP: dict[str, PortalRole] = {
    "student": PortalRole.STUDENT,
    "teacher": PortalRole.TEACHER,
    "aide": PortalRole.TEACHER,
    "proctor": PortalRole.TEACHER,
    "principal": PortalRole.SCHOOL_ADMIN,
    "siteAdministrator": PortalRole.SCHOOL_ADMIN,
    "districtAdministrator": PortalRole.BOARD_ADMIN,
}


@dataclass(frozen=True)
class ClassMembership:
    class_sourced_id: str
    school_sourced_id: str
    #: The enrollment role: ``student``, ``teacher``, ``administrator`` or ``proctor``.
    role: str
    shusseki_no: str | None = None


@dataclass(frozen=True)
class Principal:
    tenant_id: int
    tenant_code: str
    user_sourced_id: str
    #: 利用者識別子 (UUID): the LTI ``sub`` and the xAPI ``actor.account.name``.
    user_master_identifier: str
    #: What the UI greets with: the preferred name if the roster gives one.
    display_name: str
    #: Name in kana for young learners' screens (may be empty).
    kana_name: str
    #: Grade codes from ``users.grades`` (``P1`` … ``J3``).
    grades: tuple[str, ...]
    roles: frozenset[PortalRole]
    #: Schools where the person holds a role (a teacher's or school admin's schools).
    school_sourced_ids: frozenset[str]
    memberships: tuple[ClassMembership, ...] = field(default=())

    def has(self, role: PortalRole) -> bool:
        return role in self.roles

    def classes_taught(self) -> frozenset[str]:
        return frozenset(
            m.class_sourced_id for m in self.memberships if m.role in ("teacher", "proctor")
        )

    def classes_attended(self) -> frozenset[str]:
        return frozenset(m.class_sourced_id for m in self.memberships if m.role == "student")

    @property
    def is_young_learner(self) -> bool:
        """小1–小3: the kid-friendly screens (big targets, hiragana)."""
        young = any(g in ("P1", "P2", "P3") for g in self.grades)
        return young and PortalRole.STUDENT in self.roles


def _role_is_current(begin: str | None, end: str | None, today: date) -> bool:
    iso = today.isoformat()
    return (not begin or begin <= iso) and (not end or end >= iso)


# Principals are rebuilt on every sign-in and, for each session, once a minute (the session
# refresh): the reads are built once per process and select only the columns used, because
# building expressions and loading ORM entities cost several times the queries themselves.


@cache
def _user_query() -> Executable:
    return (
        select(
            User.status,
            User.enabled_user,
            User.user_master_identifier,
            User.given_name,
            User.family_name,
            User.preferred_given_name,
            User.preferred_family_name,
            User.kana_given_name,
            User.kana_family_name,
            User.kana_preferred_given_name,
            User.kana_preferred_family_name,
            User.grades,
            Tenant.code,
        )
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(User.tenant_id == bindparam("tenant_id"), User.sourced_id == bindparam("user"))
    )


@cache
def _roles_query() -> Executable:
    return select(Role.role, Role.org_sourced_id, Role.begin_date, Role.end_date).where(
        Role.tenant_id == bindparam("tenant_id"),
        Role.user_sourced_id == bindparam("user"),
        Role.status == ACTIVE,
    )


@cache
def _enrollments_query() -> Executable:
    e = Enrollment
    return (
        select(
            e.class_sourced_id, e.school_sourced_id, e.role, e.shusseki_no, e.begin_date, e.end_date
        )
        .where(
            e.tenant_id == bindparam("tenant_id"),
            e.user_sourced_id == bindparam("user"),
            e.status == ACTIVE,
        )
        .order_by(e.class_sourced_id)
    )


def load_principal(
    session: Session,
    tenant_id: int,
    user_sourced_id: str,
    *,
    operator: bool = False,
    today: date | None = None,
) -> Principal | None:
    """The principal of an active, enabled roster user, or ``None`` if they may not sign in."""
    today = today or date.today()
    params = {"tenant_id": tenant_id, "user": user_sourced_id}
    user = session.execute(_user_query(), params).first()
    if user is None or user.status != ACTIVE or user.enabled_user.lower() != "true":
        return None
    roles: set[PortalRole] = set()
    schools: set[str] = set()
    for role, org_sourced_id, begin, end in session.execute(_roles_query(), params):
        portal_role = ROSTER_ROLE_MAP.get(role)
        if portal_role is None or not _role_is_current(begin, end, today):
            continue
        roles.add(portal_role)
        if portal_role is not PortalRole.BOARD_ADMIN:
            schools.add(org_sourced_id)
    memberships = tuple(
        ClassMembership(
            class_sourced_id=class_id, school_sourced_id=school_id, role=role, shusseki_no=number
        )
        for class_id, school_id, role, number, begin, end in session.execute(
            _enrollments_query(), params
        )
        if _role_is_current(begin, end, today)
    )
    if operator:
        roles.add(PortalRole.OPERATOR)
    if not roles:
        return None
    given = user.preferred_given_name or user.given_name
    family = user.preferred_family_name or user.family_name
    kana_family = user.kana_preferred_family_name or user.kana_family_name or ""
    kana_given = user.kana_preferred_given_name or user.kana_given_name or ""
    return Principal(
        tenant_id=tenant_id,
        tenant_code=user.code,
        user_sourced_id=user_sourced_id,
        user_master_identifier=user.user_master_identifier,
        display_name=f"{family} {given}".strip(),
        kana_name=f"{kana_family} {kana_given}".strip(),
        grades=tuple(g.strip() for g in (user.grades or "").split(",") if g.strip()),
        roles=frozenset(roles),
        school_sourced_ids=frozenset(schools),
        memberships=memberships,
    )
