"""The ``filter`` parameter: the grammar, its SQL translation on both databases, and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from tsunagu.roster.rest.filtering import (
    FilterExpression,
    FilterSyntaxError,
    Predicate,
    parse_filter,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("familyName='山田'", FilterExpression((Predicate("familyName", "=", "山田"),))),
        ("status != 'active'", FilterExpression((Predicate("status", "!=", "active"),))),
        ("a>'1'", FilterExpression((Predicate("a", ">", "1"),))),
        ("a>='1'", FilterExpression((Predicate("a", ">=", "1"),))),
        ("a<'1'", FilterExpression((Predicate("a", "<", "1"),))),
        ("a<='1'", FilterExpression((Predicate("a", "<=", "1"),))),
        ("a~'x'", FilterExpression((Predicate("a", "~", "x"),))),
        ("a=''", FilterExpression((Predicate("a", "=", ""),))),
        ("name='O''Brien'", FilterExpression((Predicate("name", "=", "O'Brien"),))),
        ("name='x AND y'", FilterExpression((Predicate("name", "=", "x AND y"),))),
        (
            "roles.org.sourcedId='s1' AND roles.role='teacher'",
            FilterExpression(
                (
                    Predicate("roles.org.sourcedId", "=", "s1"),
                    Predicate("roles.role", "=", "teacher"),
                ),
                "AND",
            ),
        ),
        (
            "  a='1'  or  b!='2'  ",
            FilterExpression((Predicate("a", "=", "1"), Predicate("b", "!=", "2")), "OR"),
        ),
    ],
)
def test_valid_filters_parse(text: str, expected: FilterExpression) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "familyName=山田",  # value not quoted
        "familyName='山田",  # unterminated
        "familyName",  # no operator
        "familyName=='x'",
        "familyName LIKE 'x'",
        "='x'",
        "1a='x'",
        "a='1' AND",
        "a='1' AND b='2' AND c='3'",  # at most two predicates
        "a='1' AND b='2' OR c='3'",  # AND and OR not both
        "a='1' b='2'",
        "a='1'AND b='2'",
        "a='1' XOR b='2'",
        "a='1'; DROP TABLE roster_users",
        "x" * 2001,
    ],
)
def test_malformed_filters_are_rejected(text: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter(text)


def error_code(response: Any) -> str:
    field = response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    return str(field["imsx_codeMinorFieldValue"])


# (path, filter, expected sourcedIds)
CASES = [
    # every operator
    ("/users", "familyName='山田'", ["a-teacher-1"]),
    ("/users", "status!='active'", ["a-student-3"]),
    ("/users", "dateLastModified>'2026-04-01T00:00:00Z'", ["a-student-2", "a-student-3"]),
    ("/users", "dateLastModified>='2026-04-21T00:00:00.000Z'", ["a-student-2", "a-student-3"]),
    ("/users", "dateLastModified>='2026-04-21T00:00:00.001Z'", ["a-student-2"]),
    ("/users", "dateLastModified>'2026-05-01T21:34:56.788+09:00'", ["a-student-2"]),
    ("/users", "dateLastModified>'2026-05-01T21:34:56.789+09:00'", []),
    ("/users", "dateLastModified='2026-05-01T12:34:56.789Z'", ["a-student-2"]),
    (
        "/users",
        "dateLastModified<'2026-04-02'",
        ["a-student-1", "a-student-4", "a-teacher-1", "a-teacher-2"],
    ),
    ("/users", "sourcedId<='a-student-2'", ["a-student-1", "a-student-2"]),
    ("/users", "sourcedId>'a-teacher'", ["a-teacher-1", "a-teacher-2"]),
    ("/users", "givenName~'郎'", ["a-student-1", "a-student-2", "a-student-3", "a-teacher-2"]),
    ("/users", "username~'TEACHER'", ["a-teacher-1", "a-teacher-2"]),  # case-insensitive
    ("/users", "givenName~'%'", []),  # no LIKE wildcards
    ("/users", "username~'_'", []),
    ("/users", "familyName='O''Brien'", []),
    # AND / OR
    ("/users", "roles.role='teacher' AND roles.org.sourcedId='a-school-2'", ["a-teacher-2"]),
    ("/users", "familyName='山田' OR familyName='伊藤'", ["a-student-4", "a-teacher-1"]),
    ("/users", "grades='P5' AND status='active'", ["a-student-1", "a-student-2"]),
    # list fields match one element
    ("/users", "grades='P5'", ["a-student-1", "a-student-2", "a-student-3"]),
    ("/users", "grades!='P5'", ["a-student-4", "a-teacher-1", "a-teacher-2"]),
    ("/users", "grades~'j'", ["a-student-4"]),
    ("/users", "grades=''", ["a-teacher-1", "a-teacher-2"]),
    ("/classes", "terms.sourcedId='a-term-2'", ["a-class-math"]),
    ("/classes", "terms.sourcedId='a-term'", []),  # whole elements only
    ("/classes", "periods='3'", ["a-class-math"]),
    ("/courses", "subjectCodes='P030'", ["a-course-math"]),
    # booleans
    ("/classes", "metadata.jp.specialNeeds='true'", ["a-class-j1"]),
    ("/classes", "metadata.jp.specialNeeds!='true'", ["a-class-hr", "a-class-math"]),
    ("/enrollments", "primary='TRUE'", ["a-enr-hr-t1", "a-enr-j1-t2", "a-enr-math-t2"]),
    ("/users", "enabledUser='false'", []),
    # references and related rows
    ("/classes", "course.sourcedId='a-course-math'", ["a-class-math"]),
    ("/classes", "school.sourcedId='a-school-2'", ["a-class-j1"]),
    ("/enrollments", "user.sourcedId='a-student-1'", ["a-enr-hr-s1", "a-enr-math-s1"]),
    ("/enrollments", "class.sourcedId='a-class-j1' AND role='student'", ["a-enr-j1-s4"]),
    ("/orgs", "parent.sourcedId='a-district'", ["a-school-1", "a-school-2"]),
    ("/academicSessions", "parent.sourcedId='a-term-1'", ["a-gp-1"]),
    ("/courses", "schoolYear.sourcedId='a-sy-2026' AND org.sourcedId='a-school-2'", ["a-course-j"]),
    ("/users", "roles.role='siteAdministrator'", ["a-teacher-1"]),
    ("/users", "roles.role!='student'", ["a-teacher-1", "a-teacher-2"]),
    ("/users", "roles.roleType='secondary'", ["a-teacher-1"]),
    ("/users", "roles.userProfile='a-profile-t1'", ["a-teacher-1"]),
    ("/users", "primaryOrg.sourcedId='a-school-1'", ["a-student-1", "a-teacher-1", "a-teacher-2"]),
    # Japan Profile metadata and extension columns
    ("/users", "metadata.jp.kanaFamilyName='ヤマダ'", ["a-teacher-1"]),
    ("/users", "metadata.jp.homeClass='a-class-j1'", ["a-student-4"]),
    ("/users", "metadata.ext.club='サッカー'", ["a-student-1"]),
    ("/users", "metadata.ext.club~'サッ'", ["a-student-1"]),
    ("/users", "metadata.vendor.unknown='x'", []),
    ("/enrollments", "metadata.jp.shussekiNo='2'", ["a-enr-hr-s2"]),
    ("/enrollments", "metadata.jp.publicFlg='true'", ["a-enr-hr-s1"]),
    # empty means NULL or ''
    ("/users", "middleName!=''", ["a-student-4"]),
    ("/users", "middleName='ミドル' OR email~'yamada'", ["a-student-4", "a-teacher-1"]),
    # nested collections filter within their own rows
    ("/classes/a-class-hr/students", "status='active'", ["a-student-1", "a-student-2"]),
    ("/schools/a-school-1/classes", "classType='scheduled'", ["a-class-math"]),
    ("/terms", "title~'後'", ["a-term-2"]),
    ("/schools", "identifier='C113210000018'", ["a-school-2"]),
]


def test_filters_select_the_matching_rows(api: Any) -> None:
    for path, expression, expected in CASES:
        response = api.get(path, filter=expression)
        assert response.status_code == 200, (path, expression, response.text)
        key = next(iter(response.json()))
        got = [item["sourcedId"] for item in response.json()[key]]
        assert got == expected, (path, expression)
        assert response.headers["X-Total-Count"] == str(len(expected)), (path, expression)


BAD = [
    ("/users", "shoeSize='42'"),  # unknown field
    ("/users", "password='x'"),
    ("/users", "roles.colour='red'"),
    ("/classes", "teachers.sourcedId='x'"),
    ("/users", "metadata.='x'"),
    ("/users", "familyName=山田"),  # bad syntax
    ("/users", "a='1' AND b='2' OR c='3'"),
    ("/users", "familyName='a' AND familyName='b' AND familyName='c'"),
    ("/users", "dateLastModified~'2026'"),  # contains on a date-time
    ("/users", "dateLastModified>'yesterday'"),
    ("/users", "dateLastModified>'9999-12-31T23:59:59-23:59'"),
    ("/users", "enabledUser='yes'"),  # booleans take true/false
    ("/users", "enabledUser>'false'"),
    ("/users", "grades>'P1'"),  # lists take =, != and ~
    ("/users", "grades='P1,P2'"),
    ("/users", "familyName='\x00'"),
    ("/users", "familyName='" + "x" * 2000 + "'"),
    ("/users/a-student-1/classes", "nope='1'"),
]


def test_bad_filters_are_400_invalid_filter_field(api: Any) -> None:
    for path, expression in BAD:
        response = api.get(path, filter=expression)
        assert response.status_code == 400, (path, expression, response.text)
        assert error_code(response) == "invalid_filter_field", (path, expression)
        assert response.json()["imsx_description"]
