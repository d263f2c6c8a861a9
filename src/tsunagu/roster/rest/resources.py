"""The six OneRoster resources the rostering service serves, each bound to its table.

Schools, terms, grading periods, students and teachers are not resources of their own: they are
orgs, academic sessions and users restricted by type or role (the binding answers them with
OrgSet, AcademicSessionSet and UserSet payloads).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tsunagu.roster.models import (
    AcademicSession,
    Class,
    Course,
    Enrollment,
    Org,
    RosterRecord,
    User,
)
from tsunagu.roster.rest import queries, serializers
from tsunagu.roster.rest.queries import FieldSql
from tsunagu.roster.rest.serializers import SerializeContext

Serializer = Callable[
    [SerializeContext, Sequence[Any], frozenset[str] | None], list[dict[str, Any]]
]


@dataclass(frozen=True)
class Resource:
    #: Envelope key of a collection (``users``) and of one object (``user``).
    collection: str
    singular: str
    model: type[RosterRecord]
    #: Top-level JSON fields, in output order: what ``fields`` may select.
    fields: tuple[str, ...]
    #: JSON field (dotted) -> SQL, for ``filter`` and ``sort``.
    filters: Mapping[str, FieldSql]
    serialize: Serializer

    @property
    def sortable(self) -> tuple[str, ...]:
        return queries.sortable_fields(self.filters)


_COMMON = ("sourcedId", "status", "dateLastModified", "metadata")
_COURSE_FIELDS = (
    *_COMMON, "title", "schoolYear", "courseCode", "grades", "subjects", "org", "subjectCodes",
)  # fmt: skip
_CLASS_FIELDS = (
    *_COMMON, "title", "classCode", "classType", "location", "grades", "subjects", "course",
    "school", "terms", "subjectCodes", "periods",
)  # fmt: skip
_USER_FIELDS = (
    *_COMMON, "userMasterIdentifier", "username", "userIds", "enabledUser", "givenName",
    "familyName", "middleName", "preferredFirstName", "preferredMiddleName",
    "preferredLastName", "pronouns", "roles", "userProfiles", "primaryOrg", "identifier",
    "email", "sms", "phone", "agents", "grades",
)  # fmt: skip
_ENROLLMENT_FIELDS = (
    *_COMMON, "user", "class", "school", "role", "primary", "beginDate", "endDate",
)  # fmt: skip

ORGS = Resource(
    collection="orgs",
    singular="org",
    model=Org,
    fields=(*_COMMON, "name", "type", "identifier", "parent", "children"),
    filters=queries.ORG_FIELDS,
    serialize=serializers.orgs,
)
ACADEMIC_SESSIONS = Resource(
    collection="academicSessions",
    singular="academicSession",
    model=AcademicSession,
    fields=(*_COMMON, "title", "startDate", "endDate", "type", "parent", "children", "schoolYear"),
    filters=queries.ACADEMIC_SESSION_FIELDS,
    serialize=serializers.academic_sessions,
)
COURSES = Resource(
    collection="courses",
    singular="course",
    model=Course,
    fields=_COURSE_FIELDS,
    filters=queries.COURSE_FIELDS,
    serialize=serializers.courses,
)
CLASSES = Resource(
    collection="classes",
    singular="class",
    model=Class,
    fields=_CLASS_FIELDS,
    filters=queries.CLASS_FIELDS,
    serialize=serializers.classes,
)
USERS = Resource(
    collection="users",
    singular="user",
    model=User,
    fields=_USER_FIELDS,
    filters=queries.USER_FIELDS,
    serialize=serializers.users,
)
ENROLLMENTS = Resource(
    collection="enrollments",
    singular="enrollment",
    model=Enrollment,
    fields=_ENROLLMENT_FIELDS,
    filters=queries.ENROLLMENT_FIELDS,
    serialize=serializers.enrollments,
)
