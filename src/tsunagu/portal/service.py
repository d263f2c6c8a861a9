"""What each portal page shows, assembled from the domains (no HTTP here).

Routes call one function per page; each opens no session of its own (the route's session is
passed in) so a page is a handful of indexed queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.identity import policy
from tsunagu.identity.policy import ClassRef
from tsunagu.identity.principal import Principal
from tsunagu.portal import activity, materials
from tsunagu.portal.home_cache import HomeCache
from tsunagu.roster.models import ACTIVE, Class
from tsunagu.settings import Settings
from tsunagu.timetable import service as timetable
from tsunagu.timetable.service import ClassInfo, NoticeView, Slot

PERIODS = range(1, 7)
WEEKDAYS = range(1, 6)


def zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.portal_timezone)


def today(settings: Settings) -> date:
    return datetime.now(zone(settings)).date()


def school_day(day: date) -> date:
    """The day whose timetable the home shows: today, or Monday when today is a Sunday."""
    return day + timedelta(days=1) if day.isoweekday() == 7 else day


def main_class(session: Session, principal: Principal) -> ClassInfo | None:
    """The learner's homeroom (学級) if they have one, else their first class."""
    classes = timetable.get_classes(session, principal.tenant_id, principal.classes_attended())
    for found in classes:
        if found.class_type == "homeroom":
            return found
    return classes[0] if classes else None


def with_materials(
    session: Session, tenant_id: int, class_sourced_id: str, week: dict[tuple[int, int], Slot]
) -> dict[tuple[int, int], Slot]:
    """The week with each period's materials as :mod:`tsunagu.portal.materials` reports them
    (the LTI resource links placed on each period)."""
    placed = materials.placed_materials(session, tenant_id, class_sourced_id, list(week.values()))
    return {key: replace(slot, materials=placed.get(slot.id, ())) for key, slot in week.items()}


@dataclass(frozen=True)
class ClassHome:
    """What every learner of a class sees alike on their home (kept per class by the cache)."""

    klass: ClassInfo
    week: dict[tuple[int, int], Slot]
    tools: list[materials.Tool]


def class_home(session: Session, tenant_id: int, klass: ClassInfo) -> ClassHome:
    week = with_materials(
        session, tenant_id, klass.sourced_id, timetable.week(session, tenant_id, klass.sourced_id)
    )
    return ClassHome(klass, week, materials.class_tools(session, tenant_id, klass, week))


@dataclass
class LearnerHome:
    day: date
    is_today: bool
    klass: ClassInfo | None
    periods: list[Slot]
    week: dict[tuple[int, int], Slot]
    tools: list[materials.Tool]
    notices: list[NoticeView]
    recent: list[activity.ActivityItem]
    weekdays: range = field(default=WEEKDAYS)
    period_numbers: range = field(default=PERIODS)


def learner_home(
    session: Session, settings: Settings, principal: Principal, cache: HomeCache
) -> LearnerHome:
    """The home: the class's parts through ``cache`` (one read per class, or per school for
    the notices, while an entry lives), the learner's recent study read every time."""
    tenant_id = principal.tenant_id
    now_day = today(settings)
    day = school_day(now_day)
    klass = cache.get(
        (tenant_id, "main-class", principal.classes_attended()),
        lambda: main_class(session, principal),
    )

    def shared_by_class(klass: ClassInfo) -> ClassHome:
        return cache.get(
            (tenant_id, "class-home", klass.sourced_id),
            lambda: class_home(session, tenant_id, klass),
        )

    def notices_of_school(school: str) -> list[NoticeView]:
        return cache.get(
            (tenant_id, "school-notices", school, now_day),
            lambda: timetable.school_notices(session, tenant_id, school, now_day),
        )

    shared = shared_by_class(klass) if klass is not None else None
    week = shared.week if shared is not None else {}
    return LearnerHome(
        day=day,
        is_today=day == now_day,
        klass=klass,
        periods=sorted(
            (s for (wd, _), s in week.items() if wd == day.isoweekday()), key=lambda s: s.period
        ),
        week=week,
        tools=shared.tools if shared is not None else [],
        notices=timetable.notices_for_learner(
            session, principal, now_day, school_notices_of=notices_of_school
        ),
        recent=activity.recent(
            session, tenant_id, settings.base_url, principal.user_master_identifier, zone(settings)
        ),
        weekdays=range(1, 7) if any(wd == 6 for wd, _ in week) else WEEKDAYS,
        period_numbers=range(1, max([6, *(p for _, p in week)]) + 1),
    )


def staff_classes(session: Session, principal: Principal) -> list[ClassInfo]:
    """Classes a staff member works with: the ones they teach, and their schools' if admin."""
    ids = set(principal.classes_taught())
    admin_schools = [
        s
        for s in principal.school_sourced_ids
        if policy.can_administer_school(principal, principal.tenant_id, s)
    ]
    if admin_schools:
        ids |= set(
            session.scalars(
                select(Class.sourced_id)
                .where(
                    Class.tenant_id == principal.tenant_id,
                    Class.school_sourced_id.in_(sorted(admin_schools)),
                    Class.status == ACTIVE,
                )
                .limit(500)
            )
        )
    return timetable.get_classes(session, principal.tenant_id, ids)


def viewable_class(session: Session, principal: Principal, class_sourced_id: str) -> ClassInfo:
    found = timetable.get_class(session, principal.tenant_id, class_sourced_id)
    if found is None:
        raise timetable.NotFoundError(class_sourced_id)
    # Teachers' view of a class (roster, timetable, activity): its teachers and administrators.
    klass = ClassRef(principal.tenant_id, found.sourced_id, found.school_sourced_id)
    if not policy.can_view_class_roster(principal, klass):
        raise timetable.PermissionDeniedError(class_sourced_id)
    return found


def staff_schools(session: Session, principal: Principal) -> list[tuple[str, str]]:
    """(sourcedId, name) of the schools a staff member may address notices to."""
    from tsunagu.roster.models import Org

    ids = set(principal.school_sourced_ids) | {m.school_sourced_id for m in principal.memberships}
    if not ids:
        return []
    rows = session.execute(
        select(Org.sourced_id, Org.name)
        .where(Org.tenant_id == principal.tenant_id, Org.sourced_id.in_(sorted(ids)))
        .order_by(Org.name)
    ).all()
    return [(r[0], r[1]) for r in rows]
