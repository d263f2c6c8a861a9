"""SQL for the rostering service: JSON field -> column maps, filters, ordering and relations.

Everything here builds SQLAlchemy expressions with bound parameters; no SQL text is ever put
together from request input. Stored values are the CSV strings (lists comma-joined, booleans
``true``/``false``), so list and boolean predicates are written against those strings.

Two portability rules keep SQLite and PostgreSQL answering identically:

* substring tests use ``instr``/``strpos`` instead of ``LIKE`` (SQLite's ``LIKE`` ignores ASCII
  case, and ``%``/``_`` in a value would be wildcards);
* explicit sorts and ``<``/``>`` on text use code-point order (``COLLATE "C"`` on PostgreSQL,
  SQLite's default), which is what the binding asks for ("[UNICODE, 16]" order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, not_, or_, select
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
    RosterRecord,
    User,
    UserProfile,
)
from tsunagu.roster.rest.errors import InvalidDataError, InvalidFilterError
from tsunagu.roster.rest.filtering import FilterExpression, Operator, Predicate


class Kind(Enum):
    TEXT = "text"
    DATETIME = "datetime"
    #: "true"/"false" strings.
    BOOLEAN = "boolean"
    #: Comma-joined list of strings (grades, subjects, termSourcedIds …).
    LIST = "list"


@dataclass(frozen=True)
class FieldSql:
    """How one filterable/sortable JSON field maps to SQL."""

    kind: Kind
    expr: ColumnElement[Any]
    sortable: bool = True
    #: For a field of related rows (a user's ``roles.*``): wraps a condition on ``expr`` in an
    #: EXISTS over those rows. Such fields match when *any* related row matches.
    related: Callable[[ColumnElement[bool]], ColumnElement[bool]] | None = None


class SqlFlavor:
    """The few expressions that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect_name: str) -> None:
        self.is_postgresql = dialect_name == "postgresql"

    def position(
        self, haystack: ColumnElement[Any], needle: ColumnElement[Any]
    ) -> ColumnElement[int]:
        """1-based index of ``needle`` in ``haystack``, 0 when absent (case-sensitive)."""
        found = (
            func.strpos(haystack, needle) if self.is_postgresql else func.instr(haystack, needle)
        )
        return cast("ColumnElement[int]", found)

    def codepoint_order(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr.collate("C") if self.is_postgresql else expr


# --- field maps ----------------------------------------------------------------------------


def _text(expr: Any, *, sortable: bool = True) -> FieldSql:
    return FieldSql(Kind.TEXT, expr, sortable)


def _list(expr: Any) -> FieldSql:
    return FieldSql(Kind.LIST, expr, sortable=False)


def _common(model: type[RosterRecord]) -> dict[str, FieldSql]:
    return {
        "sourcedId": _text(model.sourced_id),
        "status": _text(model.status),
        "dateLastModified": FieldSql(Kind.DATETIME, model.date_last_modified),  # type: ignore[arg-type]
    }


def _user_roles_exist(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    # Roles count while active; a deleted user's roles all count, so the deletion is visible.
    return exists().where(
        Role.tenant_id == User.tenant_id,
        Role.user_sourced_id == User.sourced_id,
        or_(Role.status == ACTIVE, User.status == TOBEDELETED),
        condition,
    )


def _role_field(expr: Any) -> FieldSql:
    return FieldSql(Kind.TEXT, expr, sortable=False, related=_user_roles_exist)


ORG_FIELDS: Mapping[str, FieldSql] = {
    **_common(Org),
    "name": _text(Org.name),
    "type": _text(Org.type),
    "identifier": _text(Org.identifier),
    "parent.sourcedId": _text(Org.parent_sourced_id),
}

ACADEMIC_SESSION_FIELDS: Mapping[str, FieldSql] = {
    **_common(AcademicSession),
    "title": _text(AcademicSession.title),
    "type": _text(AcademicSession.type),
    "startDate": _text(AcademicSession.start_date),
    "endDate": _text(AcademicSession.end_date),
    "schoolYear": _text(AcademicSession.school_year),
    "parent.sourcedId": _text(AcademicSession.parent_sourced_id),
}

COURSE_FIELDS: Mapping[str, FieldSql] = {
    **_common(Course),
    "title": _text(Course.title),
    "courseCode": _text(Course.course_code),
    "grades": _list(Course.grades),
    "subjects": _list(Course.subjects),
    "subjectCodes": _list(Course.subject_codes),
    "org.sourcedId": _text(Course.org_sourced_id),
    "schoolYear.sourcedId": _text(Course.school_year_sourced_id),
}

CLASS_FIELDS: Mapping[str, FieldSql] = {
    **_common(Class),
    "title": _text(Class.title),
    "classCode": _text(Class.class_code),
    "classType": _text(Class.class_type),
    "location": _text(Class.location),
    "grades": _list(Class.grades),
    "subjects": _list(Class.subjects),
    "subjectCodes": _list(Class.subject_codes),
    "periods": _list(Class.periods),
    "course.sourcedId": _text(Class.course_sourced_id),
    "school.sourcedId": _text(Class.school_sourced_id),
    "terms.sourcedId": _list(Class.term_sourced_ids),
    "metadata.jp.specialNeeds": FieldSql(Kind.BOOLEAN, Class.special_needs),  # type: ignore[arg-type]
}

USER_FIELDS: Mapping[str, FieldSql] = {
    **_common(User),
    "userMasterIdentifier": _text(User.user_master_identifier),
    "username": _text(User.username),
    "enabledUser": FieldSql(Kind.BOOLEAN, User.enabled_user),  # type: ignore[arg-type]
    "givenName": _text(User.given_name),
    "familyName": _text(User.family_name),
    "middleName": _text(User.middle_name),
    # The REST binding's names for the CSV's preferredGivenName / preferredFamilyName.
    "preferredFirstName": _text(User.preferred_given_name),
    "preferredMiddleName": _text(User.preferred_middle_name),
    "preferredLastName": _text(User.preferred_family_name),
    "pronouns": _text(User.pronouns),
    "identifier": _text(User.identifier),
    "email": _text(User.email),
    "sms": _text(User.sms),
    "phone": _text(User.phone),
    "grades": _list(User.grades),
    "agents.sourcedId": _list(User.agent_sourced_ids),
    "primaryOrg.sourcedId": _text(User.primary_org_sourced_id),
    "roles.role": _role_field(Role.role),
    "roles.roleType": _role_field(Role.role_type),
    "roles.org.sourcedId": _role_field(Role.org_sourced_id),
    "roles.beginDate": _role_field(Role.begin_date),
    "roles.endDate": _role_field(Role.end_date),
    "roles.userProfile": _role_field(Role.user_profile_sourced_id),
    "metadata.jp.kanaGivenName": _text(User.kana_given_name),
    "metadata.jp.kanaFamilyName": _text(User.kana_family_name),
    "metadata.jp.kanaMiddleName": _text(User.kana_middle_name),
    "metadata.jp.homeClass": _text(User.home_class_sourced_id),
    "metadata.jp.kanaPreferredGivenName": _text(User.kana_preferred_given_name),
    "metadata.jp.kanaPreferredFamilyName": _text(User.kana_preferred_family_name),
    "metadata.jp.kanaPreferredMiddleName": _text(User.kana_preferred_middle_name),
}

ENROLLMENT_FIELDS: Mapping[str, FieldSql] = {
    **_common(Enrollment),
    "role": _text(Enrollment.role),
    "primary": FieldSql(Kind.BOOLEAN, Enrollment.is_primary),  # type: ignore[arg-type]
    "beginDate": _text(Enrollment.begin_date),
    "endDate": _text(Enrollment.end_date),
    "user.sourcedId": _text(Enrollment.user_sourced_id),
    "class.sourcedId": _text(Enrollment.class_sourced_id),
    "school.sourcedId": _text(Enrollment.school_sourced_id),
    "metadata.jp.shussekiNo": _text(Enrollment.shusseki_no),
    "metadata.jp.publicFlg": FieldSql(Kind.BOOLEAN, Enrollment.public_flg),  # type: ignore[arg-type]
}


def sortable_fields(fields: Mapping[str, FieldSql]) -> tuple[str, ...]:
    return tuple(name for name, f in fields.items() if f.sortable)


# --- filters -------------------------------------------------------------------------------


def _resolve(name: str, fields: Mapping[str, FieldSql], model: type[RosterRecord]) -> FieldSql:
    field = fields.get(name)
    if field is not None:
        return field
    if name.startswith("metadata.") and len(name) > len("metadata."):
        # Extension columns no profile defines are kept verbatim by CSV header name.
        return FieldSql(Kind.TEXT, model.extra_metadata[name].as_string(), sortable=False)
    raise InvalidFilterError(f"'{name[:100]}' is not a field this collection can be filtered on.")


def _parse_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidFilterError(
            f"'{value[:60]}' is not an ISO 8601 date-time (e.g. 2026-04-01T00:00:00Z)."
        ) from exc


def _compare(expr: ColumnElement[Any], op: Operator, value: Any) -> ColumnElement[bool]:
    if op == "=":
        result = expr == value
    elif op == "!=":
        result = expr != value
    elif op == ">":
        result = expr > value
    elif op == ">=":
        result = expr >= value
    elif op == "<":
        result = expr < value
    else:
        result = expr <= value
    return cast("ColumnElement[bool]", result)


def _text_predicate(
    expr: ColumnElement[Any], op: Operator, value: str, flavor: SqlFlavor
) -> ColumnElement[bool]:
    if op == "=":
        # A value the CSV left empty is stored as NULL or '': both are "empty".
        return or_(expr.is_(None), expr == "") if value == "" else expr == value
    if op == "!=":
        if value == "":
            return and_(expr.is_not(None), expr != "")
        return or_(expr.is_(None), expr != value)
    if op == "~":
        # "contains", case-insensitively (the binding leaves case open; users expect this).
        return flavor.position(func.lower(expr), func.lower(literal(value))) > 0
    return _compare(flavor.codepoint_order(expr), op, value)


def _predicate(
    field: FieldSql, predicate: Predicate, flavor: SqlFlavor, name: str
) -> ColumnElement[bool]:
    op, value, expr = predicate.op, predicate.value, field.expr
    if field.related is not None:
        if op == "!=":
            # "no related row equals the value", not "some related row differs".
            return not_(field.related(_text_predicate(expr, "=", value, flavor)))
        return field.related(_text_predicate(expr, op, value, flavor))
    if field.kind is Kind.TEXT:
        return _text_predicate(expr, op, value, flavor)
    if field.kind is Kind.DATETIME:
        if op == "~":
            raise InvalidFilterError(f"'~' cannot be used on the date-time field '{name}'.")
        return _compare(expr, op, _parse_datetime(value))
    if field.kind is Kind.BOOLEAN:
        wanted = value.strip().lower()
        if wanted not in ("true", "false") or op not in ("=", "!="):
            raise InvalidFilterError(f"'{name}' is boolean: use = or != with 'true' or 'false'.")
        if op == "=":
            return func.lower(expr) == wanted
        return or_(expr.is_(None), func.lower(expr) != wanted)
    # Kind.LIST
    if op == "~":
        return flavor.position(func.lower(expr), func.lower(literal(value))) > 0
    if op not in ("=", "!="):
        raise InvalidFilterError(f"'{name}' is a list: use =, != or ~.")
    if "," in value:
        raise InvalidFilterError(f"'{name}' is matched one element at a time; drop the comma.")
    if value == "":
        empty = or_(expr.is_(None), expr == "")
        return empty if op == "=" else not_(empty)
    wrapped = literal(",") + expr + literal(",")
    contains = flavor.position(wrapped, literal(f",{value},")) > 0
    return contains if op == "=" else or_(expr.is_(None), not_(contains))


def compile_filter(
    expression: FilterExpression,
    fields: Mapping[str, FieldSql],
    model: type[RosterRecord],
    flavor: SqlFlavor,
) -> ColumnElement[bool]:
    clauses = []
    for predicate in expression.predicates:
        if "\x00" in predicate.value:
            raise InvalidFilterError("A filter value cannot contain a NUL character.")
        field = _resolve(predicate.field, fields, model)
        clauses.append(_predicate(field, predicate, flavor, predicate.field))
    return or_(*clauses) if expression.conjunction == "OR" else and_(*clauses)


def order_by(
    fields: Mapping[str, FieldSql],
    model: type[RosterRecord],
    sort: str | None,
    direction: str | None,
    flavor: SqlFlavor,
) -> list[Any]:
    """ORDER BY terms; sourcedId always ends the list so paging is stable."""
    if direction not in (None, "asc", "desc"):
        raise InvalidDataError("orderBy must be 'asc' or 'desc'.")
    descending = direction == "desc"
    tiebreak = model.sourced_id.desc() if descending and not sort else model.sourced_id.asc()
    if not sort:
        return [tiebreak]
    field = fields.get(sort)
    if field is None or not field.sortable:
        raise InvalidDataError(f"'{sort[:100]}' is not a field this collection can be sorted on.")
    expr = field.expr if field.kind is Kind.DATETIME else flavor.codepoint_order(field.expr)
    # NULLs count as the smallest value on both databases.
    term = expr.desc().nulls_last() if descending else expr.asc().nulls_first()
    return [term, tiebreak]


# --- relations used by nested collections ---------------------------------------------------


def has_role(role: str, org_sourced_id: str | None = None) -> ColumnElement[bool]:
    """Users holding ``role`` (at ``org_sourced_id`` if given)."""
    condition = Role.role == role
    if org_sourced_id is not None:
        condition = and_(condition, Role.org_sourced_id == org_sourced_id)
    return _user_roles_exist(condition)


def enrolled_in_class(class_sourced_id: str, role: str | None = None) -> ColumnElement[bool]:
    """Users enrolled in a class (as ``role`` if given)."""
    conditions = [
        Enrollment.tenant_id == User.tenant_id,
        Enrollment.user_sourced_id == User.sourced_id,
        Enrollment.class_sourced_id == class_sourced_id,
        # A deleted user stays listed (as tobedeleted) so consumers can sync the deletion.
        or_(Enrollment.status == ACTIVE, User.status == TOBEDELETED),
    ]
    if role is not None:
        conditions.append(Enrollment.role == role)
    return exists().where(*conditions)


def classes_of_user(user_sourced_id: str, role: str | None = None) -> ColumnElement[bool]:
    """Classes a user is enrolled in (as ``role`` if given)."""
    conditions = [
        Enrollment.tenant_id == Class.tenant_id,
        Enrollment.class_sourced_id == Class.sourced_id,
        Enrollment.user_sourced_id == user_sourced_id,
        or_(Enrollment.status == ACTIVE, Class.status == TOBEDELETED),
    ]
    if role is not None:
        conditions.append(Enrollment.role == role)
    return exists().where(*conditions)


def classes_in_term(term_sourced_id: str, flavor: SqlFlavor) -> ColumnElement[bool]:
    wrapped = literal(",") + Class.term_sourced_ids + literal(",")
    return flavor.position(wrapped, literal(f",{term_sourced_id},")) > 0


def split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def terms_of_school(
    session: Session, tenant_id: int, school_sourced_id: str
) -> ColumnElement[bool]:
    """Academic sessions of type term that the school's classes are scheduled in."""
    term_lists = session.scalars(
        select(Class.term_sourced_ids).where(
            Class.tenant_id == tenant_id, Class.school_sourced_id == school_sourced_id
        )
    )
    ids = sorted({term for value in term_lists for term in split_list(value)})
    if not ids:
        return false()
    return and_(AcademicSession.type == "term", AcademicSession.sourced_id.in_(ids))


# --- batch loads for serialization (one query per page, never per row) -----------------------


def load_roles(session: Session, tenant_id: int, user_ids: Sequence[str]) -> dict[str, list[Role]]:
    by_user: dict[str, list[Role]] = defaultdict(list)
    if user_ids:
        rows = session.scalars(
            select(Role)
            .where(Role.tenant_id == tenant_id, Role.user_sourced_id.in_(user_ids))
            .order_by(Role.user_sourced_id, Role.role_type, Role.org_sourced_id, Role.sourced_id)
        )
        for role in rows:
            by_user[role.user_sourced_id].append(role)
    return by_user


def load_user_profiles(
    session: Session, tenant_id: int, user_ids: Sequence[str]
) -> dict[str, list[UserProfile]]:
    by_user: dict[str, list[UserProfile]] = defaultdict(list)
    if user_ids:
        rows = session.scalars(
            select(UserProfile)
            .where(UserProfile.tenant_id == tenant_id, UserProfile.user_sourced_id.in_(user_ids))
            .order_by(UserProfile.user_sourced_id, UserProfile.sourced_id)
        )
        for profile in rows:
            by_user[profile.user_sourced_id].append(profile)
    return by_user


def load_children(
    session: Session,
    model: type[Org] | type[AcademicSession],
    tenant_id: int,
    parent_ids: Iterable[str],
) -> dict[str, list[str]]:
    """parent sourcedId -> child sourcedIds, for orgs and academic sessions."""
    by_parent: dict[str, list[str]] = defaultdict(list)
    parent_ids = list(parent_ids)
    if parent_ids:
        rows = session.execute(
            select(model.parent_sourced_id, model.sourced_id)
            .where(model.tenant_id == tenant_id, model.parent_sourced_id.in_(parent_ids))
            .order_by(model.parent_sourced_id, model.sourced_id)
        )
        for parent_id, child_id in rows:
            if parent_id is not None:
                by_parent[parent_id].append(child_id)
    return by_parent
