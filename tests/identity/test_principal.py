"""Principals are derived from the demo roster: roles, schools, classes, young learners."""

from __future__ import annotations

from sqlalchemy import select

from tsunagu.container import Container
from tsunagu.demo import service as demo
from tsunagu.identity.principal import PortalRole, load_principal
from tsunagu.roster.models import Role, User


def test_roles_classes_and_young_learners_come_from_the_roster(container: Container) -> None:
    result = demo.setup_demo(container)
    with container.database.session() as session:
        tenant_id = session.scalar(select(User.tenant_id).limit(1))
        assert tenant_id is not None
        pupil_role = session.scalars(select(Role).where(Role.role == "student")).first()
        teacher_role = session.scalars(select(Role).where(Role.role == "teacher")).first()
        assert pupil_role is not None
        assert teacher_role is not None

        pupil = load_principal(session, tenant_id, pupil_role.user_sourced_id)
        assert pupil is not None
        assert pupil.roles == {PortalRole.STUDENT}
        assert pupil.tenant_code == result.tenant_code
        assert pupil.classes_attended()
        assert not pupil.classes_taught()
        assert pupil.is_young_learner == any(g in ("P1", "P2", "P3") for g in pupil.grades)

        teacher = load_principal(session, tenant_id, teacher_role.user_sourced_id)
        assert teacher is not None
        assert PortalRole.TEACHER in teacher.roles
        assert teacher_role.org_sourced_id in teacher.school_sourced_ids
        assert not teacher.is_young_learner

        # A withdrawn pupil has no principal.
        user = session.get(User, (tenant_id, pupil_role.user_sourced_id))
        assert user is not None
        user.status = "tobedeleted"
        session.flush()
        assert load_principal(session, tenant_id, pupil_role.user_sourced_id) is None
        assert load_principal(session, tenant_id, "no-such-user") is None
