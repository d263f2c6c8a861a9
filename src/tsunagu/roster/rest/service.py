"""The rostering service's read operations, one function per OneRoster operation.

Every query is bound to the tenant of the caller's token: a sourcedId of another tenant is simply
unknown (404). A collection costs a fixed number of queries whatever the page size: the parent
check of a nested collection, one COUNT, one page of rows, and one batch load per related table
the page shows (users' roles and profiles, org children …), never one query per row.

Nested collections list the rows related through a *live* link (an active enrollment or role);
a row that is itself ``tobedeleted`` stays listed through its old links, so a consumer syncing a
nested collection still sees the deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from tsunagu.roster.models import AcademicSession, Class, Course, Enrollment, Org
from tsunagu.roster.rest import queries
from tsunagu.roster.rest.errors import (
    InvalidFilterError,
    InvalidSelectionError,
    UnknownObjectError,
)
from tsunagu.roster.rest.filtering import FilterSyntaxError, parse_filter
from tsunagu.roster.rest.queries import SqlFlavor
from tsunagu.roster.rest.resources import (
    ACADEMIC_SESSIONS,
    CLASSES,
    COURSES,
    ENROLLMENTS,
    ORGS,
    USERS,
    Resource,
)
from tsunagu.roster.rest.serializers import SerializeContext

DEFAULT_LIMIT = 100
#: Larger pages are cut to this size (the next page is in the Link header), not refused.
MAX_LIMIT = 10_000
#: The binding types offset as int32.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class CollectionQuery:
    """The binding's collection parameters, as the client sent them."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    sort: str | None = None
    order_by: str | None = None
    filter: str | None = None
    fields: str | None = None


@dataclass(frozen=True)
class Page:
    key: str
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class Single:
    key: str
    item: dict[str, Any]


def parse_fields(resource: Resource, fields: str | None) -> frozenset[str] | None:
    """The selected top-level fields, or None for all of them."""
    if fields is None:
        return None
    names = [name.strip() for name in fields.split(",") if name.strip()]
    if not names:
        return None
    unknown = [name for name in names if name not in resource.fields]
    if unknown:
        shown = ", ".join(repr(n[:60]) for n in unknown[:5])
        raise InvalidSelectionError(
            f"Unknown field(s) {shown} for {resource.collection}; "
            f"selectable: {', '.join(resource.fields)}."
        )
    return frozenset(names)


class RosterReader:
    """Reads one tenant's roster for one request."""

    def __init__(self, session: Session, tenant_id: int, base_url: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.flavor = SqlFlavor(session.get_bind().dialect.name)
        self.context = SerializeContext(session=session, tenant_id=tenant_id, base_url=base_url)

    def _conditions(
        self, resource: Resource, where: Sequence[ColumnElement[bool]]
    ) -> list[ColumnElement[bool]]:
        return [resource.model.tenant_id == self.tenant_id, *where]

    def collection(
        self,
        resource: Resource,
        query: CollectionQuery,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Page:
        model = resource.model
        selected = parse_fields(resource, query.fields)
        conditions = self._conditions(resource, where)
        if query.filter is not None:
            try:
                expression = parse_filter(query.filter)
            except FilterSyntaxError as exc:
                raise InvalidFilterError(f"Malformed filter: {exc}.") from exc
            conditions.append(
                queries.compile_filter(expression, resource.filters, model, self.flavor)
            )
        order = queries.order_by(resource.filters, model, query.sort, query.order_by, self.flavor)
        limit = max(1, min(query.limit, MAX_LIMIT))
        offset = max(0, min(query.offset, MAX_OFFSET))
        total = self.session.scalar(select(func.count()).select_from(model).where(*conditions))
        rows = self.session.scalars(
            select(model).where(*conditions).order_by(*order).limit(limit).offset(offset)
        ).all()
        items = resource.serialize(self.context, rows, selected)
        return Page(resource.collection, items, total or 0, offset, limit)

    def _find(
        self, resource: Resource, sourced_id: str, where: Sequence[ColumnElement[bool]]
    ) -> Any:
        if "\x00" in sourced_id or len(sourced_id) > 256:
            return None  # cannot be a stored sourcedId (and PostgreSQL rejects NUL)
        model = resource.model
        return self.session.scalar(
            select(model).where(*self._conditions(resource, where), model.sourced_id == sourced_id)
        )

    def single(
        self,
        resource: Resource,
        sourced_id: str,
        fields: str | None,
        *,
        what: str,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> Single:
        selected = parse_fields(resource, fields)
        row = self._find(resource, sourced_id, where)
        if row is None:
            raise UnknownObjectError(what, sourced_id)
        return Single(resource.singular, resource.serialize(self.context, [row], selected)[0])

    def require(
        self,
        resource: Resource,
        sourced_id: str,
        *,
        what: str,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> None:
        """404 unless the parent of a nested collection exists (in this tenant)."""
        if self._find(resource, sourced_id, where) is None:
            raise UnknownObjectError(what, sourced_id)


_SCHOOL = Org.type == "school"
_TERM = AcademicSession.type == "term"
_GRADING_PERIOD = AcademicSession.type == "gradingPeriod"


def _is_student() -> ColumnElement[bool]:
    return queries.has_role("student")


def _is_teacher() -> ColumnElement[bool]:
    return queries.has_role("teacher")


# --- orgs and schools ----------------------------------------------------------------------


def get_all_orgs(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(ORGS, q)


def get_org(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(ORGS, sourced_id, fields, what="org")


def get_all_schools(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(ORGS, q, [_SCHOOL])


def get_school(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(ORGS, sourced_id, fields, what="school", where=[_SCHOOL])


def _require_school(r: RosterReader, school_id: str) -> None:
    r.require(ORGS, school_id, what="school", where=[_SCHOOL])


def get_courses_for_school(r: RosterReader, school_id: str, q: CollectionQuery) -> Page:
    _require_school(r, school_id)
    return r.collection(COURSES, q, [Course.org_sourced_id == school_id])


def get_classes_for_school(r: RosterReader, school_id: str, q: CollectionQuery) -> Page:
    _require_school(r, school_id)
    return r.collection(CLASSES, q, [Class.school_sourced_id == school_id])


def get_enrollments_for_school(r: RosterReader, school_id: str, q: CollectionQuery) -> Page:
    _require_school(r, school_id)
    return r.collection(ENROLLMENTS, q, [Enrollment.school_sourced_id == school_id])


def get_students_for_school(r: RosterReader, school_id: str, q: CollectionQuery) -> Page:
    _require_school(r, school_id)
    return r.collection(USERS, q, [queries.has_role("student", school_id)])


def get_teachers_for_school(r: RosterReader, school_id: str, q: CollectionQuery) -> Page:
    _require_school(r, school_id)
    return r.collection(USERS, q, [queries.has_role("teacher", school_id)])


def get_terms_for_school(r: RosterReader, school_id: str, q: CollectionQuery) -> Page:
    _require_school(r, school_id)
    terms = queries.terms_of_school(r.session, r.tenant_id, school_id)
    return r.collection(ACADEMIC_SESSIONS, q, [terms])


def _require_class_in_school(r: RosterReader, school_id: str, class_id: str) -> None:
    _require_school(r, school_id)
    r.require(CLASSES, class_id, what="class in this school", where=[
        Class.school_sourced_id == school_id
    ])  # fmt: skip


def get_enrollments_for_class_in_school(
    r: RosterReader, school_id: str, class_id: str, q: CollectionQuery
) -> Page:
    _require_class_in_school(r, school_id, class_id)
    return r.collection(
        ENROLLMENTS,
        q,
        [Enrollment.class_sourced_id == class_id, Enrollment.school_sourced_id == school_id],
    )


def get_students_for_class_in_school(
    r: RosterReader, school_id: str, class_id: str, q: CollectionQuery
) -> Page:
    _require_class_in_school(r, school_id, class_id)
    return r.collection(USERS, q, [queries.enrolled_in_class(class_id, "student")])


def get_teachers_for_class_in_school(
    r: RosterReader, school_id: str, class_id: str, q: CollectionQuery
) -> Page:
    _require_class_in_school(r, school_id, class_id)
    return r.collection(USERS, q, [queries.enrolled_in_class(class_id, "teacher")])


# --- academic sessions, terms, grading periods ---------------------------------------------


def get_all_academic_sessions(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(ACADEMIC_SESSIONS, q)


def get_academic_session(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(ACADEMIC_SESSIONS, sourced_id, fields, what="academic session")


def get_all_terms(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(ACADEMIC_SESSIONS, q, [_TERM])


def get_term(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(ACADEMIC_SESSIONS, sourced_id, fields, what="term", where=[_TERM])


def get_classes_for_term(r: RosterReader, term_id: str, q: CollectionQuery) -> Page:
    r.require(ACADEMIC_SESSIONS, term_id, what="term", where=[_TERM])
    return r.collection(CLASSES, q, [queries.classes_in_term(term_id, r.flavor)])


def get_grading_periods_for_term(r: RosterReader, term_id: str, q: CollectionQuery) -> Page:
    r.require(ACADEMIC_SESSIONS, term_id, what="term", where=[_TERM])
    return r.collection(
        ACADEMIC_SESSIONS, q, [_GRADING_PERIOD, AcademicSession.parent_sourced_id == term_id]
    )


def get_all_grading_periods(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(ACADEMIC_SESSIONS, q, [_GRADING_PERIOD])


def get_grading_period(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(
        ACADEMIC_SESSIONS, sourced_id, fields, what="grading period", where=[_GRADING_PERIOD]
    )


# --- courses and classes -------------------------------------------------------------------


def get_all_courses(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(COURSES, q)


def get_course(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(COURSES, sourced_id, fields, what="course")


def get_classes_for_course(r: RosterReader, course_id: str, q: CollectionQuery) -> Page:
    r.require(COURSES, course_id, what="course")
    return r.collection(CLASSES, q, [Class.course_sourced_id == course_id])


def get_all_classes(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(CLASSES, q)


def get_class(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(CLASSES, sourced_id, fields, what="class")


def get_students_for_class(r: RosterReader, class_id: str, q: CollectionQuery) -> Page:
    r.require(CLASSES, class_id, what="class")
    return r.collection(USERS, q, [queries.enrolled_in_class(class_id, "student")])


def get_teachers_for_class(r: RosterReader, class_id: str, q: CollectionQuery) -> Page:
    r.require(CLASSES, class_id, what="class")
    return r.collection(USERS, q, [queries.enrolled_in_class(class_id, "teacher")])


# --- users, students, teachers -------------------------------------------------------------


def get_all_users(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(USERS, q)


def get_user(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(USERS, sourced_id, fields, what="user")


def get_classes_for_user(r: RosterReader, user_id: str, q: CollectionQuery) -> Page:
    r.require(USERS, user_id, what="user")
    return r.collection(CLASSES, q, [queries.classes_of_user(user_id)])


def get_all_students(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(USERS, q, [_is_student()])


def get_student(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(USERS, sourced_id, fields, what="student", where=[_is_student()])


def get_classes_for_student(r: RosterReader, user_id: str, q: CollectionQuery) -> Page:
    r.require(USERS, user_id, what="student", where=[_is_student()])
    return r.collection(CLASSES, q, [queries.classes_of_user(user_id, "student")])


def get_all_teachers(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(USERS, q, [_is_teacher()])


def get_teacher(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(USERS, sourced_id, fields, what="teacher", where=[_is_teacher()])


def get_classes_for_teacher(r: RosterReader, user_id: str, q: CollectionQuery) -> Page:
    r.require(USERS, user_id, what="teacher", where=[_is_teacher()])
    return r.collection(CLASSES, q, [queries.classes_of_user(user_id, "teacher")])


# --- enrollments ---------------------------------------------------------------------------


def get_all_enrollments(r: RosterReader, q: CollectionQuery) -> Page:
    return r.collection(ENROLLMENTS, q)


def get_enrollment(r: RosterReader, sourced_id: str, fields: str | None) -> Single:
    return r.single(ENROLLMENTS, sourced_id, fields, what="enrollment")
