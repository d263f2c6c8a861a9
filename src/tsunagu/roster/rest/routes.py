"""HTTP routes of the OneRoster 1.2 Rostering Service (read-only).

Mounted under ``/ims/oneroster/rostering/v1p2``.

Thin: each route resolves its parameters and calls one function of
:mod:`tsunagu.roster.rest.service`. Operation ids, paths, parameter names and tags are those of
the official OpenAPI file of the binding. Every failure, including FastAPI's own parameter
validation, is answered in the imsx_StatusInfo envelope (:class:`ImsxRoute`).
"""

# No ``from __future__ import annotations`` here: the parameter dependencies are built in closures
# and FastAPI must evaluate their annotations where they are defined.
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException

from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.oauth.dependencies import SCHEME_NAME, BearerAuthError, require_scopes
from tsunagu.oauth.scopes import ROSTER_CORE_READONLY, ROSTER_READONLY
from tsunagu.oauth.service import Principal
from tsunagu.roster.rest import schemas, service
from tsunagu.roster.rest.errors import CodeMinor, RosterApiError, imsx_body
from tsunagu.roster.rest.filtering import MAX_FILTER_LENGTH
from tsunagu.roster.rest.paging import link_header
from tsunagu.roster.rest.resources import (
    ACADEMIC_SESSIONS,
    CLASSES,
    COURSES,
    ENROLLMENTS,
    ORGS,
    USERS,
    Resource,
)
from tsunagu.roster.rest.serializers import ROSTERING_PATH
from tsunagu.roster.rest.service import CollectionQuery, Page, RosterReader, Single

logger = logging.getLogger(__name__)


def imsx_response(
    status_code: int,
    code_minor: CodeMinor,
    description: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        imsx_body(code_minor, description), status_code=status_code, headers=headers
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in list(exc.errors())[:3]:
        loc = [str(x) for x in error.get("loc", ())]
        where = f"{loc[0]} parameter '{'.'.join(loc[1:])}'" if len(loc) > 1 else "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


class ImsxRoute(APIRoute):
    """Answers every failure of a rostering route with an imsx_StatusInfo body.

    FastAPI would answer bad query parameters with its own 422 body; the binding wants 400 with
    the imsx envelope, and a consumer must never see a 500 for what it sent.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RosterApiError as exc:
                return imsx_response(exc.status_code, exc.code_minor, exc.description)
            except BearerAuthError as exc:
                code: CodeMinor = "unauthorisedrequest" if exc.status_code == 401 else "forbidden"
                return imsx_response(
                    exc.status_code,
                    code,
                    exc.description,
                    headers={"WWW-Authenticate": exc.www_authenticate},
                )
            except RequestValidationError as exc:
                return imsx_response(400, "invaliddata", _describe_validation(exc))
            except HTTPException:
                raise
            except Exception:
                logger.exception("rostering request failed: %s", request.url.path)
                return imsx_response(500, "internal_server_error", "Internal server error.")

        return handle


router = APIRouter(prefix=ROSTERING_PATH, route_class=ImsxRoute)


# --- authentication and the per-request reader ---------------------------------------------


def _reader(
    authenticate: Callable[..., Principal],
) -> Callable[..., Iterator[RosterReader]]:
    def dependency(
        principal: Annotated[Principal, Depends(authenticate)],
        container: Annotated[Container, Depends(container_dependency)],
    ) -> Iterator[RosterReader]:
        with container.database.session() as session:
            yield RosterReader(session, principal.tenant_id, container.settings.base_url)

    return dependency


# OneRoster 1.2 security: the core operations accept roster-core.readonly or roster.readonly;
# the nested ("…For…") operations need roster.readonly (official OpenAPI file, per operation).
CoreReader = Annotated[
    RosterReader, Depends(_reader(require_scopes(ROSTER_READONLY, ROSTER_CORE_READONLY)))
]
FullReader = Annotated[RosterReader, Depends(_reader(require_scopes(ROSTER_READONLY)))]
#: FastAPI writes the roster.readonly requirement; this adds roster-core.readonly as an
#: alternative (separate requirement objects are ORed by OpenAPI).
_ALSO_CORE = {"security": [{SCHEME_NAME: [ROSTER_CORE_READONLY]}]}


# --- parameters ------------------------------------------------------------------------------

Absent = SkipJsonSchema[None]


def _fields_pattern(resource: Resource) -> str:
    names = "|".join(resource.fields)
    return f"^(?:{names})(?:,(?:{names}))*$"


def _fields_description(resource: Resource) -> str:
    return (
        "Comma-separated top-level fields to return, e.g. `sourcedId,status`. Selectable: "
        + ", ".join(f"`{f}`" for f in resource.fields)
        + ". An unknown field is refused with 400 `invalid_selection_field`."
    )


def _collection_query(resource: Resource) -> Callable[..., CollectionQuery]:
    filter_help = (
        "`field op 'value'`, optionally a second predicate joined by ` AND ` or ` OR `. "
        "Operators: `=` `!=` `>` `>=` `<` `<=` `~` (contains, case-insensitive). Fields: "
        + ", ".join(f"`{f}`" for f in resource.filters)
        + ", and any `metadata.*` extension column. Lists match one element (`grades='P5'`); "
        "booleans take 'true'/'false'; dateLastModified takes ISO 8601. A quote in a value is "
        "written twice. Unknown field or bad syntax: 400 `invalid_filter_field`."
    )

    def dependency(
        limit: Annotated[
            int,
            Query(
                ge=1,
                description=(
                    "Page size. Pages larger than "
                    f"{service.MAX_LIMIT} are cut to {service.MAX_LIMIT}."
                ),
                json_schema_extra={"format": "int32"},
            ),
        ] = service.DEFAULT_LIMIT,
        offset: Annotated[
            int,
            Query(
                ge=0,
                le=service.MAX_OFFSET,
                description="Index of the first record of the page.",
                json_schema_extra={"format": "int32"},
            ),
        ] = 0,
        sort: Annotated[
            str | Absent,
            Query(
                description="Field to sort on (code-point order); sourcedId breaks ties.",
                json_schema_extra={"enum": list(resource.sortable)},
            ),
        ] = None,
        order_by: Annotated[
            str | Absent,
            Query(
                alias="orderBy",
                description="Sort direction (default asc).",
                json_schema_extra={"enum": ["asc", "desc"]},
            ),
        ] = None,
        filter_: Annotated[
            str | Absent,
            Query(
                alias="filter",
                description=filter_help,
                json_schema_extra={"maxLength": MAX_FILTER_LENGTH},
            ),
        ] = None,
        fields: Annotated[
            str | Absent,
            Query(
                description=_fields_description(resource),
                json_schema_extra={"pattern": _fields_pattern(resource)},
            ),
        ] = None,
    ) -> CollectionQuery:
        return CollectionQuery(
            limit=limit, offset=offset, sort=sort, order_by=order_by, filter=filter_, fields=fields
        )

    return dependency


def _fields_only(resource: Resource) -> Callable[..., str | None]:
    def dependency(
        fields: Annotated[
            str | Absent,
            Query(
                description=_fields_description(resource),
                json_schema_extra={"pattern": _fields_pattern(resource)},
            ),
        ] = None,
    ) -> str | None:
        return fields

    return dependency


OrgsQuery = Annotated[CollectionQuery, Depends(_collection_query(ORGS))]
SessionsQuery = Annotated[CollectionQuery, Depends(_collection_query(ACADEMIC_SESSIONS))]
CoursesQuery = Annotated[CollectionQuery, Depends(_collection_query(COURSES))]
ClassesQuery = Annotated[CollectionQuery, Depends(_collection_query(CLASSES))]
UsersQuery = Annotated[CollectionQuery, Depends(_collection_query(USERS))]
EnrollmentsQuery = Annotated[CollectionQuery, Depends(_collection_query(ENROLLMENTS))]

OrgFields = Annotated[str | None, Depends(_fields_only(ORGS))]
SessionFields = Annotated[str | None, Depends(_fields_only(ACADEMIC_SESSIONS))]
CourseFields = Annotated[str | None, Depends(_fields_only(COURSES))]
ClassFields = Annotated[str | None, Depends(_fields_only(CLASSES))]
UserFields = Annotated[str | None, Depends(_fields_only(USERS))]
EnrollmentFields = Annotated[str | None, Depends(_fields_only(ENROLLMENTS))]


def _id(name: str, what: str) -> Any:
    return Path(alias=name, description=f"sourcedId of the {what}.")


SourcedId = Annotated[str, Path(alias="sourcedId", description="sourcedId of the object.")]
SchoolId = Annotated[str, _id("schoolSourcedId", "school")]
ClassId = Annotated[str, _id("classSourcedId", "class")]
CourseId = Annotated[str, _id("courseSourcedId", "course")]
TermId = Annotated[str, _id("termSourcedId", "term")]
UserId = Annotated[str, _id("userSourcedId", "user")]
StudentId = Annotated[str, _id("studentSourcedId", "student")]
TeacherId = Annotated[str, _id("teacherSourcedId", "teacher")]


# --- responses -------------------------------------------------------------------------------

_ERROR = schemas.ImsxStatusInfoDType
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": _ERROR,
        "description": "invalid_selection_field, invalid_filter_field or invaliddata.",
    },
    401: {
        "model": _ERROR,
        "description": "unauthorisedrequest: no, invalid, expired or revoked token.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    403: {"model": _ERROR, "description": "forbidden: the token lacks the scope."},
    422: {"model": _ERROR, "description": "Not sent by Tsunagu (bad parameters get 400)."},
    429: {"model": _ERROR, "description": "server_busy."},
    500: {"model": _ERROR, "description": "internal_server_error."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": _ERROR, "description": "unknownobject."}
}
_PAGE_HEADERS = {
    "X-Total-Count": {
        "description": "Number of records matching the request, over all pages.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "Link": {
        "description": 'RFC 8288 links to the first, prev, next and last pages (`rel="…"`).',
        "required": True,
        "schema": {"type": "string"},
    },
}


def _page_response(request: Request, page: Page) -> JSONResponse:
    container: Container = request.app.state.container
    # Links, like GUIDRef hrefs, are the public base URL + the binding's path (whatever prefix a
    # proxy adds in between); the decoded path may hold any character a sourcedId holds, and
    # headers must stay ASCII.
    path: str = request.scope["path"]
    path = path[max(path.find(ROSTERING_PATH), 0) :]
    url = container.settings.base_url.rstrip("/") + quote(path, safe="/")
    headers = {
        "X-Total-Count": str(page.total),
        "Link": link_header(
            url, request.query_params.multi_items(), page.offset, page.limit, page.total
        ),
    }
    return JSONResponse({page.key: page.items}, headers=headers)


def _single_response(single: Single) -> JSONResponse:
    return JSONResponse({single.key: single.item})


def _collection(
    path: str,
    operation_id: str,
    model: type[Any],
    tag: str,
    summary: str,
    *,
    core: bool,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    responses: dict[int | str, dict[str, Any]] = {200: {"headers": _PAGE_HEADERS}, **_ERRORS}
    if not core:
        responses.update(_NOT_FOUND)
    return router.get(
        path,
        operation_id=operation_id,
        summary=summary,
        description=description,
        tags=[tag],
        response_model=model,
        responses=responses,
        openapi_extra=_ALSO_CORE if core else None,
    )


def _one(
    path: str,
    operation_id: str,
    model: type[Any],
    tag: str,
    summary: str,
    description: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.get(
        path,
        operation_id=operation_id,
        summary=summary,
        description=description,
        tags=[tag],
        response_model=model,
        responses={**_ERRORS, **_NOT_FOUND},
        openapi_extra=_ALSO_CORE,
    )


# --- orgs and schools ------------------------------------------------------------------------

_ORGS_TAG = "OrgsManagement"
_SCHOOLS_TAG = "SchoolsManagement"


@_collection("/orgs", "getAllOrgs", schemas.OrgSetDType, _ORGS_TAG, "All orgs", core=True)
def get_all_orgs(request: Request, q: OrgsQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_orgs(r, q))


@_one("/orgs/{sourcedId}", "getOrg", schemas.SingleOrgDType, _ORGS_TAG, "One org")
def get_org(sourced_id: SourcedId, fields: OrgFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_org(r, sourced_id, fields))


@_collection(
    "/schools", "getAllSchools", schemas.OrgSetDType, _SCHOOLS_TAG, "All schools", core=True
)
def get_all_schools(request: Request, q: OrgsQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_schools(r, q))


@_one("/schools/{sourcedId}", "getSchool", schemas.SingleOrgDType, _SCHOOLS_TAG, "One school")
def get_school(sourced_id: SourcedId, fields: OrgFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_school(r, sourced_id, fields))


@_collection(
    "/schools/{schoolSourcedId}/courses",
    "getCoursesForSchool",
    schemas.CourseSetDType,
    _SCHOOLS_TAG,
    "Courses of a school",
    core=False,
)
def get_courses_for_school(
    request: Request, school_id: SchoolId, q: CoursesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_courses_for_school(r, school_id, q))


@_collection(
    "/schools/{schoolSourcedId}/classes",
    "getClassesForSchool",
    schemas.ClassSetDType,
    _SCHOOLS_TAG,
    "Classes of a school",
    core=False,
)
def get_classes_for_school(
    request: Request, school_id: SchoolId, q: ClassesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_classes_for_school(r, school_id, q))


@_collection(
    "/schools/{schoolSourcedId}/enrollments",
    "getEnrollmentsForSchool",
    schemas.EnrollmentSetDType,
    _SCHOOLS_TAG,
    "Enrollments in a school",
    core=False,
)
def get_enrollments_for_school(
    request: Request, school_id: SchoolId, q: EnrollmentsQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_enrollments_for_school(r, school_id, q))


@_collection(
    "/schools/{schoolSourcedId}/students",
    "getStudentsForSchool",
    schemas.UserSetDType,
    _SCHOOLS_TAG,
    "Students of a school",
    core=False,
    description="Users with a student role at the school.",
)
def get_students_for_school(
    request: Request, school_id: SchoolId, q: UsersQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_students_for_school(r, school_id, q))


@_collection(
    "/schools/{schoolSourcedId}/teachers",
    "getTeachersForSchool",
    schemas.UserSetDType,
    _SCHOOLS_TAG,
    "Teachers of a school",
    core=False,
    description="Users with a teacher role at the school.",
)
def get_teachers_for_school(
    request: Request, school_id: SchoolId, q: UsersQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_teachers_for_school(r, school_id, q))


@_collection(
    "/schools/{schoolSourcedId}/terms",
    "getTermsForSchool",
    schemas.AcademicSessionSetDType,
    _SCHOOLS_TAG,
    "Terms of a school",
    core=False,
    description="Academic sessions of type term that the school's classes are scheduled in.",
)
def get_terms_for_school(
    request: Request, school_id: SchoolId, q: SessionsQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_terms_for_school(r, school_id, q))


@_collection(
    "/schools/{schoolSourcedId}/classes/{classSourcedId}/enrollments",
    "getEnrollmentsForClassInSchool",
    schemas.EnrollmentSetDType,
    _SCHOOLS_TAG,
    "Enrollments in a class of a school",
    core=False,
)
def get_enrollments_for_class_in_school(
    request: Request, school_id: SchoolId, class_id: ClassId, q: EnrollmentsQuery, r: FullReader
) -> JSONResponse:
    page = service.get_enrollments_for_class_in_school(r, school_id, class_id, q)
    return _page_response(request, page)


@_collection(
    "/schools/{schoolSourcedId}/classes/{classSourcedId}/students",
    "getStudentsForClassInSchool",
    schemas.UserSetDType,
    _SCHOOLS_TAG,
    "Students of a class of a school",
    core=False,
)
def get_students_for_class_in_school(
    request: Request, school_id: SchoolId, class_id: ClassId, q: UsersQuery, r: FullReader
) -> JSONResponse:
    page = service.get_students_for_class_in_school(r, school_id, class_id, q)
    return _page_response(request, page)


@_collection(
    "/schools/{schoolSourcedId}/classes/{classSourcedId}/teachers",
    "getTeachersForClassInSchool",
    schemas.UserSetDType,
    _SCHOOLS_TAG,
    "Teachers of a class of a school",
    core=False,
)
def get_teachers_for_class_in_school(
    request: Request, school_id: SchoolId, class_id: ClassId, q: UsersQuery, r: FullReader
) -> JSONResponse:
    page = service.get_teachers_for_class_in_school(r, school_id, class_id, q)
    return _page_response(request, page)


# --- academic sessions, terms, grading periods -----------------------------------------------

_SESSIONS_TAG = "AcademicSessionsManagement"
_TERMS_TAG = "TermsManagement"
_PERIODS_TAG = "GradingPeriodsManagement"


@_collection(
    "/academicSessions",
    "getAllAcademicSessions",
    schemas.AcademicSessionSetDType,
    _SESSIONS_TAG,
    "All academic sessions",
    core=True,
)
def get_all_academic_sessions(request: Request, q: SessionsQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_academic_sessions(r, q))


@_one(
    "/academicSessions/{sourcedId}",
    "getAcademicSession",
    schemas.SingleAcademicSessionDType,
    _SESSIONS_TAG,
    "One academic session",
)
def get_academic_session(
    sourced_id: SourcedId, fields: SessionFields, r: CoreReader
) -> JSONResponse:
    return _single_response(service.get_academic_session(r, sourced_id, fields))


@_collection(
    "/terms", "getAllTerms", schemas.AcademicSessionSetDType, _TERMS_TAG, "All terms", core=True
)
def get_all_terms(request: Request, q: SessionsQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_terms(r, q))


@_one("/terms/{sourcedId}", "getTerm", schemas.SingleAcademicSessionDType, _TERMS_TAG, "One term")
def get_term(sourced_id: SourcedId, fields: SessionFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_term(r, sourced_id, fields))


@_collection(
    "/terms/{termSourcedId}/classes",
    "getClassesForTerm",
    schemas.ClassSetDType,
    _TERMS_TAG,
    "Classes of a term",
    core=False,
)
def get_classes_for_term(
    request: Request, term_id: TermId, q: ClassesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_classes_for_term(r, term_id, q))


@_collection(
    "/terms/{termSourcedId}/gradingPeriods",
    "getGradingPeriodsForTerm",
    schemas.AcademicSessionSetDType,
    _TERMS_TAG,
    "Grading periods of a term",
    core=False,
)
def get_grading_periods_for_term(
    request: Request, term_id: TermId, q: SessionsQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_grading_periods_for_term(r, term_id, q))


@_collection(
    "/gradingPeriods",
    "getAllGradingPeriods",
    schemas.AcademicSessionSetDType,
    _PERIODS_TAG,
    "All grading periods",
    core=True,
)
def get_all_grading_periods(request: Request, q: SessionsQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_grading_periods(r, q))


@_one(
    "/gradingPeriods/{sourcedId}",
    "getGradingPeriod",
    schemas.SingleAcademicSessionDType,
    _PERIODS_TAG,
    "One grading period",
)
def get_grading_period(sourced_id: SourcedId, fields: SessionFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_grading_period(r, sourced_id, fields))


# --- courses and classes ---------------------------------------------------------------------

_COURSES_TAG = "CoursesManagement"
_CLASSES_TAG = "ClassesManagement"


@_collection(
    "/courses", "getAllCourses", schemas.CourseSetDType, _COURSES_TAG, "All courses", core=True
)
def get_all_courses(request: Request, q: CoursesQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_courses(r, q))


@_one("/courses/{sourcedId}", "getCourse", schemas.SingleCourseDType, _COURSES_TAG, "One course")
def get_course(sourced_id: SourcedId, fields: CourseFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_course(r, sourced_id, fields))


@_collection(
    "/courses/{courseSourcedId}/classes",
    "getClassesForCourse",
    schemas.ClassSetDType,
    _COURSES_TAG,
    "Classes of a course",
    core=False,
)
def get_classes_for_course(
    request: Request, course_id: CourseId, q: ClassesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_classes_for_course(r, course_id, q))


@_collection(
    "/classes", "getAllClasses", schemas.ClassSetDType, _CLASSES_TAG, "All classes", core=True
)
def get_all_classes(request: Request, q: ClassesQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_classes(r, q))


@_one("/classes/{sourcedId}", "getClass", schemas.SingleClassDType, _CLASSES_TAG, "One class")
def get_class(sourced_id: SourcedId, fields: ClassFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_class(r, sourced_id, fields))


@_collection(
    "/classes/{classSourcedId}/students",
    "getStudentsForClass",
    schemas.UserSetDType,
    _CLASSES_TAG,
    "Students of a class",
    core=False,
)
def get_students_for_class(
    request: Request, class_id: ClassId, q: UsersQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_students_for_class(r, class_id, q))


@_collection(
    "/classes/{classSourcedId}/teachers",
    "getTeachersForClass",
    schemas.UserSetDType,
    _CLASSES_TAG,
    "Teachers of a class",
    core=False,
)
def get_teachers_for_class(
    request: Request, class_id: ClassId, q: UsersQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_teachers_for_class(r, class_id, q))


# --- users, students, teachers ---------------------------------------------------------------

_USERS_TAG = "UsersManagement"
_STUDENTS_TAG = "StudentsManagement"
_TEACHERS_TAG = "TeachersManagement"
_NO_DEMOGRAPHICS = (
    "Demographics (birth date, sex …) are deliberately not stored by Tsunagu and stay in the "
    "校務 system, so the demographics endpoints of the binding are not offered."
)


@_collection(
    "/users",
    "getAllUsers",
    schemas.UserSetDType,
    _USERS_TAG,
    "All users",
    core=True,
    description=_NO_DEMOGRAPHICS,
)
def get_all_users(request: Request, q: UsersQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_users(r, q))


@_one(
    "/users/{sourcedId}",
    "getUser",
    schemas.SingleUserDType,
    _USERS_TAG,
    "One user",
    _NO_DEMOGRAPHICS,
)
def get_user(sourced_id: SourcedId, fields: UserFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_user(r, sourced_id, fields))


@_collection(
    "/users/{userSourcedId}/classes",
    "getClassesForUser",
    schemas.ClassSetDType,
    _USERS_TAG,
    "Classes of a user",
    core=False,
)
def get_classes_for_user(
    request: Request, user_id: UserId, q: ClassesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_classes_for_user(r, user_id, q))


@_collection(
    "/students",
    "getAllStudents",
    schemas.UserSetDType,
    _STUDENTS_TAG,
    "All students",
    core=True,
    description="Users with a student role.",
)
def get_all_students(request: Request, q: UsersQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_students(r, q))


@_one("/students/{sourcedId}", "getStudent", schemas.SingleUserDType, _STUDENTS_TAG, "One student")
def get_student(sourced_id: SourcedId, fields: UserFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_student(r, sourced_id, fields))


@_collection(
    "/students/{studentSourcedId}/classes",
    "getClassesForStudent",
    schemas.ClassSetDType,
    _STUDENTS_TAG,
    "Classes of a student",
    core=False,
)
def get_classes_for_student(
    request: Request, student_id: StudentId, q: ClassesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_classes_for_student(r, student_id, q))


@_collection(
    "/teachers",
    "getAllTeachers",
    schemas.UserSetDType,
    _TEACHERS_TAG,
    "All teachers",
    core=True,
    description="Users with a teacher role.",
)
def get_all_teachers(request: Request, q: UsersQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_teachers(r, q))


@_one("/teachers/{sourcedId}", "getTeacher", schemas.SingleUserDType, _TEACHERS_TAG, "One teacher")
def get_teacher(sourced_id: SourcedId, fields: UserFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_teacher(r, sourced_id, fields))


@_collection(
    "/teachers/{teacherSourcedId}/classes",
    "getClassesForTeacher",
    schemas.ClassSetDType,
    _TEACHERS_TAG,
    "Classes of a teacher",
    core=False,
)
def get_classes_for_teacher(
    request: Request, teacher_id: TeacherId, q: ClassesQuery, r: FullReader
) -> JSONResponse:
    return _page_response(request, service.get_classes_for_teacher(r, teacher_id, q))


# --- enrollments -----------------------------------------------------------------------------

_ENROLLMENTS_TAG = "EnrollmentsManagement"


@_collection(
    "/enrollments",
    "getAllEnrollments",
    schemas.EnrollmentSetDType,
    _ENROLLMENTS_TAG,
    "All enrollments",
    core=True,
)
def get_all_enrollments(request: Request, q: EnrollmentsQuery, r: CoreReader) -> JSONResponse:
    return _page_response(request, service.get_all_enrollments(r, q))


@_one(
    "/enrollments/{sourcedId}",
    "getEnrollment",
    schemas.SingleEnrollmentDType,
    _ENROLLMENTS_TAG,
    "One enrollment",
)
def get_enrollment(sourced_id: SourcedId, fields: EnrollmentFields, r: CoreReader) -> JSONResponse:
    return _single_response(service.get_enrollment(r, sourced_id, fields))


# --- anything else under the prefix ----------------------------------------------------------


@router.get("/{unknown:path}", include_in_schema=False)
def unknown_path(unknown: str) -> JSONResponse:
    """An imsx 404 (not FastAPI's) for paths the service does not have, demographics included."""
    if unknown.split("/")[0] == "demographics":
        return imsx_response(404, "unknownobject", _NO_DEMOGRAPHICS)
    return imsx_response(404, "unknownobject", "No such rostering endpoint.")
