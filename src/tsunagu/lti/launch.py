"""The LTI 1.3 launch: third-party-initiated login, the authorization endpoint and the id_token.

Flow (1EdTech Security Framework 1.0 §5.1.1, LTI Core 1.3 §4): the portal sends the browser to
the tool's login initiation URL with ``iss``, ``login_hint``, ``target_link_uri``,
``lti_message_hint``, ``lti_deployment_id`` and ``client_id``; the tool answers with an OIDC
authentication request to :func:`authorize`, which checks it against the registration and the
signed-in person and answers with an auto-submitted form carrying the RS256 ``id_token``.

The ``lti_message_hint`` is sealed (:mod:`tsunagu.lti.sealing`): it says who started which launch,
expires with the id_token lifetime, and cannot be forged or moved to another person. The
``login_hint`` is a keyed hash of the person, so a tool cannot learn anything from it and a
different signed-in person cannot use it.

The id_token follows the Japan rules of eportal-standard.md §3 (asserted by the tests): ``sub`` =
userMasterIdentifier (UUID v4), ``deployment_id`` ``S_``/``B_``, non-empty LIS roles from the
allowed list, ``context`` = the class, ``tool_platform.guid`` UUID v4 per tenant, ``custom`` always
present with ``grade`` and ``classname``.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Executable, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from tsunagu import __version__
from tsunagu.container import Container
from tsunagu.identity.principal import PortalRole, Principal
from tsunagu.lti import vocabulary as v
from tsunagu.lti.keys import sign_jwt
from tsunagu.lti.models import (
    TOOL_ACTIVE,
    AccessToken,
    Deployment,
    LineItem,
    ResourceLink,
    Tool,
    UsedValue,
)
from tsunagu.lti.registry import deployment_for, platform_guid
from tsunagu.lti.sealing import SealError, open_json, seal_json
from tsunagu.machine_credentials import keyed_hash, utcnow
from tsunagu.roster.models import ACTIVE, Class, Enrollment, User
from tsunagu.settings import Settings

log = logging.getLogger(__name__)

HINT_PURPOSE = "lti-message-hint"
DL_DATA_PURPOSE = "lti-deep-linking-data"

KIND_RESOURCE_LINK = "rl"
KIND_DEEP_LINKING = "dl"


class LaunchError(Exception):
    """A launch the portal refuses; ``message`` is shown to the person (Japanese first)."""

    def __init__(self, message: str, *, status: int = 400, error: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error


# --- URLs ------------------------------------------------------------------------------------


def issuer(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def authorize_url(settings: Settings) -> str:
    return issuer(settings) + "/lti/authorize"


def token_url(settings: Settings) -> str:
    return issuer(settings) + "/lti/token"


def jwks_url(settings: Settings) -> str:
    return issuer(settings) + "/lti/jwks"


def deep_link_return_url(settings: Settings) -> str:
    return issuer(settings) + "/lti/deep-linking/return"


def context_base(settings: Settings, tenant_code: str, class_sourced_id: str) -> str:
    return f"{issuer(settings)}/lti/services/{tenant_code}/contexts/{class_sourced_id}"


# --- resource links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceLinkInfo:
    id: str
    tenant_id: int
    deployment_id: str
    client_id: str
    tool_name: str
    class_sourced_id: str
    placement: str | None
    title: str
    description: str | None
    url: str | None
    custom: dict[str, str]
    line_item_id: str | None
    icon_url: str | None


#: Columns of a :class:`ResourceLinkInfo`, read as plain rows: the learner home reads a class's
#: links on every visit, and loading ORM entities of three tables cost several times the query.
_LINK_COLUMNS = (
    ResourceLink.id,
    ResourceLink.tenant_id,
    Deployment.deployment_id,
    Tool.client_id,
    Tool.name,
    ResourceLink.class_sourced_id,
    ResourceLink.placement,
    ResourceLink.title,
    ResourceLink.description,
    ResourceLink.url,
    ResourceLink.custom,
    ResourceLink.line_item_id,
    Tool.icon_url,
)


def _link_info_row(row: Any) -> ResourceLinkInfo:
    return ResourceLinkInfo(
        id=row[0],
        tenant_id=row[1],
        deployment_id=row[2],
        client_id=row[3],
        tool_name=row[4],
        class_sourced_id=row[5],
        placement=row[6],
        title=row[7],
        description=row[8],
        url=row[9],
        custom=dict(row[10] or {}),
        line_item_id=row[11],
        icon_url=row[12],
    )


@cache
def _class_links_query(by_placement: bool) -> Executable:
    """Built once per process (bound parameters ``tenant_id``, ``class_sourced_id`` and, with
    ``by_placement``, ``placement``): building the expression cost more than running it."""
    query = (
        select(*_LINK_COLUMNS)
        .join(Deployment, Deployment.id == ResourceLink.deployment_pk)
        .join(Tool, Tool.id == Deployment.tool_id)
        .where(
            ResourceLink.tenant_id == bindparam("tenant_id"),
            ResourceLink.class_sourced_id == bindparam("class_sourced_id"),
            Deployment.active.is_(True),
            Tool.status == TOOL_ACTIVE,
        )
        .order_by(ResourceLink.created_at, ResourceLink.id)
    )
    if by_placement:
        query = query.where(ResourceLink.placement == bindparam("placement"))
    return query


def resource_links_for(
    session: Session, tenant_id: int, class_sourced_id: str, placement: str | None = None
) -> list[ResourceLinkInfo]:
    """The links placed in a class (and, given ``placement``, only those of that placement)."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "class_sourced_id": class_sourced_id}
    if placement is not None:
        params["placement"] = placement
    rows = session.execute(_class_links_query(placement is not None), params)
    return [_link_info_row(row) for row in rows]


def get_class(session: Session, tenant_id: int, class_sourced_id: str) -> Class:
    found = session.get(Class, (tenant_id, class_sourced_id))
    if found is None or found.status != ACTIVE:
        raise LaunchError("このクラスは見つかりません。 (No such class.)", status=404)
    return found


def create_resource_link(
    session: Session,
    *,
    tenant_id: int,
    deployment: Deployment,
    class_sourced_id: str,
    title: str,
    url: str | None = None,
    custom: dict[str, str] | None = None,
    placement: str | None = None,
    description: str | None = None,
    line_item: dict[str, Any] | None = None,
    created_by: str | None = None,
) -> ResourceLink:
    """Place a link in a class; ``line_item`` (label, scoreMaximum, resourceId, tag) adds an AGS
    line item bound to it (what a MEXCBT test launch reports its score to)."""
    if deployment.tenant_id != tenant_id:
        raise LaunchError("The deployment belongs to another tenant.", status=403)
    get_class(session, tenant_id, class_sourced_id)
    link = ResourceLink(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        deployment_pk=deployment.id,
        class_sourced_id=class_sourced_id,
        placement=placement,
        title=title.strip() or "(無題)",
        description=description,
        url=url,
        custom=dict(custom or {}),
        created_by=created_by,
        created_at=utcnow(),
    )
    if line_item is not None:
        item = LineItem(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            tool_id=deployment.tool_id,
            context_id=class_sourced_id,
            resource_link_id=link.id,
            resource_id=line_item.get("resourceId"),
            tag=line_item.get("tag"),
            label=str(line_item.get("label") or link.title),
            score_maximum=float(line_item["scoreMaximum"]),
            start_date_time=line_item.get("startDateTime"),
            end_date_time=line_item.get("endDateTime"),
            created_at=utcnow(),
        )
        session.add(item)
        link.line_item_id = item.id
    session.add(link)
    session.flush()
    return link


def unplace_resource_link(
    session: Session, tenant_id: int, resource_link_id: str, placement: str
) -> bool:
    """Take a link off a placement (a teacher removes it from a period). The link itself stays:
    its launches, line items and scores keep pointing at it. False if it was not placed there."""
    link = session.get(ResourceLink, resource_link_id)
    if link is None or link.tenant_id != tenant_id or link.placement != placement:
        return False
    link.placement = None
    session.flush()
    return True


def unplace_all(session: Session, tenant_id: int, placement: str) -> int:
    """Take every link off a placement (its period was cleared); how many were."""
    result = session.execute(
        update(ResourceLink)
        .where(ResourceLink.tenant_id == tenant_id, ResourceLink.placement == placement)
        .values(placement=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- who may launch what ----------------------------------------------------------------------


def _membership_role(principal: Principal, class_sourced_id: str) -> str | None:
    for m in principal.memberships:
        if m.class_sourced_id == class_sourced_id:
            return m.role
    return None


def _may_see_class(principal: Principal, klass: Class) -> bool:
    if _membership_role(principal, klass.sourced_id) is not None:
        return True
    if principal.has(PortalRole.BOARD_ADMIN) or principal.has(PortalRole.OPERATOR):
        return True
    return principal.has(PortalRole.SCHOOL_ADMIN) and (
        klass.school_sourced_id in principal.school_sourced_ids
    )


def _teaches(principal: Principal, klass: Class) -> bool:
    role = _membership_role(principal, klass.sourced_id)
    if role in ("teacher", "proctor", "administrator"):
        return True
    if principal.has(PortalRole.BOARD_ADMIN) or principal.has(PortalRole.OPERATOR):
        return True
    return principal.has(PortalRole.SCHOOL_ADMIN) and (
        klass.school_sourced_id in principal.school_sourced_ids
    )


def lti_roles(principal: Principal, class_sourced_id: str) -> list[str]:
    """LIS role URIs for this person in this class (eportal-standard.md §3.4 mapping).

    Never empty, and every URI is on the list Japanese tools accept.
    """
    roles: list[str] = []
    membership = _membership_role(principal, class_sourced_id)
    if membership == "student":
        roles += [v.STUDENT, v.LEARNER]
    elif membership in ("teacher", "proctor"):
        roles += [v.FACULTY, v.INSTRUCTOR]
    elif membership == "administrator":
        roles += [v.FACULTY, v.MEMBERSHIP_ADMIN]
    if principal.has(PortalRole.SCHOOL_ADMIN) or principal.has(PortalRole.BOARD_ADMIN):
        roles += [v.INSTITUTION_ADMIN, v.STAFF, v.FACULTY]
    if not roles:
        if principal.has(PortalRole.STUDENT):
            roles += [v.STUDENT]
        elif principal.has(PortalRole.TEACHER):
            roles += [v.FACULTY]
        else:
            roles += [v.INSTITUTION + "Guest"]
    unique = list(dict.fromkeys(roles))
    assert unique
    assert all(r in v.ALLOWED_ROLES for r in unique)
    return unique


# --- starting a launch (the portal's API) ------------------------------------------------------


def login_hint_for(settings: Settings, tenant_id: int, user_sourced_id: str) -> str:
    return keyed_hash(settings.resolved_secret_key, f"lti-login:{tenant_id}:{user_sourced_id}")[:40]


def _initiation_url(
    settings: Settings,
    tool: Tool,
    deployment: Deployment,
    principal: Principal,
    target_link_uri: str,
    hint: dict[str, Any],
) -> str:
    hint = {
        **hint,
        "t": principal.tenant_id,
        "u": principal.user_sourced_id,
        "d": deployment.id,
        "exp": int(time.time()) + settings.lti_id_token_lifetime_seconds,
    }
    params = {
        "iss": issuer(settings),
        "login_hint": login_hint_for(settings, principal.tenant_id, principal.user_sourced_id),
        "target_link_uri": target_link_uri,
        "lti_message_hint": seal_json(settings.resolved_secret_key, HINT_PURPOSE, hint),
        "lti_deployment_id": deployment.deployment_id,
        "client_id": tool.client_id,
    }
    if hint.get("dt") == "iframe":
        # LTI Platform Storage: the tool may keep its state here (postMessage to the parent).
        params["lti_storage_target"] = "_parent"
    separator = "&" if "?" in tool.login_initiation_url else "?"
    return tool.login_initiation_url + separator + urlencode(params)


def _link_parts(
    session: Session, principal: Principal, resource_link_id: str
) -> tuple[ResourceLink, Deployment, Tool, Class]:
    # One query for the four rows a launch needs (launch mornings: a whole grade at once).
    row = session.execute(
        select(ResourceLink, Deployment, Tool, Class)
        .join(Deployment, Deployment.id == ResourceLink.deployment_pk)
        .join(Tool, Tool.id == Deployment.tool_id)
        .outerjoin(
            Class,
            (Class.tenant_id == ResourceLink.tenant_id)
            & (Class.sourced_id == ResourceLink.class_sourced_id),
        )
        .where(ResourceLink.id == resource_link_id, ResourceLink.tenant_id == principal.tenant_id)
    ).first()
    if row is None:
        raise LaunchError("このリンクは見つかりません。 (No such link.)", status=404)
    link, deployment, tool, klass = row
    if not deployment.active or tool.status != TOOL_ACTIVE:
        raise LaunchError(
            "このツールは現在利用できません。 (The tool is not available.)", status=409
        )
    if klass is None or klass.status != ACTIVE:
        raise LaunchError("このクラスは見つかりません。 (No such class.)", status=404)
    return link, deployment, tool, klass


def start_launch(
    container: Container,
    principal: Principal,
    resource_link_id: str,
    *,
    document_target: str = "window",
    return_url: str | None = None,
) -> str:
    """The URL to send the browser to (the tool's login initiation) for a resource-link launch."""
    with container.database.session() as session:
        link, deployment, tool, klass = _link_parts(session, principal, resource_link_id)
        if not _may_see_class(principal, klass):
            raise LaunchError(
                "このクラスの教材は開けません。 (Not a member of this class.)", status=403
            )
        hint = {"k": KIND_RESOURCE_LINK, "rl": link.id, "dt": document_target, "ru": return_url}
        return _initiation_url(
            container.settings, tool, deployment, principal, link.url or tool.target_link_uri, hint
        )


def tool_origins(container: Container, resource_link_id: str) -> list[str]:
    """The origins of a link's tool (login and redirect URIs): who may use Platform Storage."""
    from urllib.parse import urlsplit

    with container.database.session() as session:
        link = session.get(ResourceLink, resource_link_id)
        deployment = session.get(Deployment, link.deployment_pk) if link else None
        tool = session.get(Tool, deployment.tool_id) if deployment else None
        if tool is None:
            return []
        urls = [tool.login_initiation_url, *tool.redirect_uris]
    origins = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    return origins


def start_review_launch(
    container: Container,
    principal: Principal,
    resource_link_id: str,
    for_user_sourced_id: str,
    *,
    show_score: bool = True,
    show_correct: bool = True,
) -> str:
    """MEXCBT 結果閲覧: a resource-link launch whose ``custom`` names whose result to open.

    A teacher of the class may review any learner of it; a learner only their own result.
    """
    with container.database.session() as session:
        link, deployment, tool, klass = _link_parts(session, principal, resource_link_id)
        own = for_user_sourced_id == principal.user_sourced_id
        if not (own and _may_see_class(principal, klass)) and not _teaches(principal, klass):
            raise LaunchError("この結果は開けません。 (Not allowed to review.)", status=403)
        learner = session.get(User, (principal.tenant_id, for_user_sourced_id))
        enrolled = session.scalar(
            select(Enrollment.sourced_id).where(
                Enrollment.tenant_id == principal.tenant_id,
                Enrollment.class_sourced_id == klass.sourced_id,
                Enrollment.user_sourced_id == for_user_sourced_id,
                Enrollment.status == ACTIVE,
            )
        )
        if learner is None or learner.status != ACTIVE or enrolled is None:
            # A teacher reviews the results of their class's pupils, no one else's.
            raise LaunchError(
                "このクラスの児童生徒ではありません。 (Not a learner of this class.)", status=404
            )
        hint = {
            "k": KIND_RESOURCE_LINK,
            "rl": link.id,
            "dt": "window",
            "review": {"u": for_user_sourced_id, "ss": show_score, "sc": show_correct},
        }
        return _initiation_url(
            container.settings, tool, deployment, principal, link.url or tool.target_link_uri, hint
        )


def start_deep_linking(
    container: Container,
    principal: Principal,
    client_id: str,
    class_sourced_id: str,
    placement: str | None = None,
    *,
    return_url: str | None = None,
) -> str:
    """A teacher opens a tool in Deep Linking mode to pick content for a class (or a period).

    ``placement`` is the portal's opaque string (e.g. ``timetable:<slot id>``); the links the
    tool sends back are attached to the class with that placement.
    """
    with container.database.session() as session:
        tool = session.scalar(select(Tool).where(Tool.client_id == client_id))
        if tool is None or tool.status != TOOL_ACTIVE:
            raise LaunchError("このツールは見つかりません。 (No such tool.)", status=404)
        klass = get_class(session, principal.tenant_id, class_sourced_id)
        if not _teaches(principal, klass):
            raise LaunchError(
                "教材の追加は先生だけができます。 (Only the class's teachers may add content.)",
                status=403,
            )
        deployment = deployment_for(session, tool.id, principal.tenant_id, klass.school_sourced_id)
        if deployment is None:
            raise LaunchError(
                "このツールはこの学校に配備されていません。 (Not deployed for this school.)",
                status=409,
            )
        hint = {"k": KIND_DEEP_LINKING, "c": class_sourced_id, "p": placement, "ru": return_url}
        target = tool.deep_linking_url or tool.target_link_uri
        return _initiation_url(container.settings, tool, deployment, principal, target, hint)


# --- the authorization endpoint ---------------------------------------------------------------


@dataclass
class AuthResponse:
    """What the browser POSTs to the tool (``response_mode=form_post``)."""

    redirect_uri: str
    fields: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    #: (tenant id, LMS ``launched`` statement) of a resource-link launch.
    statement: tuple[int, dict[str, Any]] | None = None


class RedirectableError(LaunchError):
    """An error returned to the tool's (validated) redirect URI as OIDC error parameters."""

    def __init__(self, message: str, redirect_uri: str, state: str | None, error: str) -> None:
        super().__init__(message, status=400, error=error)
        self.redirect_uri = redirect_uri
        self.state = state


def use_once(container: Container, kind: str, value: str, expires_in: int) -> bool:
    """Record a one-time value; False if it was seen before and has not expired.

    The INSERT comes first in its transaction: on SQLite a transaction that reads before it
    writes cannot take the write lock while another writes ("database is locked" at once),
    while a first write waits its turn (busy timeout). The primary key settles races.
    """
    now = utcnow()
    expires = now + timedelta(seconds=expires_in)
    try:
        with container.database.transaction() as session:
            session.add(UsedValue(kind=kind, value=value, expires_at=expires))
            if secrets.randbelow(PURGE_EVERY) == 0:
                purge_expired(session, now)
        return True
    except IntegrityError:
        pass
    with container.database.transaction() as session:
        # Seen before: usable again only if the old record has expired.
        updated = session.execute(
            update(UsedValue)
            .where(UsedValue.kind == kind, UsedValue.value == value, UsedValue.expires_at <= now)
            .values(expires_at=expires)
        )
        return bool(getattr(updated, "rowcount", 0))


#: About one use in this many also deletes expired one-time values and access tokens (an
#: index on ``expires_at`` makes it cheap), so the tables stay the size of a few minutes' traffic.
PURGE_EVERY = 500


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete expired one-time values and access tokens; how many rows went."""
    now = now or utcnow()
    gone = session.execute(delete(UsedValue).where(UsedValue.expires_at < now))
    tokens = session.execute(delete(AccessToken).where(AccessToken.expires_at < now))
    return int(getattr(gone, "rowcount", 0) or 0) + int(getattr(tokens, "rowcount", 0) or 0)


_GUIDS: dict[tuple[int, int], str] = {}


def tenant_platform_guid(container: Container, tenant_id: int) -> str:
    """The tenant's ``tool_platform.guid``, created once (it never changes, so it is cached)."""
    key = (id(container), tenant_id)
    found = _GUIDS.get(key)
    if found is None:
        for _ in (1, 2):
            try:
                with container.database.transaction() as session:
                    found = platform_guid(session, tenant_id)
                break
            except IntegrityError:
                continue  # another process created it first: read it on the next turn
        assert found is not None
        _GUIDS[key] = found
    return found


def authorize(
    container: Container,
    principal: Principal | None,
    params: dict[str, str],
    *,
    record: bool = True,
) -> AuthResponse:
    """Answer an OIDC authentication request from a tool (LTI Security Framework §5.1.1.2-3).

    ``record=False`` leaves the LRS ``launched`` statement to the caller (the HTTP route writes
    it after the answer has gone out, so a pupil's launch never waits on the study log): it is
    in ``AuthResponse.statement``.
    """
    settings = container.settings
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    guid = tenant_platform_guid(container, principal.tenant_id) if principal else ""
    with container.database.session() as session:
        tool = session.scalar(select(Tool).where(Tool.client_id == client_id))
        if tool is None or tool.status != TOOL_ACTIVE:
            raise LaunchError(
                "登録されていないツールです。 (Unknown client_id.)", error="unauthorized_client"
            )
        if redirect_uri not in tool.redirect_uris:
            # Never redirect to an unregistered URI (OIDC Core §3.1.2.6): show the page instead.
            raise LaunchError(
                "リダイレクト先がツールの登録と一致しません。 (redirect_uri is not registered.)",
                error="invalid_request",
            )
        state = params.get("state")

        def refuse(message: str, error: str = "invalid_request") -> RedirectableError:
            return RedirectableError(message, redirect_uri, state, error)

        if "openid" not in params.get("scope", "").split(" "):
            raise refuse("scope must include openid", "invalid_scope")
        if params.get("response_type") != "id_token":
            raise refuse("response_type must be id_token", "unsupported_response_type")
        if params.get("response_mode") != "form_post":
            raise refuse("response_mode must be form_post")
        if params.get("prompt") != "none":
            raise refuse("prompt must be none")
        nonce = params.get("nonce", "")
        if not nonce or len(nonce) > 255:
            raise refuse("a nonce (1-255 characters) is required")
        if principal is None:
            raise refuse("nobody is signed in to the portal", "login_required")
        if params.get("login_hint") != login_hint_for(
            settings, principal.tenant_id, principal.user_sourced_id
        ):
            raise refuse("login_hint does not match the signed-in user", "login_required")
        try:
            hint = open_json(
                settings.resolved_secret_key, HINT_PURPOSE, params.get("lti_message_hint", "")
            )
        except SealError as exc:
            raise refuse(f"lti_message_hint: {exc}") from exc
        if hint.get("t") != principal.tenant_id or hint.get("u") != principal.user_sourced_id:
            raise refuse("lti_message_hint was issued to someone else", "login_required")
        if int(hint.get("exp", 0)) < time.time():
            raise refuse("lti_message_hint has expired; start the launch again")
        deployment = session.get(Deployment, hint.get("d"))
        if deployment is None or deployment.tool_id != tool.id or not deployment.active:
            raise refuse("the deployment is unknown or not for this tool", "unauthorized_client")
        claims = build_claims(session, settings, principal, tool, deployment, hint, nonce, guid)
    if not use_once(
        container, "nonce", f"{tool.id}:{nonce}", settings.lti_id_token_lifetime_seconds * 2
    ):
        raise RedirectableError(
            "the nonce was already used", redirect_uri, state, "invalid_request"
        )
    token = sign_jwt(container, claims)
    fields = {"id_token": token}
    if state is not None:
        fields["state"] = state
    answer = AuthResponse(redirect_uri=redirect_uri, fields=fields, claims=claims)
    if claims.get(v.CLAIM_MESSAGE_TYPE) == v.RESOURCE_LINK_REQUEST:
        answer.statement = (
            principal.tenant_id,
            _launch_statement(container, principal, claims, tool.name),
        )
        if record:
            record_launch(container, *answer.statement)
    return answer


def _launch_statement(
    container: Container, principal: Principal, claims: dict[str, Any], tool_name: str
) -> dict[str, Any]:
    """LMS profile ``launched`` (the typed builder of :mod:`tsunagu.lrs.portal_statements`):
    the link is the activity, the tool its description, the class its grouping."""
    from tsunagu.lrs import portal_statements as xapi

    link = claims[v.CLAIM_RESOURCE_LINK]
    context = claims[v.CLAIM_CONTEXT]
    base = container.settings.base_url
    activity = xapi.PortalActivity(
        id=f"{base}/lti/resource-links/{link['id']}",
        name_ja=link.get("title") or tool_name,
        description_ja=tool_name,
    )
    return xapi.launched(
        container.settings,
        principal.user_master_identifier,
        activity,
        grouping=f"{base}/classes/{context['id']}",
    )


def record_launch(container: Container, tenant_id: int, statement: dict[str, Any]) -> None:
    """Store a launch statement; a failure is logged, never raised (the launch has happened)."""
    from tsunagu.lrs.service import LrsError, record_statement

    try:
        record_statement(container, tenant_id, statement)
    except (LrsError, SQLAlchemyError):
        log.exception("could not record the launch statement")


def build_claims(
    session: Session,
    settings: Settings,
    principal: Principal,
    tool: Tool,
    deployment: Deployment,
    hint: dict[str, Any],
    nonce: str,
    guid: str,
) -> dict[str, Any]:
    """Every claim of the id_token (eportal-standard.md §3.3 table, Japan rules §3.4-3.8)."""
    kind = hint.get("k")
    now = int(time.time())
    sub = principal.user_master_identifier.lower()
    if not v.UUID4.fullmatch(sub):
        raise LaunchError(
            "利用者識別子が UUID v4 ではありません。名簿を確認してください。 "
            "(userMasterIdentifier is not a UUID v4.)"
        )
    if kind == KIND_RESOURCE_LINK:
        link = session.get(ResourceLink, hint.get("rl"))
        if link is None or link.tenant_id != principal.tenant_id:
            raise LaunchError("このリンクは見つかりません。 (No such link.)", status=404)
        class_id = link.class_sourced_id
    elif kind == KIND_DEEP_LINKING:
        link = None
        class_id = str(hint.get("c"))
    else:
        raise LaunchError("unknown launch kind")
    klass = get_class(session, principal.tenant_id, class_id)
    if deployment.school_sourced_id and deployment.school_sourced_id != klass.school_sourced_id:
        raise LaunchError("the deployment is for another school", status=403)
    roles = lti_roles(principal, class_id)
    custom: dict[str, Any] = dict(tool.custom or {})
    grade = next((g for g in principal.grades if v.GRADE_CODE.fullmatch(g)), None)
    if grade is None and not principal.has(PortalRole.STUDENT):
        class_grades = [g.strip() for g in (klass.grades or "").split(",") if g.strip()]
        grade = class_grades[0] if len(class_grades) == 1 else None
    if grade and v.GRADE_CODE.fullmatch(grade):
        custom["grade"] = grade
    custom["classname"] = klass.title
    claims: dict[str, Any] = {
        "iss": issuer(settings),
        "aud": tool.client_id,
        "azp": tool.client_id,
        "sub": sub,
        "iat": now,
        "exp": now + settings.lti_id_token_lifetime_seconds,
        "nonce": nonce,
        v.CLAIM_VERSION: v.LTI_VERSION,
        v.CLAIM_DEPLOYMENT_ID: deployment.deployment_id,
        v.CLAIM_ROLES: roles,
        v.CLAIM_CONTEXT: {
            "id": klass.sourced_id,
            "label": klass.class_code or klass.title,
            "title": klass.title,
            "type": [v.CONTEXT_COURSE_SECTION],
        },
        v.CLAIM_TOOL_PLATFORM: {
            "guid": guid,
            "name": settings.lti_platform_name,
            "url": issuer(settings),
            "product_family_code": "tsunagu",
            "version": __version__,
        },
        v.CLAIM_LAUNCH_PRESENTATION: {
            "document_target": hint.get("dt") or "window",
            "locale": "ja-JP",
            **({"return_url": hint["ru"]} if hint.get("ru") else {}),
        },
        v.CLAIM_LIS: {
            "person_sourcedid": principal.user_sourced_id,
            "course_offering_sourcedid": klass.course_sourced_id,
            "course_section_sourcedid": klass.sourced_id,
        },
    }
    if tool.send_name:
        user = session.get(User, (principal.tenant_id, principal.user_sourced_id))
        if user is not None:
            given = user.preferred_given_name or user.given_name
            family = user.preferred_family_name or user.family_name
            claims.update(name=f"{family} {given}", given_name=given, family_name=family)
    if tool.send_email:
        user = session.get(User, (principal.tenant_id, principal.user_sourced_id))
        if user is not None and user.email:
            claims["email"] = user.email
    scopes = [s for s in tool.scopes.split(" ") if s]
    base = context_base(settings, principal.tenant_code, klass.sourced_id)
    if v.SCOPE_NRPS in scopes:
        claims[v.CLAIM_NRPS] = {
            "context_memberships_url": base + "/memberships",
            "service_versions": ["2.0"],
        }
    ags_scopes = [s for s in scopes if s in v.AGS_SCOPES]
    if kind == KIND_RESOURCE_LINK:
        assert link is not None
        claims[v.CLAIM_MESSAGE_TYPE] = v.RESOURCE_LINK_REQUEST
        claims[v.CLAIM_TARGET_LINK_URI] = link.url or tool.target_link_uri
        resource_link: dict[str, Any] = {"id": link.id, "title": link.title}
        if link.description:
            resource_link["description"] = link.description
        claims[v.CLAIM_RESOURCE_LINK] = resource_link
        custom.update(link.custom or {})
        review = hint.get("review")
        if isinstance(review, dict):
            learner = session.get(User, (principal.tenant_id, review.get("u")))
            if learner is None:
                raise LaunchError("その児童生徒は見つかりません。 (No such learner.)", status=404)
            learner_roles = [v.STUDENT, v.LEARNER]
            custom["for_user_id"] = learner.user_master_identifier
            custom["for_roles"] = learner_roles
            custom["custom_show_score"] = bool(review.get("ss"))
            custom["custom_show_correct"] = bool(review.get("sc"))
        if ags_scopes:
            ags: dict[str, Any] = {"scope": ags_scopes, "lineitems": base + "/lineitems"}
            if link.line_item_id:
                ags["lineitem"] = base + "/lineitems/" + link.line_item_id
            claims[v.CLAIM_AGS] = ags
    else:
        claims[v.CLAIM_MESSAGE_TYPE] = v.DEEP_LINKING_REQUEST
        claims[v.CLAIM_TARGET_LINK_URI] = tool.deep_linking_url or tool.target_link_uri
        data = {
            "t": principal.tenant_id,
            "u": principal.user_sourced_id,
            "d": deployment.id,
            "c": klass.sourced_id,
            "p": hint.get("p"),
            "ru": hint.get("ru"),
            "exp": now + 3600,
            "n": secrets.token_hex(8),
        }
        claims[v.CLAIM_DL_SETTINGS] = {
            "deep_link_return_url": deep_link_return_url(settings),
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["window", "iframe"],
            "accept_multiple": True,
            "accept_lineitem": bool(ags_scopes),
            "auto_create": True,
            "title": klass.title,
            "data": seal_json(settings.resolved_secret_key, DL_DATA_PURPOSE, data),
        }
        if ags_scopes:
            claims[v.CLAIM_AGS] = {"scope": ags_scopes, "lineitems": base + "/lineitems"}
    claims[v.CLAIM_CUSTOM] = custom
    return claims
