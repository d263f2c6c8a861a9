"""Names and Role Provisioning Services 2.0 and Assignment and Grade Services 2.0 (no HTTP here).

A tool reaches a context (class) only through a deployment it has in that tenant which covers the
class's school, and only with the scopes its token carries. Members come from the roster as it
is today; scores are kept per learner and line item (the latest by the tool's timestamp), and
each accepted score is also recorded in the LRS as an Assessment-profile statement.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select, update
from sqlalchemy.orm import Session

from tsunagu.container import Container
from tsunagu.lti import vocabulary as v
from tsunagu.lti.launch import context_base
from tsunagu.lti.models import Deployment, LineItem, ResourceLink, Result, Tool
from tsunagu.lti.registry import deployment_for
from tsunagu.lti.statements import score_statement, scored_statement
from tsunagu.lti.tokens import ToolPrincipal
from tsunagu.machine_credentials import as_utc, utcnow
from tsunagu.roster.models import ACTIVE, Class, Enrollment, User
from tsunagu.tenancy.models import Tenant

log = logging.getLogger(__name__)

ACTIVITY_PROGRESS = ("Initialized", "Started", "InProgress", "Submitted", "Completed")
GRADING_PROGRESS = ("FullyGraded", "Pending", "PendingManual", "Failed", "NotReady")
MAX_PAGE = 1000


class ServiceError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ServiceContext:
    tenant_id: int
    tenant_code: str
    klass: Class
    tool: Tool
    base_url: str  # …/contexts/<class>


def resolve_context(
    session: Session, container: Container, who: ToolPrincipal, tenant_code: str, class_id: str
) -> ServiceContext:
    tenant = session.scalar(select(Tenant).where(Tenant.code == tenant_code))
    klass = session.get(Class, (tenant.id, class_id)) if tenant is not None else None
    if tenant is None or klass is None or klass.status != ACTIVE:
        raise ServiceError(404, "No such context.")
    tool = session.get(Tool, who.tool_id)
    assert tool is not None
    if deployment_for(session, tool.id, tenant.id, klass.school_sourced_id) is None:
        # Not deployed there: the context does not exist for this tool.
        raise ServiceError(404, "No such context.")
    return ServiceContext(
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        klass=klass,
        tool=tool,
        base_url=context_base(container.settings, tenant.code, class_id),
    )


def _page_args(limit: int | None, page: int | None, default: int) -> tuple[int, int]:
    size = default if limit is None else limit
    if size < 1 or size > MAX_PAGE:
        raise ServiceError(400, f"limit must be between 1 and {MAX_PAGE}")
    number = 1 if page is None else page
    if number < 1:
        raise ServiceError(400, "page must be 1 or more")
    return size, number


# --- NRPS ------------------------------------------------------------------------------------

_ROLE_FILTER = {
    "learner": ("student",),
    "instructor": ("teacher", "proctor"),
    "administrator": ("administrator",),
}
_MEMBER_ROLES = {
    "student": [v.LEARNER],
    "teacher": [v.INSTRUCTOR],
    "proctor": [v.INSTRUCTOR],
    "administrator": [v.MEMBERSHIP_ADMIN],
}


def _role_filter(role: str) -> tuple[str, ...]:
    # NRPS §2.3.1: a full URI or a simple name of the membership vocabulary.
    name = role.rsplit("#", 1)[-1] if role.startswith(v.MEMBERSHIP) else role
    return _ROLE_FILTER.get(name.lower(), ())


def memberships(
    session: Session,
    ctx: ServiceContext,
    *,
    role: str | None = None,
    rlid: str | None = None,
    limit: int | None = None,
    page: int | None = None,
    default_limit: int = 100,
) -> tuple[dict[str, Any], int | None]:
    """The membership container of a page and the next page number (or None)."""
    size, number = _page_args(limit, page, default_limit)
    if rlid is not None:
        link = session.get(ResourceLink, rlid)
        if (
            link is None
            or link.tenant_id != ctx.tenant_id
            or (link.class_sourced_id != ctx.klass.sourced_id)
        ):
            raise ServiceError(404, "No such resource link in this context.")
    query = (
        select(Enrollment.role, User)
        .join(
            User,
            (User.tenant_id == Enrollment.tenant_id)
            & (User.sourced_id == Enrollment.user_sourced_id),
        )
        .where(
            Enrollment.tenant_id == ctx.tenant_id,
            Enrollment.class_sourced_id == ctx.klass.sourced_id,
            Enrollment.status == ACTIVE,
            User.status == ACTIVE,
        )
    )
    if role is not None:
        query = query.where(Enrollment.role.in_(_role_filter(role)))
    rows = session.execute(
        query.order_by(Enrollment.user_sourced_id, Enrollment.role)
        .offset((number - 1) * size)
        .limit(size + 1)
    ).all()
    members = []
    for enrollment_role, user in rows[:size]:
        member: dict[str, Any] = {
            "status": "Active",
            "user_id": user.user_master_identifier,
            "lis_person_sourcedid": user.sourced_id,
            "roles": _MEMBER_ROLES.get(enrollment_role, [v.MEMBERSHIP + "Member"]),
        }
        if ctx.tool.send_name:
            given = user.preferred_given_name or user.given_name
            family = user.preferred_family_name or user.family_name
            member.update(name=f"{family} {given}", given_name=given, family_name=family)
        if ctx.tool.send_email and user.email:
            member["email"] = user.email
        members.append(member)
    container = {
        "id": ctx.base_url + "/memberships",
        "context": {
            "id": ctx.klass.sourced_id,
            "label": ctx.klass.class_code or ctx.klass.title,
            "title": ctx.klass.title,
        },
        "members": members,
    }
    return container, (number + 1 if len(rows) > size else None)


# --- AGS: line items -------------------------------------------------------------------------


def line_item_json(ctx_base: str, item: LineItem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"{ctx_base}/lineitems/{item.id}",
        "label": item.label,
        "scoreMaximum": item.score_maximum,
    }
    for key, value in (
        ("resourceLinkId", item.resource_link_id),
        ("resourceId", item.resource_id),
        ("tag", item.tag),
        ("startDateTime", item.start_date_time),
        ("endDateTime", item.end_date_time),
    ):
        if value is not None:
            body[key] = value
    return body


def _validate_line_item(session: Session, ctx: ServiceContext, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ServiceError(400, "The body must be a line item JSON object.")
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ServiceError(400, "label: a non-empty string is required")
    maximum = body.get("scoreMaximum")
    if (
        isinstance(maximum, bool)
        or not isinstance(maximum, int | float)
        or not (math.isfinite(maximum) and maximum > 0)
    ):
        raise ServiceError(400, "scoreMaximum: a number above 0 is required")
    for key in ("resourceId", "tag", "resourceLinkId", "startDateTime", "endDateTime"):
        if body.get(key) is not None and not isinstance(body.get(key), str):
            raise ServiceError(400, f"{key}: must be a string")
    for key in ("startDateTime", "endDateTime"):
        if body.get(key) is not None:
            _parse_instant(body[key], key)
    rlid = body.get("resourceLinkId")
    if rlid is not None:
        link = session.get(ResourceLink, rlid)
        deployment = session.get(Deployment, link.deployment_pk) if link is not None else None
        if (
            link is None
            or link.tenant_id != ctx.tenant_id
            or link.class_sourced_id != ctx.klass.sourced_id
            or deployment is None
            or deployment.tool_id != ctx.tool.id  # another tool's link is not this tool's
        ):
            raise ServiceError(400, "resourceLinkId: no such resource link in this context")
    return body


def _items_query(ctx: ServiceContext) -> Any:
    return select(LineItem).where(
        LineItem.tenant_id == ctx.tenant_id,
        LineItem.context_id == ctx.klass.sourced_id,
        LineItem.tool_id == ctx.tool.id,
    )


def list_line_items(
    session: Session,
    ctx: ServiceContext,
    *,
    resource_link_id: str | None = None,
    resource_id: str | None = None,
    tag: str | None = None,
    limit: int | None = None,
    page: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    size, number = _page_args(limit, page, 100)
    query = _items_query(ctx)
    if resource_link_id is not None:
        query = query.where(LineItem.resource_link_id == resource_link_id)
    if resource_id is not None:
        query = query.where(LineItem.resource_id == resource_id)
    if tag is not None:
        query = query.where(LineItem.tag == tag)
    rows = list(
        session.scalars(
            query.order_by(LineItem.created_at, LineItem.id)
            .offset((number - 1) * size)
            .limit(size + 1)
        )
    )
    return [line_item_json(ctx.base_url, r) for r in rows[:size]], (
        number + 1 if len(rows) > size else None
    )


def get_line_item(session: Session, ctx: ServiceContext, item_id: str) -> LineItem:
    item = session.get(LineItem, item_id)
    if (
        item is None
        or item.tenant_id != ctx.tenant_id
        or item.context_id != ctx.klass.sourced_id
        or item.tool_id != ctx.tool.id
    ):
        raise ServiceError(404, "No such line item.")
    return item


def create_line_item(session: Session, ctx: ServiceContext, body: Any) -> dict[str, Any]:
    body = _validate_line_item(session, ctx, body)
    item = LineItem(
        id=str(uuid.uuid4()),
        tenant_id=ctx.tenant_id,
        tool_id=ctx.tool.id,
        context_id=ctx.klass.sourced_id,
        resource_link_id=body.get("resourceLinkId"),
        resource_id=body.get("resourceId"),
        tag=body.get("tag"),
        label=body["label"].strip(),
        score_maximum=float(body["scoreMaximum"]),
        start_date_time=body.get("startDateTime"),
        end_date_time=body.get("endDateTime"),
        created_at=utcnow(),
    )
    session.add(item)
    session.flush()
    return line_item_json(ctx.base_url, item)


def update_line_item(
    session: Session, ctx: ServiceContext, item_id: str, body: Any
) -> dict[str, Any]:
    item = get_line_item(session, ctx, item_id)
    body = _validate_line_item(session, ctx, body)
    item.label = body["label"].strip()
    item.score_maximum = float(body["scoreMaximum"])
    item.resource_id = body.get("resourceId")
    item.tag = body.get("tag")
    item.start_date_time = body.get("startDateTime")
    item.end_date_time = body.get("endDateTime")
    if "resourceLinkId" in body:
        item.resource_link_id = body.get("resourceLinkId")
    session.flush()
    return line_item_json(ctx.base_url, item)


def delete_line_item(session: Session, ctx: ServiceContext, item_id: str) -> None:
    item = get_line_item(session, ctx, item_id)
    for result in session.scalars(select(Result).where(Result.line_item_id == item.id)):
        session.delete(result)
    for link in session.scalars(select(ResourceLink).where(ResourceLink.line_item_id == item.id)):
        link.line_item_id = None
    session.delete(item)
    session.flush()


# --- AGS: scores and results -----------------------------------------------------------------


def _parse_instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ServiceError(400, f"{where}: an ISO 8601 date-time string is required")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ServiceError(400, f"{where}: not an ISO 8601 date-time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ServiceError(400, f"{where}: the date-time needs a time zone offset")
    return as_utc(parsed)


def post_score(
    container: Container,
    who: ToolPrincipal,
    tenant_code: str,
    class_id: str,
    item_id: str,
    body: Any,
) -> None:
    """Accept a score (AGS 2.0 §3.4): the newest by ``timestamp`` wins; older ones are refused."""
    if not isinstance(body, dict):
        raise ServiceError(400, "The body must be a score JSON object.")
    user_id = body.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise ServiceError(400, "userId is required")
    timestamp = _parse_instant(body.get("timestamp"), "timestamp")
    activity = body.get("activityProgress")
    if activity not in ACTIVITY_PROGRESS:
        raise ServiceError(400, f"activityProgress must be one of {', '.join(ACTIVITY_PROGRESS)}")
    grading = body.get("gradingProgress")
    if grading not in GRADING_PROGRESS:
        raise ServiceError(400, f"gradingProgress must be one of {', '.join(GRADING_PROGRESS)}")
    given = body.get("scoreGiven")
    maximum = body.get("scoreMaximum")
    for key, value in (("scoreGiven", given), ("scoreMaximum", maximum)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ServiceError(400, f"{key}: must be a number of 0 or more")
    if given is not None and (maximum is None or maximum <= 0):
        raise ServiceError(400, "scoreMaximum (above 0) is required with scoreGiven")
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ServiceError(400, "comment: must be a string")
    with container.database.transaction() as session:
        if session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock first: a transaction that reads before writing fails
            # at once ("database is locked") when another writer is active, instead of waiting.
            session.execute(update(Result).where(false()).values(comment=Result.comment))
        ctx = resolve_context(session, container, who, tenant_code, class_id)
        item = get_line_item(session, ctx, item_id)
        member = session.execute(
            select(User)
            .join(
                Enrollment,
                (Enrollment.tenant_id == User.tenant_id)
                & (Enrollment.user_sourced_id == User.sourced_id),
            )
            .where(
                User.tenant_id == ctx.tenant_id,
                User.user_master_identifier == user_id,
                User.status == ACTIVE,
                Enrollment.class_sourced_id == ctx.klass.sourced_id,
                Enrollment.status == ACTIVE,
            )
            .limit(1)
        ).scalar_one_or_none()
        if member is None:
            raise ServiceError(400, "userId is not a member of this context")
        result = session.scalar(
            select(Result)
            .where(Result.line_item_id == item.id, Result.user_id == user_id)
            .with_for_update()
        )
        if result is not None and as_utc(result.timestamp) >= timestamp:
            # AGS §3.4.6: an update older than (or as old as) the one on record is not applied.
            raise ServiceError(409, "A score with the same or a later timestamp is on record.")
        if result is None:
            result = Result(line_item_id=item.id, user_id=user_id)
            session.add(result)
        result.score_given = float(given) if given is not None else None
        result.score_maximum = float(maximum) if maximum is not None else None
        result.activity_progress = activity
        result.grading_progress = grading
        result.comment = comment
        result.timestamp = timestamp
        result.updated_at = utcnow()
        label = item.label
        class_title = ctx.klass.title
        tenant_id = ctx.tenant_id
    # A score that is not final (Pending, PendingManual, Failed) is no score yet: the
    # Assessment profile references manually graded items only once graded.
    final = given is not None and grading == "FullyGraded"
    if final and given is not None and maximum and activity in ("Completed", "Submitted"):
        statement = scored_statement(
            container.settings,
            user_id,
            f"{container.settings.base_url}/lti/lineitems/{item_id}",
            label,
            float(given),
            float(maximum),
            timestamp,
        )
    else:
        statement = score_statement(
            base_url=container.settings.base_url,
            platform=container.settings.lti_platform_name,
            user_master_identifier=user_id,
            line_item_id=item_id,
            label=label,
            class_sourced_id=class_id,
            class_title=class_title,
            activity_progress=activity,
            score_given=float(given) if final and given is not None else None,
            score_maximum=float(maximum) if maximum is not None else None,
            comment=comment,
            when=timestamp,
        )
    from tsunagu.lrs.service import LrsError, record_statement

    try:
        record_statement(container, tenant_id, statement)
    except LrsError:
        log.exception("could not record the score statement")


def results(
    session: Session,
    ctx: ServiceContext,
    item_id: str,
    *,
    user_id: str | None = None,
    limit: int | None = None,
    page: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    item = get_line_item(session, ctx, item_id)
    size, number = _page_args(limit, page, 100)
    query = select(Result).where(Result.line_item_id == item.id)
    if user_id is not None:
        query = query.where(Result.user_id == user_id)
    rows = list(
        session.scalars(query.order_by(Result.user_id).offset((number - 1) * size).limit(size + 1))
    )
    item_url = f"{ctx.base_url}/lineitems/{item.id}"
    out = []
    for row in rows[:size]:
        body: dict[str, Any] = {
            "id": f"{item_url}/results/{row.user_id}",
            "scoreOf": item_url,
            "userId": row.user_id,
        }
        if (
            row.grading_progress == "FullyGraded"
            and row.score_given is not None
            and (row.score_maximum)
        ):
            # Only a final grade is a result score (Pending / PendingManual / Failed are not);
            # results are expressed on the line item's scale (AGS §3.3).
            body["resultScore"] = row.score_given / row.score_maximum * item.score_maximum
            body["resultMaximum"] = item.score_maximum
        if row.comment:
            body["comment"] = row.comment
        out.append(body)
    return out, (number + 1 if len(rows) > size else None)


def count_results(session: Session, item_id: str) -> int:
    return session.scalar(select(func.count()).where(Result.line_item_id == item_id)) or 0
