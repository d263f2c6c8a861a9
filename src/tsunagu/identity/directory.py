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
    #: 利用者識別子 (UUID): how the LRS knows the member (``actor.account.name``).
    user_master_identifier: str = ""


def class_ref(session: Session, tenant_id: int, class_sourced_id: str) -> ClassRef | None:
    klass = session.get(Class, (tenant_id, class_sourced_id))
    if klass is None or klass.status != ACTIVE:
        return None
    return ClassRef(tenant_id, klass.sourced_id, klass.school_sourced_id)


def class_title(session: Session, tenant_id: int, class_sourced_id: str) -> str:
    klass = session.get(Class, (tenant_id, class_sourced_id))
    return klass.title if klass else ""


def class_members(session: Session, tenant_id: int, class_sourced_id: str) -> list[Member]:
    """The class's active members: staff first, then learners by 出席番号 (numerically), then
    by kana. The one roster read behind every class list (identity's and the portal's)."""
    rows = session.execute(
        select(
            User.sourced_id,
            Enrollment.role,
            User.family_name,
            User.given_name,
            User.kana_family_name,
            User.kana_given_name,
            Enrollment.shusseki_no,
            User.user_master_identifier,
        )
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
            sourced_id=r[0],
            role=r[1],
            name=f"{r[2]} {r[3]}",
            kana_name=f"{r[4] or ''} {r[5] or ''}".strip(),
            shusseki_no=r[6],
            user_master_identifier=r[7],
        )
        for r in rows
    ]

    def order(m: Member) -> tuple[int, int, str, str]:
        number = m.shusseki_no or ""
        return (
            1 if m.role == "student" else 0,
            int(number) if number.isdigit() else 10_000,
            m.kana_name,
            m.sourced_id,
        )

    return sorted(members, key=order)


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
