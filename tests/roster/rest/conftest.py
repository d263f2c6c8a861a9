"""A small roster in two tenants, written straight through the ORM, and authenticated clients.

Tenant A (131016): a district, two schools, the 2026 school year with two terms and a grading
period, a homeroom and a scheduled class at school 1 and a homeroom at school 2, two teachers
(one with a secondary siteAdministrator role), four students (one deleted), enrollments with
出席番号. Tenant B (272000): a smaller roster, plus a user whose sourcedId collides with one of
tenant A's, so isolation is tested on identical ids too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.oauth import service as oauth_service
from tsunagu.oauth.scopes import ROSTER_CORE_READONLY, ROSTER_READONLY
from tsunagu.roster.models import (
    TOBEDELETED,
    AcademicSession,
    Class,
    Course,
    Enrollment,
    Org,
    Role,
    User,
    UserProfile,
)
from tsunagu.settings import Settings
from tsunagu.tenancy import service as tenancy

API = "/ims/oneroster/rostering/v1p2"
BASE = "https://portal.example.jp" + API
T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)

TENANT_A = "131016"
TENANT_B = "272000"


def _row(model: type[Any], tenant_id: int, sourced_id: str, **values: Any) -> Any:
    values.setdefault("status", "active")
    values.setdefault("date_last_modified", T0)
    return model(tenant_id=tenant_id, sourced_id=sourced_id, row_hash="0" * 32, **values)


def _user(tenant_id: int, sourced_id: str, given: str, family: str, **values: Any) -> User:
    values.setdefault("enabled_user", "true")
    values.setdefault("username", f"{sourced_id}@school.example.jp")
    values.setdefault("user_master_identifier", f"umi-{sourced_id}")
    values.setdefault("preferred_given_name", given)
    values.setdefault("preferred_family_name", family)
    return _row(User, tenant_id, sourced_id, given_name=given, family_name=family, **values)  # type: ignore[no-any-return]


def _role(tenant_id: int, sourced_id: str, user: str, role: str, org: str, **values: Any) -> Role:
    values.setdefault("role_type", "primary")
    return _row(  # type: ignore[no-any-return]
        Role, tenant_id, sourced_id, user_sourced_id=user, role=role, org_sourced_id=org, **values
    )


def _enrollment(
    tenant_id: int, sourced_id: str, cls: str, school: str, user: str, role: str, **values: Any
) -> Enrollment:
    values.setdefault("is_primary", "false")
    return _row(  # type: ignore[no-any-return]
        Enrollment,
        tenant_id,
        sourced_id,
        class_sourced_id=cls,
        school_sourced_id=school,
        user_sourced_id=user,
        role=role,
        **values,
    )


def add_tenant_a(session: Session, tenant_id: int) -> None:
    t = tenant_id
    session.add_all(
        [
            _row(Org, t, "a-district", name="つなぐ市教育委員会", type="district",
                 identifier="131016"),
            _row(Org, t, "a-school-1", name="つなぐ市立第一小学校", type="school",
                 identifier="B113210000019", parent_sourced_id="a-district"),
            _row(Org, t, "a-school-2", name="つなぐ市立第一中学校", type="school",
                 identifier="C113210000018", parent_sourced_id="a-district",
                 date_last_modified=T0 + timedelta(days=10)),
            _row(AcademicSession, t, "a-sy-2026", title="2026年度", type="schoolYear",
                 start_date="2026-04-01", end_date="2027-03-31", school_year="2026"),
            _row(AcademicSession, t, "a-term-1", title="前期", type="term",
                 start_date="2026-04-01", end_date="2026-09-30", school_year="2026",
                 parent_sourced_id="a-sy-2026"),
            _row(AcademicSession, t, "a-term-2", title="後期", type="term",
                 start_date="2026-10-01", end_date="2027-03-31", school_year="2026",
                 parent_sourced_id="a-sy-2026"),
            _row(AcademicSession, t, "a-gp-1", title="前期中間", type="gradingPeriod",
                 start_date="2026-04-01", end_date="2026-06-30", school_year="2026",
                 parent_sourced_id="a-term-1"),
            _row(Course, t, "a-course-hr", title="2026年度ホームルーム",
                 org_sourced_id="a-school-1", school_year_sourced_id="a-sy-2026", grades="P5"),
            _row(Course, t, "a-course-math", title="2026年度算数", org_sourced_id="a-school-1",
                 school_year_sourced_id="a-sy-2026", grades="P5", subjects="算数",
                 subject_codes="P030"),
            _row(Course, t, "a-course-j", title="2026年度ホームルーム", org_sourced_id="a-school-2",
                 school_year_sourced_id="a-sy-2026", grades="J1"),
            _row(Class, t, "a-class-hr", title="5年1組", class_type="homeroom",
                 course_sourced_id="a-course-hr", school_sourced_id="a-school-1",
                 term_sourced_ids="a-sy-2026", grades="P5", special_needs="false"),
            _row(Class, t, "a-class-math", title="5年算数A", class_type="scheduled",
                 course_sourced_id="a-course-math", school_sourced_id="a-school-1",
                 term_sourced_ids="a-term-1,a-term-2", grades="P5", subjects="算数",
                 subject_codes="P030", periods="1,3", location="第2理科室", class_code="M5A"),
            _row(Class, t, "a-class-j1", title="1年1組", class_type="homeroom",
                 course_sourced_id="a-course-j", school_sourced_id="a-school-2",
                 term_sourced_ids="a-sy-2026", grades="J1", special_needs="true"),
            _user(t, "a-teacher-1", "花子", "山田", kana_given_name="ハナコ",
                  kana_family_name="ヤマダ", primary_org_sourced_id="a-school-1",
                  email="yamada@school.example.jp"),
            _user(t, "a-teacher-2", "一郎", "佐藤", kana_given_name="イチロウ",
                  kana_family_name="サトウ", primary_org_sourced_id="a-school-1"),
            _user(t, "a-student-1", "太郎", "鈴木", kana_given_name="タロウ",
                  kana_family_name="スズキ", grades="P5", home_class_sourced_id="a-class-hr",
                  user_ids="{Google:1001},{Microsoft:ms-1001}",
                  primary_org_sourced_id="a-school-1",
                  extra_metadata={"metadata.ext.club": "サッカー"}),
            _user(t, "a-student-2", "次郎", "高橋", kana_given_name="ジロウ",
                  kana_family_name="タカハシ", grades="P5", home_class_sourced_id="a-class-hr",
                  date_last_modified=datetime(2026, 5, 1, 12, 34, 56, 789000, tzinfo=UTC)),
            _user(t, "a-student-3", "三郎", "田中", kana_given_name="サブロウ",
                  kana_family_name="タナカ", grades="P5", home_class_sourced_id="a-class-hr",
                  status=TOBEDELETED, date_last_modified=T0 + timedelta(days=20)),
            _user(t, "a-student-4", "四子", "伊藤", kana_given_name="ヨツコ",
                  kana_family_name="イトウ", grades="J1", home_class_sourced_id="a-class-j1",
                  middle_name="ミドル"),
            _row(UserProfile, t, "a-profile-t1", user_sourced_id="a-teacher-1",
                 profile_type="MEXCBT", vendor_id="mext", application_id="mexcbt",
                 credential_type="username", username="yamada-h"),
            _role(t, "a-role-t1", "a-teacher-1", "teacher", "a-school-1",
                  user_profile_sourced_id="a-profile-t1", begin_date="2026-04-01"),
            _role(t, "a-role-t1-admin", "a-teacher-1", "siteAdministrator", "a-school-1",
                  role_type="secondary"),
            _role(t, "a-role-t2", "a-teacher-2", "teacher", "a-school-1"),
            _role(t, "a-role-t2-j", "a-teacher-2", "teacher", "a-school-2"),
            _role(t, "a-role-s1", "a-student-1", "student", "a-school-1"),
            _role(t, "a-role-s2", "a-student-2", "student", "a-school-1"),
            _role(t, "a-role-s3", "a-student-3", "student", "a-school-1", status=TOBEDELETED),
            _role(t, "a-role-s4", "a-student-4", "student", "a-school-2"),
            _enrollment(t, "a-enr-hr-t1", "a-class-hr", "a-school-1", "a-teacher-1", "teacher",
                        is_primary="true"),
            _enrollment(t, "a-enr-hr-s1", "a-class-hr", "a-school-1", "a-student-1", "student",
                        shusseki_no="1", public_flg="true"),
            _enrollment(t, "a-enr-hr-s2", "a-class-hr", "a-school-1", "a-student-2", "student",
                        shusseki_no="2"),
            _enrollment(t, "a-enr-hr-s3", "a-class-hr", "a-school-1", "a-student-3", "student",
                        shusseki_no="3", status=TOBEDELETED),
            _enrollment(t, "a-enr-math-t2", "a-class-math", "a-school-1", "a-teacher-2",
                        "teacher", is_primary="true", begin_date="2026-04-06"),
            _enrollment(t, "a-enr-math-t1", "a-class-math", "a-school-1", "a-teacher-1",
                        "teacher"),
            _enrollment(t, "a-enr-math-s1", "a-class-math", "a-school-1", "a-student-1",
                        "student"),
            _enrollment(t, "a-enr-math-s2", "a-class-math", "a-school-1", "a-student-2",
                        "student"),
            _enrollment(t, "a-enr-j1-t2", "a-class-j1", "a-school-2", "a-teacher-2", "teacher",
                        is_primary="true"),
            _enrollment(t, "a-enr-j1-s4", "a-class-j1", "a-school-2", "a-student-4", "student",
                        shusseki_no="1"),
        ]
    )  # fmt: skip


def add_tenant_b(session: Session, tenant_id: int) -> None:
    t = tenant_id
    session.add_all(
        [
            _row(Org, t, "b-district", name="みなと市教育委員会", type="district",
                 identifier="272000"),
            _row(Org, t, "b-school-1", name="みなと市立小学校", type="school",
                 identifier="B127210000015", parent_sourced_id="b-district"),
            _row(AcademicSession, t, "b-sy-2026", title="2026年度", type="schoolYear",
                 start_date="2026-04-01", end_date="2027-03-31", school_year="2026"),
            _row(AcademicSession, t, "b-term-1", title="通年", type="term",
                 start_date="2026-04-01", end_date="2027-03-31", school_year="2026",
                 parent_sourced_id="b-sy-2026"),
            _row(Course, t, "b-course-hr", title="2026年度ホームルーム",
                 org_sourced_id="b-school-1"),
            _row(Class, t, "b-class-hr", title="3年2組", class_type="homeroom",
                 course_sourced_id="b-course-hr", school_sourced_id="b-school-1",
                 term_sourced_ids="b-term-1", grades="P3"),
            _user(t, "b-teacher-1", "先生", "みなと"),
            _user(t, "b-student-1", "生徒", "みなと", grades="P3"),
            # Same sourcedId as a tenant A user: the primary key is (tenant, sourcedId).
            _user(t, "a-student-1", "他人", "別市", grades="P3"),
            _role(t, "b-role-t1", "b-teacher-1", "teacher", "b-school-1"),
            _role(t, "b-role-s1", "b-student-1", "student", "b-school-1"),
            _role(t, "b-role-x", "a-student-1", "student", "b-school-1"),
            _enrollment(t, "b-enr-t1", "b-class-hr", "b-school-1", "b-teacher-1", "teacher",
                        is_primary="true"),
            _enrollment(t, "b-enr-s1", "b-class-hr", "b-school-1", "b-student-1", "student"),
            _enrollment(t, "b-enr-x", "b-class-hr", "b-school-1", "a-student-1", "student"),
        ]
    )  # fmt: skip


@dataclass
class Roster:
    tenant_a: int
    tenant_b: int


@pytest.fixture
def roster(container: Container) -> Roster:
    with container.database.transaction() as session:
        a = tenancy.create_tenant(session, TENANT_A, "つなぐ市教育委員会")
        b = tenancy.create_tenant(session, TENANT_B, "みなと市教育委員会")
        add_tenant_a(session, a.id)
        add_tenant_b(session, b.id)
    return Roster(tenant_a=a.id, tenant_b=b.id)


def issue_token(container: Container, tenant_code: str, scopes: list[str]) -> str:
    key = container.settings.resolved_secret_key
    with container.database.transaction() as session:
        created = oauth_service.create_client(
            session, key, tenant_code=tenant_code, name="test tool", scopes=scopes
        )
        issued = oauth_service.issue_token(
            session,
            key,
            client_id=created.info.client_id,
            client_secret=created.secret,
            requested_scope=None,
            lifetime_seconds=3600,
        )
    return issued.access_token


class Api:
    """A TestClient that sends one bearer token with every request."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.client.get(API + path, params=params or None, headers=headers)

    def ids(self, path: str, key: str, **params: Any) -> list[str]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return [item["sourcedId"] for item in response.json()[key]]


@pytest.fixture(scope="session")
def shared_app() -> FastAPI:
    """One application for the whole run, pointed at each test's database by ``client``.

    FastAPI prepares every route on an application's first request (about 0.3 s for the
    rostering routes); paying that once instead of once per test keeps the suite fast.
    """
    return create_app(Settings(database_url="sqlite://", secret_key="unused"))


@pytest.fixture
def client(container: Container, shared_app: FastAPI) -> Iterator[TestClient]:
    shared_app.state.container = container
    shared_app.state.oauth_token_verifier = None  # a fresh token cache per test
    with TestClient(shared_app) as test_client:
        yield test_client


@pytest.fixture
def api(roster: Roster, container: Container, client: TestClient) -> Api:
    """Tenant A, both rostering scopes."""
    return Api(client, issue_token(container, TENANT_A, [ROSTER_READONLY]))


@pytest.fixture
def api_b(roster: Roster, container: Container, client: TestClient) -> Api:
    return Api(client, issue_token(container, TENANT_B, [ROSTER_READONLY]))


@pytest.fixture
def core_token(roster: Roster, container: Container) -> str:
    """Tenant A, roster-core.readonly only."""
    return issue_token(container, TENANT_A, [ROSTER_CORE_READONLY])
