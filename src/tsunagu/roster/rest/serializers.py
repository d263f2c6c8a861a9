"""Stored roster rows -> OneRoster 1.2 REST/JSON objects.

Shapes follow the official OpenAPI file of the binding (``OrgDType``, ``UserDType`` …): GUIDRefs
``{href, sourcedId, type}``, lists as JSON arrays, and ``enabledUser`` / ``primary`` as the strings
``"true"``/``"false"`` (the binding types them as string enums, not JSON booleans). Empty optional
values are omitted rather than sent as null. Japan Profile columns go into ``metadata`` along the
path their CSV header names (``metadata.jp.kanaGivenName`` -> ``{"jp": {"kanaGivenName": …}}``).
Passwords are never stored, so never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from tsunagu.roster.models import (
    ACTIVE,
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
from tsunagu.roster.rest import queries
from tsunagu.roster.rest.queries import split_list

ROSTERING_PATH = "/ims/oneroster/rostering/v1p2"

_USER_ID = re.compile(r"\{([^{}:]*):([^{}]*)\}")
# Reference type -> the collection its href points into.
_COLLECTION = {
    "org": "orgs",
    "academicSession": "academicSessions",
    "course": "courses",
    "class": "classes",
    "user": "users",
}


@dataclass(frozen=True)
class SerializeContext:
    session: Session
    tenant_id: int
    #: Public base URL of the portal; GUIDRef hrefs are absolute.
    base_url: str

    def ref(self, kind: str, sourced_id: str) -> dict[str, str]:
        href = f"{self.base_url.rstrip('/')}{ROSTERING_PATH}/{_COLLECTION[kind]}/"
        return {"href": href + quote(sourced_id, safe=""), "sourcedId": sourced_id, "type": kind}

    def refs(self, kind: str, sourced_ids: Sequence[str]) -> list[dict[str, str]]:
        return [self.ref(kind, s) for s in sourced_ids]


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z`` (e.g. ``2026-04-01T09:30:00.000Z``)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _bool(value: str | None) -> str:
    return "true" if (value or "").strip().lower() == "true" else "false"


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "" and value != []:
        target[key] = value


def _metadata(extra: Mapping[str, Any] | None, jp: Mapping[str, Any]) -> dict[str, Any] | None:
    """``metadata`` from the extension columns (by header path) and the Japan Profile values."""
    metadata: dict[str, Any] = {}
    for header, value in sorted((extra or {}).items()):
        if value is None or value == "":
            continue
        path = header.removeprefix("metadata.").split(".")
        node = metadata
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break  # a scalar already sits where this path needs an object: keep the first
            node = child
        else:
            node.setdefault(path[-1], value)
    jp_values = {k: v for k, v in jp.items() if v is not None and v != ""}
    if jp_values:
        target = metadata.setdefault("jp", {})
        if isinstance(target, dict):
            target.update(jp_values)
    return metadata or None


def _base(row: Any, jp: Mapping[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sourcedId": row.sourced_id,
        "status": row.status if row.status in (ACTIVE, TOBEDELETED) else TOBEDELETED,
        "dateLastModified": iso_utc(row.date_last_modified),
    }
    _put(data, "metadata", _metadata(row.extra_metadata, jp or {}))
    return data


def _select(data: dict[str, Any], selected: frozenset[str] | None) -> dict[str, Any]:
    if selected is None:
        return data
    return {k: v for k, v in data.items() if k in selected}


def _wants(selected: frozenset[str] | None, field: str) -> bool:
    return selected is None or field in selected


# --- one function per resource: (context, rows, selected fields) -> JSON objects -------------


def orgs(
    ctx: SerializeContext, rows: Sequence[Org], selected: frozenset[str] | None
) -> list[dict[str, Any]]:
    children = (
        queries.load_children(ctx.session, Org, ctx.tenant_id, [r.sourced_id for r in rows])
        if _wants(selected, "children")
        else {}
    )
    out = []
    for row in rows:
        data = _base(row)
        data["name"] = row.name
        data["type"] = row.type
        # Required by OrgDType; the Japan Profile fills it with the 学校コード / 教育委員会コード.
        data["identifier"] = row.identifier or ""
        if row.parent_sourced_id:
            data["parent"] = ctx.ref("org", row.parent_sourced_id)
        data["children"] = ctx.refs("org", children.get(row.sourced_id, []))
        out.append(_select(data, selected))
    return out


def academic_sessions(
    ctx: SerializeContext, rows: Sequence[AcademicSession], selected: frozenset[str] | None
) -> list[dict[str, Any]]:
    children = (
        queries.load_children(
            ctx.session, AcademicSession, ctx.tenant_id, [r.sourced_id for r in rows]
        )
        if _wants(selected, "children")
        else {}
    )
    out = []
    for row in rows:
        data = _base(row)
        data["title"] = row.title
        data["startDate"] = row.start_date
        data["endDate"] = row.end_date
        data["type"] = row.type
        if row.parent_sourced_id:
            data["parent"] = ctx.ref("academicSession", row.parent_sourced_id)
        data["children"] = ctx.refs("academicSession", children.get(row.sourced_id, []))
        data["schoolYear"] = row.school_year
        out.append(_select(data, selected))
    return out


def courses(
    ctx: SerializeContext, rows: Sequence[Course], selected: frozenset[str] | None
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        data = _base(row)
        data["title"] = row.title
        if row.school_year_sourced_id:
            data["schoolYear"] = ctx.ref("academicSession", row.school_year_sourced_id)
        # Required by CourseDType; the Japan Profile fixes it empty.
        data["courseCode"] = row.course_code or ""
        data["grades"] = split_list(row.grades)
        data["subjects"] = split_list(row.subjects)
        data["org"] = ctx.ref("org", row.org_sourced_id)
        data["subjectCodes"] = split_list(row.subject_codes)
        out.append(_select(data, selected))
    return out


def classes(
    ctx: SerializeContext, rows: Sequence[Class], selected: frozenset[str] | None
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        jp = {"specialNeeds": _bool(row.special_needs) if row.special_needs else None}
        data = _base(row, jp)
        data["title"] = row.title
        _put(data, "classCode", row.class_code)
        data["classType"] = row.class_type
        _put(data, "location", row.location)
        data["grades"] = split_list(row.grades)
        data["subjects"] = split_list(row.subjects)
        data["course"] = ctx.ref("course", row.course_sourced_id)
        data["school"] = ctx.ref("org", row.school_sourced_id)
        data["terms"] = ctx.refs("academicSession", split_list(row.term_sourced_ids))
        data["subjectCodes"] = split_list(row.subject_codes)
        data["periods"] = split_list(row.periods)
        out.append(_select(data, selected))
    return out


def _live(rows: Sequence[Any], owner: User) -> list[Any]:
    # A deleted user keeps showing the roles it had, so a consumer knows what the deletion undoes.
    return [r for r in rows if r.status == ACTIVE or owner.status == TOBEDELETED]


def _role(ctx: SerializeContext, role: Role) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roleType": role.role_type,
        "role": role.role,
        "org": ctx.ref("org", role.org_sourced_id),
    }
    # RoleDType.userProfile holds the profileId of the user's matching profile.
    _put(data, "userProfile", role.user_profile_sourced_id)
    _put(data, "beginDate", role.begin_date)
    _put(data, "endDate", role.end_date)
    return data


def _user_profile(profile: UserProfile) -> dict[str, Any]:
    data: dict[str, Any] = {
        "profileId": profile.sourced_id,
        "profileType": profile.profile_type,
        "vendorId": profile.vendor_id,
    }
    _put(data, "applicationId", profile.application_id)
    _put(data, "description", profile.description)
    data["credentials"] = [{"type": profile.credential_type, "username": profile.username}]
    return data


def user_ids(value: str | None) -> list[dict[str, str]]:
    """``{Google:123},{Microsoft:abc}`` -> ``[{"type": "Google", "identifier": "123"}, …]``."""
    return [{"type": t, "identifier": i} for t, i in _USER_ID.findall(value or "")]


def users(
    ctx: SerializeContext, rows: Sequence[User], selected: frozenset[str] | None
) -> list[dict[str, Any]]:
    ids = [r.sourced_id for r in rows]
    roles = queries.load_roles(ctx.session, ctx.tenant_id, ids) if _wants(selected, "roles") else {}
    profiles = (
        queries.load_user_profiles(ctx.session, ctx.tenant_id, ids)
        if _wants(selected, "userProfiles")
        else {}
    )
    out = []
    for row in rows:
        jp = {
            "kanaGivenName": row.kana_given_name,
            "kanaFamilyName": row.kana_family_name,
            "kanaMiddleName": row.kana_middle_name,
            "kanaPreferredGivenName": row.kana_preferred_given_name,
            "kanaPreferredFamilyName": row.kana_preferred_family_name,
            "kanaPreferredMiddleName": row.kana_preferred_middle_name,
            "homeClass": row.home_class_sourced_id,
        }
        data = _base(row, jp)
        data["userMasterIdentifier"] = row.user_master_identifier
        data["username"] = row.username
        data["userIds"] = user_ids(row.user_ids)
        data["enabledUser"] = _bool(row.enabled_user)
        data["givenName"] = row.given_name
        data["familyName"] = row.family_name
        _put(data, "middleName", row.middle_name)
        _put(data, "preferredFirstName", row.preferred_given_name)
        _put(data, "preferredMiddleName", row.preferred_middle_name)
        _put(data, "preferredLastName", row.preferred_family_name)
        _put(data, "pronouns", row.pronouns)
        data["roles"] = [_role(ctx, r) for r in _live(roles.get(row.sourced_id, []), row)]
        data["userProfiles"] = [
            _user_profile(p) for p in _live(profiles.get(row.sourced_id, []), row)
        ]
        if row.primary_org_sourced_id:
            data["primaryOrg"] = ctx.ref("org", row.primary_org_sourced_id)
        _put(data, "identifier", row.identifier)
        _put(data, "email", row.email)
        _put(data, "sms", row.sms)
        _put(data, "phone", row.phone)
        data["agents"] = ctx.refs("user", split_list(row.agent_sourced_ids))
        data["grades"] = split_list(row.grades)
        out.append(_select(data, selected))
    return out


def enrollments(
    ctx: SerializeContext, rows: Sequence[Enrollment], selected: frozenset[str] | None
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        jp = {
            "shussekiNo": row.shusseki_no,
            "publicFlg": _bool(row.public_flg) if row.public_flg else None,
        }
        data = _base(row, jp)
        data["user"] = ctx.ref("user", row.user_sourced_id)
        data["class"] = ctx.ref("class", row.class_sourced_id)
        data["school"] = ctx.ref("org", row.school_sourced_id)
        data["role"] = row.role
        data["primary"] = _bool(row.is_primary)
        _put(data, "beginDate", row.begin_date)
        _put(data, "endDate", row.end_date)
        out.append(_select(data, selected))
    return out
