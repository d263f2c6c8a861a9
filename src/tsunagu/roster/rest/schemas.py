"""Pydantic models of the rostering payloads, for the OpenAPI document.

They mirror the official OpenAPI file of the OneRoster 1.2 Rostering REST binding (``OrgDType``,
``UserDType``, ``imsx_StatusInfoDType`` …) with one deliberate difference: no property is
*required*, because the ``fields`` parameter may leave any of them out. Without ``fields`` every
property the binding requires is always present. Routes build the JSON directly (no per-object
validation on the hot path); the test suite validates real responses against these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from tsunagu.roster.rest.errors import CodeMinor

#: "May be absent" without advertising null, which is never sent.
Absent = SkipJsonSchema[None]

Ext = Annotated[str, Field(pattern=r"^ext:[a-zA-Z0-9.\-_]+$")]
Uri = Annotated[str, Field(json_schema_extra={"format": "uri"})]
Date = Annotated[str, Field(json_schema_extra={"format": "date"}, examples=["2026-04-01"])]
DateTime = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-04-01T09:30:00.000Z"])
]
TrueFalse = Literal["true", "false"]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


class _Ref(_Model):
    href: Uri
    sourcedId: str


class OrgGUIDRefDType(_Ref):
    type: Literal["org"]


class AcadSessionGUIDRefDType(_Ref):
    type: Literal["academicSession"]


class CourseGUIDRefDType(_Ref):
    type: Literal["course"]


class ClassGUIDRefDType(_Ref):
    type: Literal["class"]


class UserGUIDRefDType(_Ref):
    type: Literal["user"]


Metadata = Annotated[
    dict[str, Any],
    Field(
        description=(
            "Extensions. Japan Profile values are under `jp` (users: kanaGivenName, "
            "kanaFamilyName, kanaMiddleName, kanaPreferred*, homeClass; classes: specialNeeds; "
            "enrollments: shussekiNo, publicFlg), other `metadata.*` CSV columns along their "
            "header path."
        )
    ),
]


class _Base(_Model):
    sourcedId: str | Absent = None
    status: Literal["active", "tobedeleted"] | Absent = None
    dateLastModified: DateTime | Absent = None
    metadata: Metadata | Absent = None


class OrgDType(_Base):
    name: str | Absent = None
    type: (
        Literal["department", "district", "local", "national", "school", "state"] | Ext | Absent
    ) = None
    identifier: str | Absent = None
    parent: OrgGUIDRefDType | Absent = None
    children: list[OrgGUIDRefDType] | Absent = None


class AcademicSessionDType(_Base):
    title: str | Absent = None
    startDate: Date | Absent = None
    endDate: Date | Absent = None
    type: Literal["gradingPeriod", "semester", "schoolYear", "term"] | Ext | Absent = None
    parent: AcadSessionGUIDRefDType | Absent = None
    children: list[AcadSessionGUIDRefDType] | Absent = None
    schoolYear: str | Absent = None


class CourseDType(_Base):
    title: str | Absent = None
    schoolYear: AcadSessionGUIDRefDType | Absent = None
    courseCode: str | Absent = None
    grades: list[str] | Absent = None
    subjects: list[str] | Absent = None
    org: OrgGUIDRefDType | Absent = None
    subjectCodes: list[str] | Absent = None


class ClassDType(_Base):
    title: str | Absent = None
    classCode: str | Absent = None
    classType: Literal["homeroom", "scheduled"] | Ext | Absent = None
    location: str | Absent = None
    grades: list[str] | Absent = None
    subjects: list[str] | Absent = None
    course: CourseGUIDRefDType | Absent = None
    school: OrgGUIDRefDType | Absent = None
    terms: list[AcadSessionGUIDRefDType] | Absent = None
    subjectCodes: list[str] | Absent = None
    periods: list[str] | Absent = None


RoleName = Literal[
    "aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor",
    "relative", "siteAdministrator", "student", "systemAdministrator", "teacher",
]  # fmt: skip


class RoleDType(_Model):
    roleType: Literal["primary", "secondary"]
    role: RoleName | Ext
    org: OrgGUIDRefDType
    userProfile: str | Absent = Field(
        default=None, description="profileId of the user's profile this role uses."
    )
    beginDate: Date | Absent = None
    endDate: Date | Absent = None


class CredentialDType(_Model):
    type: str
    username: str


class UserProfileDType(_Model):
    profileId: str
    profileType: str
    vendorId: str
    applicationId: str | Absent = None
    description: str | Absent = None
    credentials: list[CredentialDType] | Absent = None


class UserIdDType(_Model):
    type: str
    identifier: str


class UserDType(_Base):
    userMasterIdentifier: str | Absent = None
    username: str | Absent = None
    userIds: list[UserIdDType] | Absent = None
    enabledUser: TrueFalse | Absent = None
    givenName: str | Absent = None
    familyName: str | Absent = None
    middleName: str | Absent = None
    preferredFirstName: str | Absent = None
    preferredMiddleName: str | Absent = None
    preferredLastName: str | Absent = None
    pronouns: str | Absent = None
    roles: list[RoleDType] | Absent = None
    userProfiles: list[UserProfileDType] | Absent = None
    primaryOrg: OrgGUIDRefDType | Absent = None
    identifier: str | Absent = None
    email: str | Absent = None
    sms: str | Absent = None
    phone: str | Absent = None
    agents: list[UserGUIDRefDType] | Absent = None
    grades: list[str] | Absent = None


class EnrollmentDType(_Base):
    model_config = ConfigDict(populate_by_name=True)

    user: UserGUIDRefDType | Absent = None
    class_: ClassGUIDRefDType | Absent = Field(default=None, alias="class")
    school: OrgGUIDRefDType | Absent = None
    role: Literal["administrator", "proctor", "student", "teacher"] | Ext | Absent = None
    primary: TrueFalse | Absent = None
    beginDate: Date | Absent = None
    endDate: Date | Absent = None


# --- envelopes -----------------------------------------------------------------------------


class OrgSetDType(_Model):
    orgs: list[OrgDType]


class SingleOrgDType(_Model):
    org: OrgDType


class AcademicSessionSetDType(_Model):
    academicSessions: list[AcademicSessionDType]


class SingleAcademicSessionDType(_Model):
    academicSession: AcademicSessionDType


class CourseSetDType(_Model):
    courses: list[CourseDType]


class SingleCourseDType(_Model):
    course: CourseDType


class ClassSetDType(_Model):
    classes: list[ClassDType]


class SingleClassDType(_Model):
    model_config = ConfigDict(populate_by_name=True)

    class_: ClassDType = Field(alias="class")


class UserSetDType(_Model):
    users: list[UserDType]


class SingleUserDType(_Model):
    user: UserDType


class EnrollmentSetDType(_Model):
    enrollments: list[EnrollmentDType]


class SingleEnrollmentDType(_Model):
    enrollment: EnrollmentDType


# --- errors (imsx_StatusInfoDType) ---------------------------------------------------------


class ImsxCodeMinorFieldDType(_Model):
    imsx_codeMinorFieldName: str = Field(examples=["TargetEndSystem"])
    imsx_codeMinorFieldValue: CodeMinor


class ImsxCodeMinorDType(_Model):
    imsx_codeMinorField: list[ImsxCodeMinorFieldDType] = Field(min_length=1)


class ImsxStatusInfoDType(_Model):
    """The error payload of every failed rostering request."""

    imsx_codeMajor: Literal["success", "processing", "failure", "unsupported"]
    imsx_severity: Literal["status", "warning", "error"]
    imsx_description: str | Absent = None
    imsx_CodeMinor: ImsxCodeMinorDType | Absent = None
