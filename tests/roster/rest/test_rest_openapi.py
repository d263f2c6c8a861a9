"""The served OpenAPI document describes the rostering service as the binding does."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tsunagu.app import create_app
from tsunagu.oauth.scopes import ROSTER_CORE_READONLY, ROSTER_READONLY
from tsunagu.settings import Settings

PREFIX = "/ims/oneroster/rostering/v1p2"
_CLASS_IN_SCHOOL = "/schools/{schoolSourcedId}/classes/{classSourcedId}"
#: operationId -> path, from the official OpenAPI file of the binding (demographics excepted).
OPERATIONS = {
    "getAllAcademicSessions": "/academicSessions",
    "getAcademicSession": "/academicSessions/{sourcedId}",
    "getAllClasses": "/classes",
    "getClass": "/classes/{sourcedId}",
    "getStudentsForClass": "/classes/{classSourcedId}/students",
    "getTeachersForClass": "/classes/{classSourcedId}/teachers",
    "getAllCourses": "/courses",
    "getCourse": "/courses/{sourcedId}",
    "getClassesForCourse": "/courses/{courseSourcedId}/classes",
    "getAllEnrollments": "/enrollments",
    "getEnrollment": "/enrollments/{sourcedId}",
    "getAllGradingPeriods": "/gradingPeriods",
    "getGradingPeriod": "/gradingPeriods/{sourcedId}",
    "getAllOrgs": "/orgs",
    "getOrg": "/orgs/{sourcedId}",
    "getAllSchools": "/schools",
    "getSchool": "/schools/{sourcedId}",
    "getClassesForSchool": "/schools/{schoolSourcedId}/classes",
    "getCoursesForSchool": "/schools/{schoolSourcedId}/courses",
    "getEnrollmentsForSchool": "/schools/{schoolSourcedId}/enrollments",
    "getStudentsForSchool": "/schools/{schoolSourcedId}/students",
    "getTeachersForSchool": "/schools/{schoolSourcedId}/teachers",
    "getTermsForSchool": "/schools/{schoolSourcedId}/terms",
    "getEnrollmentsForClassInSchool": _CLASS_IN_SCHOOL + "/enrollments",
    "getStudentsForClassInSchool": _CLASS_IN_SCHOOL + "/students",
    "getTeachersForClassInSchool": _CLASS_IN_SCHOOL + "/teachers",
    "getAllStudents": "/students",
    "getStudent": "/students/{sourcedId}",
    "getClassesForStudent": "/students/{studentSourcedId}/classes",
    "getAllTeachers": "/teachers",
    "getTeacher": "/teachers/{sourcedId}",
    "getClassesForTeacher": "/teachers/{teacherSourcedId}/classes",
    "getAllTerms": "/terms",
    "getTerm": "/terms/{sourcedId}",
    "getClassesForTerm": "/terms/{termSourcedId}/classes",
    "getGradingPeriodsForTerm": "/terms/{termSourcedId}/gradingPeriods",
    "getAllUsers": "/users",
    "getUser": "/users/{sourcedId}",
    "getClassesForUser": "/users/{userSourcedId}/classes",
}
IMSX = {"$ref": "#/components/schemas/ImsxStatusInfoDType"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app: FastAPI = create_app(Settings(database_url="sqlite://", secret_key="unused"))
    return app.openapi()


def operations(spec: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        op["operationId"]: (path, op)
        for path, item in spec["paths"].items()
        if path.startswith(PREFIX)
        for op in item.values()
    }


def test_every_operation_of_the_binding_is_served_and_nothing_else(spec: dict[str, Any]) -> None:
    served = {op_id: path.removeprefix(PREFIX) for op_id, (path, _) in operations(spec).items()}
    assert served == OPERATIONS
    assert all(list(spec["paths"][PREFIX + p]) == ["get"] for p in OPERATIONS.values())
    assert not [p for p in spec["paths"] if "demographics" in p.lower()]


def test_security_scheme_is_client_credentials_with_the_roster_scopes(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["OAuth2CC"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == {ROSTER_CORE_READONLY, ROSTER_READONLY}
    assert "demographics" in scheme["description"].lower()
    ops = operations(spec)
    assert ops["getAllUsers"][1]["security"] == [
        {"OAuth2CC": [ROSTER_READONLY]},
        {"OAuth2CC": [ROSTER_CORE_READONLY]},
    ]
    assert ops["getUser"][1]["security"] == ops["getAllUsers"][1]["security"]
    assert ops["getStudentsForClass"][1]["security"] == [{"OAuth2CC": [ROSTER_READONLY]}]
    assert "demographics" in ops["getAllUsers"][1]["description"].lower()


def test_collection_operations_document_parameters_headers_and_errors(
    spec: dict[str, Any],
) -> None:
    _, op = operations(spec)["getClassesForSchool"]
    params = {p["name"]: p for p in op["parameters"]}
    assert list(params) == [
        "schoolSourcedId", "limit", "offset", "sort", "orderBy", "filter", "fields",
    ]  # fmt: skip
    assert params["schoolSourcedId"]["in"] == "path"
    assert params["limit"]["schema"]["default"] == 100
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["offset"]["schema"]["minimum"] == 0
    assert params["orderBy"]["schema"]["enum"] == ["asc", "desc"]
    assert "title" in params["sort"]["schema"]["enum"]
    assert "grades" not in params["sort"]["schema"]["enum"]
    ok = op["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClassSetDType"
    }
    assert set(ok["headers"]) == {"X-Total-Count", "Link"}
    for status in ("400", "401", "403", "404", "422", "429", "500"):
        assert op["responses"][status]["content"]["application/json"]["schema"] == IMSX, status
    assert "WWW-Authenticate" in op["responses"]["401"]["headers"]


def test_single_object_operations(spec: dict[str, Any]) -> None:
    _, op = operations(spec)["getEnrollment"]
    assert [p["name"] for p in op["parameters"]] == ["sourcedId", "fields"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SingleEnrollmentDType"
    }
    assert op["responses"]["404"]["content"]["application/json"]["schema"] == IMSX


def test_payload_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    user = schemas["UserDType"]
    assert user["additionalProperties"] is False
    assert "password" not in user["properties"]
    assert user["properties"]["enabledUser"]["enum"] == ["true", "false"]
    assert user["properties"]["roles"]["items"] == {"$ref": "#/components/schemas/RoleDType"}
    enrollment = schemas["EnrollmentDType"]["properties"]
    assert enrollment["class"]["$ref"] == "#/components/schemas/ClassGUIDRefDType"
    assert schemas["SingleClassDType"]["required"] == ["class"]
    assert schemas["ClassGUIDRefDType"]["required"] == ["href", "sourcedId", "type"]
    minor = schemas["ImsxCodeMinorFieldDType"]["properties"]["imsx_codeMinorFieldValue"]
    assert "invalid_filter_field" in minor["enum"]


def test_token_endpoint_is_documented(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/oauth/token"]["post"]
    body = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert body["properties"]["grant_type"]["enum"] == ["client_credentials"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenResponse"
    }
    assert "401" in op["responses"]
