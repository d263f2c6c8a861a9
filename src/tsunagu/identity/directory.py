"""Small roster look-ups the identity pages need (classes, members), shaped for the policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.identity.policy import ClassRef, UserRef
from tsunagu.roster.models import ACTIVE, Class, Enrollment, Role, User


@dataclass(frozen=True)
class Member:
    sourced_id: str
    role: str
    name: str
    kana_name: str
    shusseki_no: str | None


def class_ref(session: Session, tenant_id: int, class_sourced_id: str) -> ClassRef | None:
    klass = session.get(Class, (tenant_id, class_sourced_id))
    if klass is None or klass.status != ACTIVE:
        return None
    return ClassRef(tenant_id, klass.sourced_id, klass.school_sourced_id)


def class_title(session: Session, tenant_id: int, class_sourced_id: str) -> str:
    klass = session.get(Class, (tenant_id, class_sourced_id))
    return klass.title if klass else ""


def class_members(session: Session, tenant_id: int, class_sourced_id: str) -> list[Member]:
    rows = session.execute(
        select(User, Enrollment.role, Enrollment.shusseki_no)
        .join(
            Enrollment,
            (Enrollment.tenant_id == User.tenant_id)
            & (Enrollment.user_sourced_id == User.sourced_id),
        )
        .where(
            Enrollment.tenant_id == tenant_id,
            Enrollment.class_sourced_id == class_sourced_id,
            Enrollment.status == ACTIVE,
            User.status == ACTIVE,
        )
    ).all()
    members = [
        Member(
            sourced_id=user.sourced_id,
            role=role,
            name=f"{user.family_name} {user.given_name}",
            kana_name=f"{user.kana_family_name or ''} {user.kana_given_name or ''}".strip(),
            shusseki_no=shusseki_no,
        )
        for user, role, shusseki_no in rows
    ]
    members.sort(key=lambda m: (m.role != "teacher", m.shusseki_no or "", m.sourced_id))
    return members


def user_ref(session: Session, tenant_id: int, user_sourced_id: str) -> UserRef | None:
    user = session.get(User, (tenant_id, user_sourced_id))
    if user is None or user.status != ACTIVE:
        return None
    schools = set(
        session.scalars(
            select(Role.org_sourced_id).where(
                Role.tenant_id == tenant_id,
                Role.user_sourced_id == user_sourced_id,
                Role.status == ACTIVE,
            )
        )
    )
    classes: set[str] = set()
    for class_id, school_id in session.execute(
        select(Enrollment.class_sourced_id, Enrollment.school_sourced_id).where(
            Enrollment.tenant_id == tenant_id,
            Enrollment.user_sourced_id == user_sourced_id,
            Enrollment.role == "student",
            Enrollment.status == ACTIVE,
        )
    ):
        classes.add(class_id)
        schools.add(school_id)
    return UserRef(tenant_id, user_sourced_id, frozenset(schools), frozenset(classes))
