"""Property-based run of every rostering operation against the served OpenAPI document.

Schemathesis generates requests from ``/openapi.json`` (the in-process ASGI app, a real bearer
token of tenant A) and checks each response: never a 5xx, a documented status code and content
type, documented headers present, and a body that validates against the documented schema.
Path parameters are either generated or real sourcedIds of the fixture, so both the 404 and the
200 bodies get checked.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 25
NEGATIVE_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
#: A real object for each path parameter, so nested collections return rows too.
NAMED_IDS = {
    "schoolSourcedId": "a-school-1",
    "classSourcedId": "a-class-math",
    "courseSourcedId": "a-course-math",
    "termSourcedId": "a-term-1",
    "userSourcedId": "a-student-1",
    "studentSourcedId": "a-student-1",
    "teacherSourcedId": "a-teacher-1",
}
ID_BY_COLLECTION = {
    "orgs": "a-district",
    "schools": "a-school-1",
    "academicSessions": "a-sy-2026",
    "terms": "a-term-1",
    "gradingPeriods": "a-gp-1",
    "courses": "a-course-math",
    "classes": "a-class-math",
    "users": "a-teacher-1",
    "students": "a-student-1",
    "teachers": "a-teacher-1",
    "enrollments": "a-enr-hr-s1",
}


def _real_ids(path: str) -> dict[str, str]:
    collection = path.removeprefix("/ims/oneroster/rostering/v1p2/").split("/")[0]
    names = [part.strip("{}") for part in path.split("/") if part.startswith("{")]
    return {n: NAMED_IDS.get(n, ID_BY_COLLECTION[collection]) for n in names}


def _fuzz(
    strategy: Any,
    auth: dict[str, str],
    seen: set[int],
    *,
    examples: int = EXAMPLES_PER_OPERATION,
    checks: list[Any] = CHECKS,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no .hypothesis folder in the work tree
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(headers=auth)
        seen.add(response.status_code)
        case.validate_response(response, checks=checks, headers=auth)

    check()


def test_every_rostering_operation_conforms_to_its_schema(api: Any) -> None:
    app = api.client.app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex="^/ims/oneroster/rostering/v1p2/"
    )
    auth = {"Authorization": f"Bearer {api.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 39  # the binding's 41 minus the two demographics operations
    statuses: dict[str, set[int]] = {}

    for operation in operations:
        strategy = operation.as_strategy()
        real = _real_ids(operation.path)
        if real:
            strategy = st.one_of(strategy, operation.as_strategy(path_parameters=real))
        _fuzz(strategy, auth, statuses.setdefault(operation.label, set()))

        # Requests that break the schema (wrong types, out-of-range numbers, odd path values)
        # must be refused cleanly: a 4xx in the imsx envelope, never a 5xx.
        negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        _fuzz(negative, auth, set(), examples=NEGATIVE_EXAMPLES, checks=NEGATIVE_CHECKS)

    # The run exercised successful answers, not only rejections.
    ok = [label for label, codes in statuses.items() if 200 in codes]
    assert len(ok) == len(operations), sorted(set(statuses) - set(ok))
