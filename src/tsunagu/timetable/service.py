"""Timetable and notice operations (no HTTP). Every write checks :mod:`.policy` first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Executable, and_, bindparam, select
from sqlalchemy.orm import Session

from tsunagu.identity import policy
from tsunagu.identity.policy import ClassRef
from tsunagu.identity.principal import Principal
from tsunagu.roster.models import ACTIVE, Class, Org
from tsunagu.timetable.models import Notice, TimetableSlot

WEEKDAYS = range(1, 7)  # Monday … Saturday (土曜授業 exists)
MAX_PERIOD = 8
MAX_SUBJECT = 40
MAX_UNIT = 200
MAX_TITLE = 200
MAX_BODY = 4000
#: A notice is shown at most this long: a forgotten notice must not stay on every home forever.
MAX_NOTICE_DAYS = 366
AUDIENCES = ("class", "grade", "school")
GRADES = ("P1", "P2", "P3", "P4", "P5", "P6", "J1", "J2", "J3", "H1", "H2", "H3")


class TimetableError(Exception):
    """Base of the errors a page turns into a message."""


class PermissionDeniedError(TimetableError):
    """The principal may not do this (pages answer 403)."""


class NotFoundError(TimetableError):
    pass


def N_(message: str) -> str:  # noqa: N802  (the gettext marker name Babel extracts)
    """Marks a message for the interface catalog; the page translates it when it shows it."""
    return message


class InvalidInputError(TimetableError, ValueError):
    """A value was refused; ``field`` names the form field so the page can point at it.

    ``message`` is a catalog msgid (Japanese) with ``%(name)s`` placeholders filled from
    ``params``, so a page shows it in the reader's language: ``_(e.message, **e.params)``.
    """

    def __init__(self, field: str, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.field = field
        self.message = message
        self.params = params


@dataclass(frozen=True)
class ClassInfo:
    sourced_id: str
    title: str
    school_sourced_id: str
    school_name: str
    grades: tuple[str, ...]
    class_type: str = "homeroom"


@dataclass(frozen=True)
class Material:
    id: int
    resource_link_id: str
    title: str
    tool_name: str


@dataclass(frozen=True)
class Slot:
    id: int
    class_sourced_id: str
    weekday: int
    period: int
    subject: str
    unit_title: str
    materials: tuple[Material, ...]

    @property
    def placement(self) -> str:
        """How LTI knows this period: the opaque placement of its deep-linked resource links."""
        return placement_of(self.id)


def placement_of(slot_id: int) -> str:
    return f"timetable:{slot_id}"


@dataclass(frozen=True)
class NoticeView:
    id: int
    audience: str
    school_sourced_id: str
    class_sourced_id: str | None
    grade: str | None
    title: str
    body: str
    starts_on: date
    ends_on: date
    author_name: str
    author_sourced_id: str


# --- classes -------------------------------------------------------------------------------

_CLASS_COLUMNS = (
    Class.sourced_id,
    Class.title,
    Class.school_sourced_id,
    Class.grades,
    Org.name,
    Class.class_type,
)


def _class_info(row: Any) -> ClassInfo:
    return ClassInfo(row[0], row[1], row[2], row[4] or "", _split(row[3]), row[5])


# The reads below run on every learner home: their statements are built once per process with
# bound parameters, because building a SQLAlchemy expression costs more than running it.


@cache
def _classes_query() -> Executable:
    return (
        select(*_CLASS_COLUMNS)
        .join(
            Org,
            and_(Org.tenant_id == Class.tenant_id, Org.sourced_id == Class.school_sourced_id),
            isouter=True,
        )
        .where(
            Class.tenant_id == bindparam("tenant_id"),
            Class.sourced_id.in_(bindparam("ids", expanding=True)),
            Class.status == ACTIVE,
        )
        .order_by(Org.name, Class.title)
    )


def get_class(session: Session, tenant_id: int, class_sourced_id: str) -> ClassInfo | None:
    found = get_classes(session, tenant_id, (class_sourced_id,))
    return found[0] if found else None


def get_classes(session: Session, tenant_id: int, ids: Iterable[str]) -> list[ClassInfo]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = session.execute(_classes_query(), {"tenant_id": tenant_id, "ids": wanted}).all()
    return [_class_info(r) for r in rows]


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _class_for_edit(session: Session, principal: Principal, class_sourced_id: str) -> ClassInfo:
    found = get_class(session, principal.tenant_id, class_sourced_id)
    if found is None:
        raise NotFoundError(class_sourced_id)
    # get_class read it in the principal's tenant.
    klass = ClassRef(principal.tenant_id, found.sourced_id, found.school_sourced_id)
    if not policy.can_edit_timetable(principal, klass):
        raise PermissionDeniedError(class_sourced_id)
    return found


# --- timetable -----------------------------------------------------------------------------


def _slot_view(slot: TimetableSlot) -> Slot:
    return Slot(
        id=slot.id,
        class_sourced_id=slot.class_sourced_id,
        weekday=slot.weekday,
        period=slot.period,
        subject=slot.subject,
        unit_title=slot.unit_title,
        materials=(),
    )


@cache
def _week_query() -> Executable:
    t = TimetableSlot
    return (
        select(t.id, t.class_sourced_id, t.weekday, t.period, t.subject, t.unit_title)
        .where(
            t.tenant_id == bindparam("tenant_id"),
            t.class_sourced_id == bindparam("class_sourced_id"),
        )
        .order_by(t.weekday, t.period)
    )


def week(session: Session, tenant_id: int, class_sourced_id: str) -> dict[tuple[int, int], Slot]:
    """The class's weekly grid: (weekday, period) → slot, for the periods that have a lesson.

    Plain rows, no ORM identity map (on the learner home's hot path it cost more than the
    query). Materials are LTI resource links placed on the period: the portal adds them
    (tsunagu.portal.materials.placed_materials)."""
    params = {"tenant_id": tenant_id, "class_sourced_id": class_sourced_id}
    rows = session.execute(_week_query(), params)
    return {(r[2], r[3]): Slot(r[0], r[1], r[2], r[3], r[4], r[5], ()) for r in rows}


def get_slot(session: Session, tenant_id: int, slot_id: int) -> Slot | None:
    slot = session.get(TimetableSlot, slot_id)
    if slot is None or slot.tenant_id != tenant_id:
        return None
    return _slot_view(slot)


def _clean(value: str, field: str, limit: int, *, required: bool = False) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise InvalidInputError(field, N_("入力してください。"))
    if len(text) > limit:
        raise InvalidInputError(field, N_("%(n)s 文字以内で入力してください。"), n=limit)
    return text


def save_slot(
    session: Session,
    principal: Principal,
    class_sourced_id: str,
    weekday: int,
    period: int,
    subject: str,
    unit_title: str,
    *,
    now: datetime,
) -> Slot | None:
    """Set one period of the week; an empty subject clears the period (the caller takes the
    materials placed on it off too: they are LTI resource links, see tsunagu.portal.materials)."""
    _class_for_edit(session, principal, class_sourced_id)
    if weekday not in WEEKDAYS:
        raise InvalidInputError("weekday", N_("曜日は月〜土から選んでください。"))
    if not 1 <= period <= MAX_PERIOD:
        raise InvalidInputError("period", N_("校時は 1〜%(n)s です。"), n=MAX_PERIOD)
    subject = _clean(subject, "subject", MAX_SUBJECT)
    unit_title = _clean(unit_title, "unit_title", MAX_UNIT)
    slot = session.scalar(
        select(TimetableSlot).where(
            TimetableSlot.tenant_id == principal.tenant_id,
            TimetableSlot.class_sourced_id == class_sourced_id,
            TimetableSlot.weekday == weekday,
            TimetableSlot.period == period,
        )
    )
    if not subject:
        if unit_title:
            raise InvalidInputError("subject", N_("単元を入れるときは教科も入力してください。"))
        if slot is not None:
            session.delete(slot)
            session.flush()
        return None
    if slot is None:
        slot = TimetableSlot(
            tenant_id=principal.tenant_id,
            class_sourced_id=class_sourced_id,
            weekday=weekday,
            period=period,
        )
        session.add(slot)
    slot.subject = subject
    slot.unit_title = unit_title
    slot.updated_at = now
    slot.updated_by = principal.user_sourced_id
    session.flush()
    session.refresh(slot)
    return _slot_view(slot)


def _slot_for_edit(session: Session, principal: Principal, slot_id: int) -> TimetableSlot:
    slot = session.get(TimetableSlot, slot_id)
    if slot is None or slot.tenant_id != principal.tenant_id:
        raise NotFoundError(str(slot_id))
    _class_for_edit(session, principal, slot.class_sourced_id)
    return slot


# --- notices -------------------------------------------------------------------------------


def _notice_view(n: Notice) -> NoticeView:
    return NoticeView(
        id=n.id,
        audience=n.audience,
        school_sourced_id=n.school_sourced_id,
        class_sourced_id=n.class_sourced_id,
        grade=n.grade,
        title=n.title,
        body=n.body,
        starts_on=n.starts_on,
        ends_on=n.ends_on,
        author_name=n.author_name,
        author_sourced_id=n.author_sourced_id,
    )


def post_notice(
    session: Session,
    principal: Principal,
    *,
    audience: str,
    school_sourced_id: str,
    class_sourced_id: str | None,
    grade: str | None,
    title: str,
    body: str,
    starts_on: date,
    ends_on: date,
    now: datetime,
) -> NoticeView:
    if audience not in AUDIENCES:
        raise InvalidInputError("audience", N_("宛先を選んでください。"))
    if audience == "class":
        if not class_sourced_id:
            raise InvalidInputError("class_sourced_id", N_("学級を選んでください。"))
        found = get_class(session, principal.tenant_id, class_sourced_id)
        if found is None:
            raise InvalidInputError("class_sourced_id", N_("その学級はありません。"))
        school_sourced_id = found.school_sourced_id
        grade = None
    else:
        class_sourced_id = None
        school = session.get(Org, (principal.tenant_id, school_sourced_id or ""))
        if school is None or school.status != ACTIVE:
            raise InvalidInputError("school_sourced_id", N_("その学校はありません。"))
        if audience == "grade":
            if grade not in GRADES:
                raise InvalidInputError("grade", N_("学年を選んでください。"))
        else:
            grade = None
    if not policy.can_post_notice(
        principal, principal.tenant_id, audience, school_sourced_id, class_sourced_id
    ):
        raise PermissionDeniedError(audience)
    if ends_on < starts_on:
        raise InvalidInputError("ends_on", N_("終わりの日は始まりの日より後にしてください。"))
    if ends_on - starts_on > timedelta(days=MAX_NOTICE_DAYS):
        raise InvalidInputError("ends_on", N_("表示期間は %(n)s 日までです。"), n=MAX_NOTICE_DAYS)
    notice = Notice(
        tenant_id=principal.tenant_id,
        audience=audience,
        school_sourced_id=school_sourced_id,
        class_sourced_id=class_sourced_id,
        grade=grade,
        title=_clean(title, "title", MAX_TITLE, required=True),
        body=(body or "").strip()[:MAX_BODY],
        starts_on=starts_on,
        ends_on=ends_on,
        author_sourced_id=principal.user_sourced_id,
        author_name=principal.display_name,
        created_at=now,
    )
    if len((body or "").strip()) > MAX_BODY:
        raise InvalidInputError("body", N_("%(n)s 文字以内で入力してください。"), n=MAX_BODY)
    session.add(notice)
    session.flush()
    return _notice_view(notice)


_NOTICE_COLUMNS = (
    Notice.id,
    Notice.audience,
    Notice.school_sourced_id,
    Notice.class_sourced_id,
    Notice.grade,
    Notice.title,
    Notice.body,
    Notice.starts_on,
    Notice.ends_on,
    Notice.author_name,
    Notice.author_sourced_id,
)


#: Notices of one school shown on a day, at most: far more than a school posts at once, and a
#: bound on what one read may return.
MAX_SCHOOL_NOTICES = 500


@cache
def _school_notices_query() -> Executable:
    return (
        select(*_NOTICE_COLUMNS)
        .where(
            Notice.tenant_id == bindparam("tenant_id"),
            Notice.school_sourced_id == bindparam("school_sourced_id"),
            Notice.starts_on <= bindparam("today"),
            Notice.ends_on >= bindparam("today"),
        )
        .order_by(Notice.starts_on.desc(), Notice.id.desc())
        .limit(MAX_SCHOOL_NOTICES)
    )


def school_notices(
    session: Session, tenant_id: int, school_sourced_id: str, today: date
) -> list[NoticeView]:
    """Every notice of a school shown today, whatever its audience, newest first (the learner
    home keeps these per school and picks each learner's with :func:`notices_for`)."""
    params = {"tenant_id": tenant_id, "school_sourced_id": school_sourced_id, "today": today}
    return [NoticeView(*row) for row in session.execute(_school_notices_query(), params)]


def learner_schools(principal: Principal) -> list[str]:
    """The schools where the principal is a learner (whose notices their home shows)."""
    return sorted({m.school_sourced_id for m in principal.memberships if m.role == "student"})


def notices_for(principal: Principal, notices: Iterable[NoticeView]) -> list[NoticeView]:
    """The notices among ``notices`` (their schools' current ones) addressed to this learner:
    their classes', their grade's and their whole school's, newest first, 20 at most."""
    classes = principal.classes_attended()
    schools = set(learner_schools(principal))
    mine = [
        n
        for n in notices
        if n.school_sourced_id in schools
        and (
            n.audience == "school"
            or (n.audience == "class" and n.class_sourced_id in classes)
            or (n.audience == "grade" and n.grade in principal.grades)
        )
    ]
    mine.sort(key=lambda n: (n.starts_on, n.id), reverse=True)
    return mine[:20]


def notices_for_learner(
    session: Session,
    principal: Principal,
    today: date,
    *,
    school_notices_of: Callable[[str], list[NoticeView]] | None = None,
) -> list[NoticeView]:
    """What a learner is shown today: their classes', their grade's and their schools' notices.

    ``school_notices_of(school)`` gives a school's current notices (:func:`school_notices` by
    default; the learner home passes its per-school cache)."""
    read = school_notices_of or (
        lambda school: school_notices(session, principal.tenant_id, school, today)
    )
    return notices_for(
        principal, [n for school in learner_schools(principal) for n in read(school)]
    )


def notices_for_staff(session: Session, principal: Principal, today: date) -> list[NoticeView]:
    """Current and coming notices of the schools where the person works."""
    where = [Notice.tenant_id == principal.tenant_id, Notice.ends_on >= today]
    if not policy.is_tenant_admin(principal):
        schools = sorted(
            principal.school_sourced_ids | {m.school_sourced_id for m in principal.memberships}
        )
        where.append(Notice.school_sourced_id.in_(schools))
    rows = session.scalars(
        select(Notice).where(*where).order_by(Notice.starts_on, Notice.id).limit(200)
    )
    return [_notice_view(n) for n in rows]


def delete_notice(session: Session, principal: Principal, notice_id: int) -> None:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.tenant_id != principal.tenant_id:
        raise NotFoundError(str(notice_id))
    if not policy.can_withdraw_notice(
        principal, notice.tenant_id, notice.author_sourced_id, notice.school_sourced_id
    ):
        raise PermissionDeniedError(str(notice_id))
    session.delete(notice)
