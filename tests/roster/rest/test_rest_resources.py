"""Every rostering endpoint answers with the right rows in the binding's JSON shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tsunagu.roster.rest import schemas

BASE = "https://portal.example.jp/ims/oneroster/rostering/v1p2"


def ref(kind: str, collection: str, sourced_id: str) -> dict[str, str]:
    return {"href": f"{BASE}/{collection}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def validated(response: Any, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON body, after checking it against the documented (OpenAPI) model."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    model.model_validate(body)
    return body


COLLECTIONS = [
    ("/orgs", "orgs", ["a-district", "a-school-1", "a-school-2"]),
    ("/schools", "orgs", ["a-school-1", "a-school-2"]),
    ("/academicSessions", "academicSessions", ["a-gp-1", "a-sy-2026", "a-term-1", "a-term-2"]),
    ("/terms", "academicSessions", ["a-term-1", "a-term-2"]),
    ("/gradingPeriods", "academicSessions", ["a-gp-1"]),
    ("/courses", "courses", ["a-course-hr", "a-course-j", "a-course-math"]),
    ("/classes", "classes", ["a-class-hr", "a-class-j1", "a-class-math"]),
    (
        "/users",
        "users",
        ["a-student-1", "a-student-2", "a-student-3", "a-student-4", "a-teacher-1", "a-teacher-2"],
    ),
    # The deleted student is listed (status tobedeleted) so consumers can sync the deletion.
    ("/students", "users", ["a-student-1", "a-student-2", "a-student-3", "a-student-4"]),
    ("/teachers", "users", ["a-teacher-1", "a-teacher-2"]),
    (
        "/enrollments",
        "enrollments",
        [
            "a-enr-hr-s1",
            "a-enr-hr-s2",
            "a-enr-hr-s3",
            "a-enr-hr-t1",
            "a-enr-j1-s4",
            "a-enr-j1-t2",
            "a-enr-math-s1",
            "a-enr-math-s2",
            "a-enr-math-t1",
            "a-enr-math-t2",
        ],
    ),
]


def test_collections_list_the_tenants_rows_in_sourced_id_order(api: Any) -> None:
    for path, key, expected in COLLECTIONS:
        response = api.get(path)
        assert response.status_code == 200, path
        assert list(response.json()) == [key], path
        assert [item["sourcedId"] for item in response.json()[key]] == expected, path
        assert response.headers["X-Total-Count"] == str(len(expected)), path


DOCUMENTED = [
    ("/orgs", schemas.OrgSetDType),
    ("/schools", schemas.OrgSetDType),
    ("/academicSessions", schemas.AcademicSessionSetDType),
    ("/terms", schemas.AcademicSessionSetDType),
    ("/gradingPeriods", schemas.AcademicSessionSetDType),
    ("/courses", schemas.CourseSetDType),
    ("/classes", schemas.ClassSetDType),
    ("/users", schemas.UserSetDType),
    ("/students", schemas.UserSetDType),
    ("/teachers", schemas.UserSetDType),
    ("/enrollments", schemas.EnrollmentSetDType),
    ("/orgs/a-school-1", schemas.SingleOrgDType),
    ("/academicSessions/a-term-1", schemas.SingleAcademicSessionDType),
    ("/courses/a-course-math", schemas.SingleCourseDType),
    ("/classes/a-class-math", schemas.SingleClassDType),
    ("/users/a-teacher-1", schemas.SingleUserDType),
    ("/enrollments/a-enr-hr-s1", schemas.SingleEnrollmentDType),
]


def test_bodies_conform_to_the_documented_models(api: Any) -> None:
    for path, model in DOCUMENTED:
        validated(api.get(path), model)


def test_user_object(api: Any) -> None:
    user = validated(api.get("/users/a-student-1"), schemas.SingleUserDType)["user"]
    assert user == {
        "sourcedId": "a-student-1",
        "status": "active",
        "dateLastModified": "2026-04-01T00:00:00.000Z",
        "metadata": {
            "ext": {"club": "サッカー"},
            "jp": {
                "kanaGivenName": "タロウ",
                "kanaFamilyName": "スズキ",
                "homeClass": "a-class-hr",
            },
        },
        "userMasterIdentifier": "umi-a-student-1",
        "username": "a-student-1@school.example.jp",
        "userIds": [
            {"type": "Google", "identifier": "1001"},
            {"type": "Microsoft", "identifier": "ms-1001"},
        ],
        "enabledUser": "true",
        "givenName": "太郎",
        "familyName": "鈴木",
        "preferredFirstName": "太郎",
        "preferredLastName": "鈴木",
        "roles": [
            {"roleType": "primary", "role": "student", "org": ref("org", "orgs", "a-school-1")}
        ],
        "userProfiles": [],
        "primaryOrg": ref("org", "orgs", "a-school-1"),
        "agents": [],
        "grades": ["P5"],
    }
    assert "password" not in user


def test_teacher_roles_and_profiles(api: Any) -> None:
    user = api.get("/teachers/a-teacher-1").json()["user"]
    assert user["roles"] == [
        {
            "roleType": "primary",
            "role": "teacher",
            "org": ref("org", "orgs", "a-school-1"),
            "userProfile": "a-profile-t1",
            "beginDate": "2026-04-01",
        },
        {
            "roleType": "secondary",
            "role": "siteAdministrator",
            "org": ref("org", "orgs", "a-school-1"),
        },
    ]
    assert user["userProfiles"] == [
        {
            "profileId": "a-profile-t1",
            "profileType": "MEXCBT",
            "vendorId": "mext",
            "applicationId": "mexcbt",
            "credentials": [{"type": "username", "username": "yamada-h"}],
        }
    ]
    assert user["email"] == "yamada@school.example.jp"


def test_deleted_user_keeps_its_roles_and_status(api: Any) -> None:
    user = api.get("/students/a-student-3").json()["user"]
    assert user["status"] == "tobedeleted"
    assert user["dateLastModified"] == "2026-04-21T00:00:00.000Z"
    assert [r["role"] for r in user["roles"]] == ["student"]


def test_class_object(api: Any) -> None:
    cls = validated(api.get("/classes/a-class-math"), schemas.SingleClassDType)["class"]
    assert cls == {
        "sourcedId": "a-class-math",
        "status": "active",
        "dateLastModified": "2026-04-01T00:00:00.000Z",
        "title": "5年算数A",
        "classCode": "M5A",
        "classType": "scheduled",
        "location": "第2理科室",
        "grades": ["P5"],
        "subjects": ["算数"],
        "course": ref("course", "courses", "a-course-math"),
        "school": ref("org", "orgs", "a-school-1"),
        "terms": [
            ref("academicSession", "academicSessions", "a-term-1"),
            ref("academicSession", "academicSessions", "a-term-2"),
        ],
        "subjectCodes": ["P030"],
        "periods": ["1", "3"],
    }
    special = api.get("/classes/a-class-j1").json()["class"]
    assert special["metadata"] == {"jp": {"specialNeeds": "true"}}
    assert special["classType"] == "homeroom"


def test_enrollment_object(api: Any) -> None:
    body = validated(api.get("/enrollments/a-enr-hr-s1"), schemas.SingleEnrollmentDType)
    assert body["enrollment"] == {
        "sourcedId": "a-enr-hr-s1",
        "status": "active",
        "dateLastModified": "2026-04-01T00:00:00.000Z",
        "metadata": {"jp": {"shussekiNo": "1", "publicFlg": "true"}},
        "user": ref("user", "users", "a-student-1"),
        "class": ref("class", "classes", "a-class-hr"),
        "school": ref("org", "orgs", "a-school-1"),
        "role": "student",
        "primary": "false",
    }
    teacher = api.get("/enrollments/a-enr-math-t2").json()["enrollment"]
    assert teacher["primary"] == "true"
    assert teacher["beginDate"] == "2026-04-06"


def test_org_and_session_hierarchy(api: Any) -> None:
    district = api.get("/orgs/a-district").json()["org"]
    assert district["identifier"] == "131016"
    assert "parent" not in district
    assert district["children"] == [
        ref("org", "orgs", "a-school-1"),
        ref("org", "orgs", "a-school-2"),
    ]
    school = api.get("/schools/a-school-2").json()["org"]
    assert school["parent"] == ref("org", "orgs", "a-district")
    assert school["dateLastModified"] == "2026-04-11T00:00:00.000Z"
    year = api.get("/academicSessions/a-sy-2026").json()["academicSession"]
    assert year["type"] == "schoolYear"
    assert [c["sourcedId"] for c in year["children"]] == ["a-term-1", "a-term-2"]
    term = api.get("/terms/a-term-1").json()["academicSession"]
    assert term["parent"]["sourcedId"] == "a-sy-2026"
    assert term["children"] == [ref("academicSession", "academicSessions", "a-gp-1")]
    assert api.get("/gradingPeriods/a-gp-1").json()["academicSession"]["title"] == "前期中間"


def test_course_object(api: Any) -> None:
    course = api.get("/courses/a-course-math").json()["course"]
    assert course["courseCode"] == ""  # required by the binding, fixed empty by the Japan Profile
    assert course["org"] == ref("org", "orgs", "a-school-1")
    assert course["schoolYear"] == ref("academicSession", "academicSessions", "a-sy-2026")
    assert (course["subjects"], course["subjectCodes"]) == (["算数"], ["P030"])


NESTED = [
    ("/schools/a-school-1/courses", "courses", ["a-course-hr", "a-course-math"]),
    ("/schools/a-school-1/classes", "classes", ["a-class-hr", "a-class-math"]),
    ("/schools/a-school-2/classes", "classes", ["a-class-j1"]),
    (
        "/schools/a-school-2/enrollments",
        "enrollments",
        ["a-enr-j1-s4", "a-enr-j1-t2"],
    ),
    ("/schools/a-school-1/students", "users", ["a-student-1", "a-student-2", "a-student-3"]),
    ("/schools/a-school-2/students", "users", ["a-student-4"]),
    ("/schools/a-school-1/teachers", "users", ["a-teacher-1", "a-teacher-2"]),
    ("/schools/a-school-2/teachers", "users", ["a-teacher-2"]),
    ("/schools/a-school-1/terms", "academicSessions", ["a-term-1", "a-term-2"]),
    ("/schools/a-school-2/terms", "academicSessions", []),
    (
        "/schools/a-school-1/classes/a-class-hr/enrollments",
        "enrollments",
        ["a-enr-hr-s1", "a-enr-hr-s2", "a-enr-hr-s3", "a-enr-hr-t1"],
    ),
    (
        "/schools/a-school-1/classes/a-class-math/students",
        "users",
        ["a-student-1", "a-student-2"],
    ),
    (
        "/schools/a-school-1/classes/a-class-math/teachers",
        "users",
        ["a-teacher-1", "a-teacher-2"],
    ),
    ("/terms/a-term-1/classes", "classes", ["a-class-math"]),
    ("/terms/a-term-1/gradingPeriods", "academicSessions", ["a-gp-1"]),
    ("/terms/a-term-2/gradingPeriods", "academicSessions", []),
    ("/courses/a-course-math/classes", "classes", ["a-class-math"]),
    # The deleted student (enrollment and user tobedeleted) stays visible for sync.
    ("/classes/a-class-hr/students", "users", ["a-student-1", "a-student-2", "a-student-3"]),
    ("/classes/a-class-hr/teachers", "users", ["a-teacher-1"]),
    ("/classes/a-class-j1/teachers", "users", ["a-teacher-2"]),
    ("/users/a-student-1/classes", "classes", ["a-class-hr", "a-class-math"]),
    ("/users/a-teacher-2/classes", "classes", ["a-class-j1", "a-class-math"]),
    ("/students/a-student-4/classes", "classes", ["a-class-j1"]),
    ("/teachers/a-teacher-1/classes", "classes", ["a-class-hr", "a-class-math"]),
]


def test_nested_collections(api: Any) -> None:
    for path, key, expected in NESTED:
        assert api.ids(path, key) == expected, path


def test_a_student_who_left_a_class_is_no_longer_listed_in_it(api: Any, container: Any) -> None:
    from sqlalchemy import update

    from tsunagu.roster.models import Enrollment

    with container.database.transaction() as session:
        session.execute(
            update(Enrollment)
            .where(Enrollment.sourced_id == "a-enr-math-s2")
            .values(status="tobedeleted")
        )
    # The user is still active (moved class), so the dead enrollment no longer links them.
    assert api.ids("/classes/a-class-math/students", "users") == ["a-student-1"]
    assert api.ids("/users/a-student-2/classes", "classes") == ["a-class-hr"]


UNKNOWN = [
    "/orgs/nope",
    "/schools/a-district",  # an org, but not a school
    "/terms/a-sy-2026",  # an academic session, but not a term
    "/gradingPeriods/a-term-1",
    "/academicSessions/nope",
    "/courses/nope",
    "/classes/nope",
    "/users/nope",
    "/students/a-teacher-1",  # a user, but not a student
    "/teachers/a-student-1",
    "/enrollments/nope",
    "/schools/nope/classes",
    "/schools/a-district/students",
    "/schools/a-school-2/classes/a-class-hr/students",  # class of another school
    "/schools/a-school-1/classes/nope/enrollments",
    "/terms/nope/classes",
    "/terms/a-sy-2026/gradingPeriods",
    "/courses/nope/classes",
    "/classes/nope/students",
    "/classes/nope/teachers",
    "/users/nope/classes",
    "/students/a-teacher-2/classes",
    "/teachers/a-student-4/classes",
    "/users/%00/classes",
    "/users/" + "x" * 300,
]


UNKNOWN += ["/demographics", "/demographics/a-student-1", "/nothing", "/orgs/a/b"]


def test_unknown_objects_are_404_unknownobject(api: Any) -> None:
    for path in UNKNOWN:
        response = api.get(path)
        assert response.status_code == 404, (path, response.text)
        body = response.json()
        schemas.ImsxStatusInfoDType.model_validate(body)
        assert body["imsx_codeMajor"] == "failure"
        assert body["imsx_severity"] == "error"
        assert body["imsx_CodeMinor"]["imsx_codeMinorField"] == [
            {
                "imsx_codeMinorFieldName": "TargetEndSystem",
                "imsx_codeMinorFieldValue": "unknownobject",
            }
        ], path


def test_sourced_ids_with_reserved_characters_round_trip(api: Any, container: Any) -> None:
    from datetime import datetime

    from tsunagu.roster.models import Class, Org
    from tsunagu.tenancy import service

    with container.database.transaction() as session:
        tenant_id = service.get_tenant(session, "131016").id
        session.add(
            Org(
                tenant_id=tenant_id,
                sourced_id="odd id+1%",
                name="x",
                type="school",
                parent_sourced_id="a-district",
                status="active",
                date_last_modified=datetime(2026, 1, 1),
                row_hash="0" * 32,
            )
        )
    add_class = Class(
        tenant_id=tenant_id,
        sourced_id="授業 1",
        title="t",
        class_type="scheduled",
        course_sourced_id="a-course-math",
        school_sourced_id="odd id+1%",
        term_sourced_ids="a-term-1",
        status="active",
        date_last_modified=datetime(2026, 1, 1),
        row_hash="0" * 32,
    )
    with container.database.transaction() as session:
        session.add(add_class)
    children = api.get("/orgs/a-district").json()["org"]["children"]
    assert children[-1] == {
        "href": f"{BASE}/orgs/odd%20id%2B1%25",
        "sourcedId": "odd id+1%",
        "type": "org",
    }
    assert api.get("/orgs/odd%20id%2B1%25").json()["org"]["sourcedId"] == "odd id+1%"
    # Nested collections under such ids answer with ASCII-only, correctly encoded Link headers.
    page = api.get("/schools/odd%20id%2B1%25/classes")
    assert [c["sourcedId"] for c in page.json()["classes"]] == ["授業 1"]
    assert f"<{BASE}/schools/odd%20id%2B1%25/classes?limit=100&offset=0>" in page.headers["Link"]
    assert page.json()["classes"][0]["school"]["href"] == f"{BASE}/orgs/odd%20id%2B1%25"
    students = api.get("/classes/%E6%8E%88%E6%A5%AD%201/students")
    assert students.status_code == 200
    assert f"{BASE}/classes/%E6%8E%88%E6%A5%AD%201/students?" in students.headers["Link"]
