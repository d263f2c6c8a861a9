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

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.roster.models import ACTIVE, Enrollment, Role, User
from tsunagu.tenancy.service import get_tenant_by_id


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
    user = session.get(User, (tenant_id, user_sourced_id))
    if user is None or user.status != ACTIVE or user.enabled_user.lower() != "true":
        return None
    roles: set[PortalRole] = set()
    schools: set[str] = set()
    for role in session.scalars(
        select(Role).where(
            Role.tenant_id == tenant_id,
            Role.user_sourced_id == user_sourced_id,
            Role.status == ACTIVE,
        )
    ):
        portal_role = ROSTER_ROLE_MAP.get(role.role)
        if portal_role is None or not _role_is_current(role.begin_date, role.end_date, today):
            continue
        roles.add(portal_role)
        if portal_role is not PortalRole.BOARD_ADMIN:
            schools.add(role.org_sourced_id)
    memberships = tuple(
        ClassMembership(
            class_sourced_id=e.class_sourced_id,
            school_sourced_id=e.school_sourced_id,
            role=e.role,
            shusseki_no=e.shusseki_no,
        )
        for e in session.scalars(
            select(Enrollment)
            .where(
                Enrollment.tenant_id == tenant_id,
                Enrollment.user_sourced_id == user_sourced_id,
                Enrollment.status == ACTIVE,
            )
            .order_by(Enrollment.class_sourced_id)
        )
        if _role_is_current(e.begin_date, e.end_date, today)
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
        tenant_code=get_tenant_by_id(session, tenant_id).code,
        user_sourced_id=user_sourced_id,
        user_master_identifier=user.user_master_identifier,
        display_name=f"{family} {given}".strip(),
        kana_name=f"{kana_family} {kana_given}".strip(),
        grades=tuple(g.strip() for g in (user.grades or "").split(",") if g.strip()),
        roles=frozenset(roles),
        school_sourced_ids=frozenset(schools),
        memberships=memberships,
    )
