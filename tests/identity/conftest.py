"""Fixtures for identity tests: a demo city plus a second tenant, and who is who in them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.demo import service as demo
from tsunagu.roster.generator import GeneratorConfig, generate_roster
from tsunagu.roster.importer import import_roster
from tsunagu.roster.models import Class, Enrollment, Role, User
from tsunagu.tenancy import service as tenancy

OTHER_TENANT = "131016"
BASE_URL = "https://portal.example.jp"


@dataclass(frozen=True)
class World:
    tenant: str
    tenant_id: int
    other_tenant: str
    other_tenant_id: int
    teacher: str
    teacher_class: str
    pupil: str
    #: A class of the same school the teacher does not teach, and one of its pupils.
    other_class: str
    other_pupil: str
    school_admin: str
    admin_school: str
    #: A class of another school of the same tenant (the admin is of the teacher's school).
    foreign_school_class: str
    board_admin: str
    #: The other tenant's board administrator, one of its classes and one of its pupils.
    other_board_admin: str
    other_tenant_class: str
    other_tenant_pupil: str


def _first(session, query):  # type: ignore[no-untyped-def]
    found = session.scalar(query.limit(1))
    assert found is not None, str(query)
    return found


def build_world(container: Container, tmp_path: Path) -> World:
    demo.setup_demo(container)
    with container.database.transaction() as session:
        tenancy.create_tenant(session, OTHER_TENANT, "よその市教育委員会")
    package = tmp_path / "other.zip"
    generate_roster(
        GeneratorConfig(
            students=40,
            seed=7,
            board_code=OTHER_TENANT,
            elementary_schools=1,
            junior_high_schools=0,
        ),
        package,
    )
    assert import_roster(container, OTHER_TENANT, package).accepted
    with container.database.session() as s:
        tid = tenancy.get_tenant(s, demo.DEMO_TENANT_CODE).id
        oid = tenancy.get_tenant(s, OTHER_TENANT).id
        teacher_enrollment = s.scalars(
            select(Enrollment)
            .where(Enrollment.tenant_id == tid, Enrollment.role == "teacher")
            .order_by(Enrollment.class_sourced_id)
        ).first()
        assert teacher_enrollment is not None
        teacher = teacher_enrollment.user_sourced_id
        teacher_class = teacher_enrollment.class_sourced_id
        school = teacher_enrollment.school_sourced_id
        taught = set(
            s.scalars(
                select(Enrollment.class_sourced_id).where(
                    Enrollment.tenant_id == tid,
                    Enrollment.user_sourced_id == teacher,
                )
            )
        )
        pupil = _first(
            s,
            select(Enrollment.user_sourced_id)
            .where(
                Enrollment.tenant_id == tid,
                Enrollment.class_sourced_id == teacher_class,
                Enrollment.role == "student",
            )
            .order_by(Enrollment.user_sourced_id),
        )
        pupil_classes = set(
            s.scalars(
                select(Enrollment.class_sourced_id).where(
                    Enrollment.tenant_id == tid, Enrollment.user_sourced_id == pupil
                )
            )
        )
        other_class = _first(
            s,
            select(Class.sourced_id)
            .where(
                Class.tenant_id == tid,
                Class.school_sourced_id == school,
                Class.sourced_id.not_in(taught | pupil_classes),
            )
            .order_by(Class.sourced_id),
        )
        other_pupil = _first(
            s,
            select(Enrollment.user_sourced_id)
            .where(
                Enrollment.tenant_id == tid,
                Enrollment.class_sourced_id == other_class,
                Enrollment.role == "student",
            )
            .order_by(Enrollment.user_sourced_id),
        )
        # The other pupil must share no class with the teacher.
        shared = set(
            s.scalars(
                select(Enrollment.class_sourced_id).where(
                    Enrollment.tenant_id == tid, Enrollment.user_sourced_id == other_pupil
                )
            )
        )
        assert not shared & taught
        admin_role = s.scalars(
            select(Role)
            .where(
                Role.tenant_id == tid,
                Role.role.in_(("principal", "siteAdministrator")),
                Role.org_sourced_id == school,
            )
            .order_by(Role.user_sourced_id)
        ).first()
        assert admin_role is not None
        foreign_school_class = _first(
            s,
            select(Class.sourced_id)
            .where(
                Class.tenant_id == tid,
                Class.school_sourced_id != school,
                Class.sourced_id.not_in(taught),
            )
            .order_by(Class.sourced_id),
        )
        board_admin = _first(
            s,
            select(Role.user_sourced_id).where(
                Role.tenant_id == tid, Role.role == "districtAdministrator"
            ),
        )
        other_board_admin = _first(
            s,
            select(Role.user_sourced_id).where(
                Role.tenant_id == oid, Role.role == "districtAdministrator"
            ),
        )
        other_tenant_class = _first(
            s, select(Class.sourced_id).where(Class.tenant_id == oid).order_by(Class.sourced_id)
        )
        other_tenant_pupil = _first(
            s,
            select(Role.user_sourced_id)
            .where(Role.tenant_id == oid, Role.role == "student")
            .order_by(Role.user_sourced_id),
        )
    return World(
        tenant=demo.DEMO_TENANT_CODE,
        tenant_id=tid,
        other_tenant=OTHER_TENANT,
        other_tenant_id=oid,
        teacher=teacher,
        teacher_class=teacher_class,
        pupil=pupil,
        other_class=other_class,
        other_pupil=other_pupil,
        school_admin=admin_role.user_sourced_id,
        admin_school=admin_role.org_sourced_id,
        foreign_school_class=foreign_school_class,
        board_admin=board_admin,
        other_board_admin=other_board_admin,
        other_tenant_class=other_tenant_class,
        other_tenant_pupil=other_tenant_pupil,
    )


@pytest.fixture
def world(container: Container, tmp_path: Path) -> World:
    return build_world(container, tmp_path)


def new_client(container: Container) -> TestClient:
    return TestClient(create_app(container=container), base_url=BASE_URL)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with new_client(container) as test_client:
        yield test_client


def username_of(container: Container, tenant_id: int, sourced_id: str) -> str:
    with container.database.session() as session:
        user = session.get(User, (tenant_id, sourced_id))
        assert user is not None
        return user.username
