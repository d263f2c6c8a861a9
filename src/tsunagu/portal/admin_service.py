"""What the administrators' console shows and does, shaped for its pages.

Read models (tools and their deployments in one tenant, pending Dynamic Registrations, launch
figures, people and their sign-in methods, classes and their cards) and the few operations the
other domains' services do not already offer. Every function takes the principal's tenant and
returns only that tenant's data; which of it a principal may see or change is asked of
:mod:`tsunagu.identity.policy` here and in the handlers. No FastAPI here.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from tsunagu.identity import policy
from tsunagu.identity.directory import user_ref
from tsunagu.identity.models import LocalPassword, QrCard, TotpSecret
from tsunagu.identity.operators import principal_for
from tsunagu.identity.principal import PortalRole, Principal
from tsunagu.lrs.models import Statement, StatementActivity
from tsunagu.lrs.portal_statements import LAUNCHED
from tsunagu.lti.models import TOOL_ACTIVE, TOOL_PENDING, Deployment, ResourceLink, Tool
from tsunagu.lti.vocabulary import ALL_SCOPES
from tsunagu.machine_credentials import utcnow
from tsunagu.roster.models import ACTIVE, Class, Enrollment, Org, Role, User
from tsunagu.timetable.service import N_

#: How many people a search lists (narrow the search for more).
SEARCH_LIMIT = 50
#: The periods the launch figures cover, in days.
STATISTICS_PERIODS = (7, 30)
ADMIN_ROLES = frozenset({PortalRole.SCHOOL_ADMIN, PortalRole.BOARD_ADMIN, PortalRole.OPERATOR})
ROLE_LABELS = {
    PortalRole.STUDENT: N_("児童生徒"),
    PortalRole.TEACHER: N_("教員"),
    PortalRole.SCHOOL_ADMIN: N_("学校管理者"),
    PortalRole.BOARD_ADMIN: N_("教育委員会管理者"),
    PortalRole.OPERATOR: N_("運用者"),
}
SCOPE_LABELS = {
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem": N_("成績の列の作成・変更"),
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly": N_("成績の列の閲覧"),
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly": N_("成績の閲覧"),
    "https://purl.imsglobal.org/spec/lti-ags/scope/score": N_("点数の送信"),
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly": N_(
        "学級の名簿の閲覧"
    ),
}


class ConsoleError(ValueError):
    """Bad input from a console form; the message is an interface string (translated)."""


@dataclass(frozen=True)
class School:
    sourced_id: str
    name: str
    code: str


@dataclass(frozen=True)
class DeploymentRow:
    deployment_id: str
    school: School | None
    active: bool
    #: May this principal undeploy it.
    manageable: bool


@dataclass(frozen=True)
class ToolRow:
    client_id: str
    name: str
    description: str
    scopes: tuple[str, ...]
    send_name: bool
    send_email: bool
    deployments: tuple[DeploymentRow, ...]
    tenant_wide: bool


@dataclass(frozen=True)
class PendingRow:
    client_id: str
    name: str
    contact_email: str
    target_link_uri: str
    scopes: tuple[str, ...]
    send_name: bool
    send_email: bool
    school: School | None
    created_at: datetime


@dataclass(frozen=True)
class LaunchFigure:
    tool_name: str
    school_name: str
    launches: int


@dataclass(frozen=True)
class PersonRow:
    sourced_id: str
    name: str
    kana_name: str
    username: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class PersonDetail:
    person: PersonRow
    schools: tuple[str, ...]
    classes: tuple[tuple[str, str, str], ...]  # (class id, title, enrollment role)
    has_password: bool
    active_cards: int
    totp_enrolled: bool
    is_admin: bool
    manageable: bool


@dataclass(frozen=True)
class ClassCards:
    sourced_id: str
    title: str
    school_name: str
    pupils: int
    with_card: int


# --- schools -----------------------------------------------------------------------------------


def schools(session: Session, principal: Principal) -> list[School]:
    """The tenant's active schools this principal administers, by 学校コード."""
    rows = session.scalars(
        select(Org)
        .where(Org.tenant_id == principal.tenant_id, Org.type == "school", Org.status == ACTIVE)
        .order_by(Org.identifier, Org.sourced_id)
    )
    return [
        School(org.sourced_id, org.name, org.identifier or "")
        for org in rows
        if policy.can_administer_school(principal, principal.tenant_id, org.sourced_id)
    ]


def _school_names(session: Session, tenant_id: int) -> dict[str, School]:
    rows = session.scalars(select(Org).where(Org.tenant_id == tenant_id, Org.type == "school"))
    return {o.sourced_id: School(o.sourced_id, o.name, o.identifier or "") for o in rows}


# --- tools ---------------------------------------------------------------------------------------


def tools(session: Session, principal: Principal) -> list[ToolRow]:
    """Active tools (the deployment's catalogue) with this tenant's deployments the principal sees.

    Another tenant's deployments are never listed: a tool is shared, its deployments are not.
    """
    names = _school_names(session, principal.tenant_id)
    deployments: dict[int, list[Deployment]] = defaultdict(list)
    for row in session.scalars(
        select(Deployment)
        .where(Deployment.tenant_id == principal.tenant_id)
        .order_by(Deployment.deployment_id)
    ):
        deployments[row.tool_id].append(row)
    result = []
    for tool in session.scalars(
        select(Tool).where(Tool.status == TOOL_ACTIVE).order_by(Tool.name, Tool.id)
    ):
        shown = []
        for d in deployments.get(tool.id, []):
            school = names.get(d.school_sourced_id) if d.school_sourced_id else None
            visible = d.school_sourced_id is None or policy.can_administer_school(
                principal, principal.tenant_id, d.school_sourced_id
            )
            if not visible:
                continue
            shown.append(
                DeploymentRow(
                    deployment_id=d.deployment_id,
                    school=school,
                    active=d.active,
                    manageable=policy.can_deploy_tool(
                        principal, principal.tenant_id, d.school_sourced_id
                    ),
                )
            )
        result.append(
            ToolRow(
                client_id=tool.client_id,
                name=tool.name,
                description=tool.description or "",
                scopes=tuple(s for s in tool.scopes.split(" ") if s),
                send_name=tool.send_name,
                send_email=tool.send_email,
                deployments=tuple(shown),
                tenant_wide=any(d.school is None and d.active for d in shown),
            )
        )
    return result


def pending_registrations(session: Session, tenant_id: int) -> list[PendingRow]:
    """Dynamic Registrations waiting for this tenant's decision (LTI-DR 1.0 §3.5)."""
    schools_by_code = {s.code: s for s in _school_names(session, tenant_id).values()}
    rows = session.scalars(
        select(Tool)
        .where(Tool.status == TOOL_PENDING, Tool.pending_tenant_id == tenant_id)
        .order_by(Tool.created_at, Tool.id)
    )
    return [
        PendingRow(
            client_id=t.client_id,
            name=t.name,
            contact_email=t.contact_email or "",
            target_link_uri=t.target_link_uri,
            scopes=tuple(s for s in t.scopes.split(" ") if s),
            send_name=t.send_name,
            send_email=t.send_email,
            school=schools_by_code.get(t.pending_school_code or "")
            if t.pending_school_code
            else None,
            created_at=t.created_at,
        )
        for t in rows
    ]


def pending_tool(session: Session, tenant_id: int, client_id: str) -> Tool | None:
    """A tool pending for this tenant, else None (another tenant's registration is not ours)."""
    tool = session.scalar(select(Tool).where(Tool.client_id == client_id))
    if tool is None or tool.status != TOOL_PENDING or tool.pending_tenant_id != tenant_id:
        return None
    return tool


def check_scopes(asked: tuple[str, ...], chosen: list[str]) -> list[str]:
    """The scopes an administrator ticked: known, and among those the tool asked for."""
    for scope in chosen:
        if scope not in ALL_SCOPES or scope not in asked:
            raise ConsoleError(N_("ツールが求めていない権限は許可できません。"))
    return [s for s in ALL_SCOPES if s in chosen]


def launch_figures(
    session: Session, principal: Principal, base_url: str, days: int, now: datetime | None = None
) -> list[LaunchFigure]:
    """Launches per tool per school over the last ``days`` days, from the LRS.

    Counted from the LMS profile ``launched`` statements the platform records at every launch
    (:mod:`tsunagu.lti.launch`, built by :mod:`tsunagu.lrs.portal_statements`): their object is
    ``{base_url}/lti/resource-links/{id}``, and the resource link names the deployment (hence
    the tool) and the class (hence the school).
    Voided statements do not count. Schools the principal does not administer are left out.
    """
    since = (now or utcnow()) - timedelta(days=days)
    prefix = f"{base_url.rstrip('/')}/lti/resource-links/"
    counted = session.execute(
        select(StatementActivity.activity_id, func.count())
        # (seq, stored): the partition key lets PostgreSQL probe one monthly partition per row.
        .join(
            Statement,
            (Statement.seq == StatementActivity.seq)
            & (Statement.stored == StatementActivity.stored),
        )
        .where(
            Statement.tenant_id == principal.tenant_id,
            StatementActivity.tenant_id == principal.tenant_id,
            Statement.verb_id == LAUNCHED,
            Statement.voided.is_(False),
            Statement.stored >= since,
            StatementActivity.related.is_(False),
            StatementActivity.activity_id.startswith(prefix, autoescape=True),
        )
        .group_by(StatementActivity.activity_id)
    ).all()
    per_link = {str(activity)[len(prefix) :]: int(n) for activity, n in counted}
    if not per_link:
        return []
    links = session.execute(
        select(ResourceLink.id, Tool.name, Class.school_sourced_id)
        .join(Deployment, Deployment.id == ResourceLink.deployment_pk)
        .join(Tool, Tool.id == Deployment.tool_id)
        .join(
            Class,
            (Class.tenant_id == ResourceLink.tenant_id)
            & (Class.sourced_id == ResourceLink.class_sourced_id),
        )
        .where(ResourceLink.tenant_id == principal.tenant_id, ResourceLink.id.in_(list(per_link)))
    ).all()
    names = _school_names(session, principal.tenant_id)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for link_id, tool_name, school_id in links:
        if not policy.can_view_launch_statistics(principal, principal.tenant_id, school_id):
            continue
        school = names.get(school_id)
        totals[(tool_name, school.name if school else school_id)] += per_link[link_id]
    return [
        LaunchFigure(tool, school, n)
        for (tool, school), n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]


# --- people ----------------------------------------------------------------------------------


def _kana(user: User) -> str:
    return " ".join(
        p
        for p in (
            user.kana_preferred_family_name or user.kana_family_name,
            user.kana_preferred_given_name or user.kana_given_name,
        )
        if p
    )


def _name(user: User) -> str:
    family = user.preferred_family_name or user.family_name
    given = user.preferred_given_name or user.given_name
    return f"{family} {given}".strip()


def _people_of_schools(tenant_id: int, school_ids: frozenset[str]) -> ColumnElement[bool]:
    """A subquery of users with a role or an enrollment in the given schools."""
    by_role = select(Role.user_sourced_id).where(
        Role.tenant_id == tenant_id, Role.status == ACTIVE, Role.org_sourced_id.in_(school_ids)
    )
    by_enrollment = select(Enrollment.user_sourced_id).where(
        Enrollment.tenant_id == tenant_id,
        Enrollment.status == ACTIVE,
        Enrollment.school_sourced_id.in_(school_ids),
    )
    return or_(User.sourced_id.in_(by_role), User.sourced_id.in_(by_enrollment))


def search_people(session: Session, principal: Principal, text: str) -> list[PersonRow]:
    """People of the tenant matching a name, kana or username (school administrators: theirs)."""
    text = " ".join(text.split())[:100]
    if not text:
        return []
    query = select(User).where(User.tenant_id == principal.tenant_id, User.status == ACTIVE)
    for word in text.split(" "):
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        User.family_name,
                        User.given_name,
                        User.preferred_family_name,
                        User.preferred_given_name,
                        User.kana_family_name,
                        User.kana_given_name,
                        User.kana_preferred_family_name,
                        User.kana_preferred_given_name,
                        User.username,
                    )
                )
            )
        )
    if not policy.is_tenant_admin(principal):
        administered = frozenset(s.sourced_id for s in schools(session, principal))
        if not administered:
            return []
        query = query.where(_people_of_schools(principal.tenant_id, administered))
    users = list(session.scalars(query.order_by(User.username).limit(SEARCH_LIMIT)))
    return [_person(session, principal.tenant_id, u) for u in users]


def _person(session: Session, tenant_id: int, user: User) -> PersonRow:
    found = principal_for(session, tenant_id, user.sourced_id)
    roles = tuple(r.value for r in PortalRole if found is not None and r in found.roles)
    return PersonRow(user.sourced_id, _name(user), _kana(user), user.username, roles)


def person_detail(
    session: Session, principal: Principal, user_sourced_id: str
) -> PersonDetail | None:
    """One person, or None when they are not in the tenant or not the principal's to see."""
    ref = user_ref(session, principal.tenant_id, user_sourced_id)
    if ref is None:
        return None
    target = principal_for(session, principal.tenant_id, user_sourced_id)
    user = session.get(User, (principal.tenant_id, user_sourced_id))
    if target is None or user is None:
        return None
    is_admin = bool(target.roles & ADMIN_ROLES)
    if not policy.is_tenant_admin(principal) and not any(
        policy.can_administer_school(principal, principal.tenant_id, s)
        for s in ref.school_sourced_ids
    ):
        return None
    names = _school_names(session, principal.tenant_id)
    classes = []
    for membership in target.memberships:
        klass = session.get(Class, (principal.tenant_id, membership.class_sourced_id))
        if klass is not None:
            classes.append((klass.sourced_id, klass.title, membership.role))
    active_cards = session.scalar(
        select(func.count())
        .select_from(QrCard)
        .where(
            QrCard.tenant_id == principal.tenant_id,
            QrCard.user_sourced_id == user_sourced_id,
            QrCard.revoked_at.is_(None),
        )
    )
    totp = session.get(TotpSecret, (principal.tenant_id, user_sourced_id))
    return PersonDetail(
        person=_person(session, principal.tenant_id, user),
        schools=tuple(
            sorted(
                names[s].name
                for s in target.school_sourced_ids | ref.school_sourced_ids
                if s in names
            )
        ),
        classes=tuple(sorted(classes, key=lambda c: c[1])),
        has_password=session.get(LocalPassword, (principal.tenant_id, user_sourced_id)) is not None,
        active_cards=int(active_cards or 0),
        totp_enrolled=totp is not None and totp.confirmed_at is not None,
        is_admin=is_admin,
        manageable=policy.can_manage_credentials(principal, ref, target_is_admin=is_admin),
    )


#: No look-alike characters (0/O, 1/l/I): the password is read off a screen and typed.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def temporary_password(min_length: int) -> str:
    """A random password to hand over once (groups of four for reading aloud)."""
    groups = max(4, -(-min_length // 4))
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(groups))


# --- QR cards per class ------------------------------------------------------------------------


def class_cards(session: Session, principal: Principal) -> list[ClassCards]:
    """Active classes of the administered schools, with how many pupils hold an active card."""
    administered = {s.sourced_id: s for s in schools(session, principal)}
    if not administered:
        return []
    classes = list(
        session.scalars(
            select(Class)
            .where(
                Class.tenant_id == principal.tenant_id,
                Class.status == ACTIVE,
                Class.school_sourced_id.in_(list(administered)),
            )
            .order_by(Class.school_sourced_id, Class.title)
        )
    )
    # Counted in the database: a city's classes hold hundreds of thousands of pupils.
    enrolled = (
        Enrollment.tenant_id == principal.tenant_id,
        Enrollment.role == "student",
        Enrollment.status == ACTIVE,
        Enrollment.school_sourced_id.in_(list(administered)),
    )
    pupils: dict[str, int] = {
        class_id: int(n)
        for class_id, n in session.execute(
            select(
                Enrollment.class_sourced_id, func.count(func.distinct(Enrollment.user_sourced_id))
            )
            .where(*enrolled)
            .group_by(Enrollment.class_sourced_id)
        )
    }
    has_card = (
        select(QrCard.card_id)
        .where(
            QrCard.tenant_id == Enrollment.tenant_id,
            QrCard.user_sourced_id == Enrollment.user_sourced_id,
            QrCard.revoked_at.is_(None),
        )
        .exists()
    )
    carded: dict[str, int] = {
        class_id: int(n)
        for class_id, n in session.execute(
            select(
                Enrollment.class_sourced_id, func.count(func.distinct(Enrollment.user_sourced_id))
            )
            .where(*enrolled, has_card)
            .group_by(Enrollment.class_sourced_id)
        )
    }
    return [
        ClassCards(
            sourced_id=c.sourced_id,
            title=c.title,
            school_name=administered[c.school_sourced_id].name,
            pupils=pupils.get(c.sourced_id, 0),
            with_card=carded.get(c.sourced_id, 0),
        )
        for c in classes
    ]


def revoke_class_cards(session: Session, tenant_id: int, class_sourced_id: str) -> int:
    """Revoke every active card of the class's pupils (a class's sheet was lost)."""
    pupils = select(Enrollment.user_sourced_id).where(
        Enrollment.tenant_id == tenant_id,
        Enrollment.class_sourced_id == class_sourced_id,
        Enrollment.role == "student",
        Enrollment.status == ACTIVE,
    )
    now = utcnow()
    count = 0
    for card in session.scalars(
        select(QrCard).where(
            QrCard.tenant_id == tenant_id,
            QrCard.revoked_at.is_(None),
            QrCard.user_sourced_id.in_(pupils),
        )
    ):
        card.revoked_at = now
        count += 1
    session.flush()
    return count
