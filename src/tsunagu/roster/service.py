"""Read-side roster operations the other domains use (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tsunagu.roster.models import ACTIVE, Class, Org, Role


@dataclass(frozen=True)
class RosterSummary:
    schools: int
    classes: int
    students: int
    teachers: int


def roster_summary(session: Session, tenant_id: int) -> RosterSummary:
    """Active schools, classes, students and teachers of one tenant.

    People are counted by their active primary role, so a teacher who is also principal counts
    once and a withdrawn pupil not at all.
    """

    def count_roles(role: str) -> int:
        return (
            session.scalar(
                select(func.count(func.distinct(Role.user_sourced_id))).where(
                    Role.tenant_id == tenant_id,
                    Role.status == ACTIVE,
                    Role.role_type == "primary",
                    Role.role == role,
                )
            )
            or 0
        )

    schools = (
        session.scalar(
            select(func.count())
            .select_from(Org)
            .where(Org.tenant_id == tenant_id, Org.status == ACTIVE, Org.type == "school")
        )
        or 0
    )
    classes = (
        session.scalar(
            select(func.count())
            .select_from(Class)
            .where(Class.tenant_id == tenant_id, Class.status == ACTIVE)
        )
        or 0
    )
    return RosterSummary(
        schools=schools,
        classes=classes,
        students=count_roles("student"),
        teachers=count_roles("teacher"),
    )
