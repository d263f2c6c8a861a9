"""The demo's school days: timetables with subjects and units, notices and some study activity.

Seeded once per demo tenant (when it has no timetable yet), so ``make run`` shows a learner's
home with today's periods, materials to open, notices and a recent-activity list, and teachers a
class activity view with scores. Arithmetic periods carry the sample 計算ドリル (LTI resource links
placed on the period, as a teacher's Deep Linking would), so a period opens the tool at a unit;
the generated history also names the other subjects' (fictional) tools.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, select

from tsunagu.container import Container
from tsunagu.lrs.service import store_with_retry
from tsunagu.lrs.versions import V1
from tsunagu.lti.demo import place_demo_links
from tsunagu.roster.models import ACTIVE, Class, Enrollment, User
from tsunagu.timetable.models import Notice, TimetableSlot
from tsunagu.timetable.service import placement_of

EXT = "https://w3id.org/japan-xapi/extensions/"
VERBS = {
    "launched": "http://adlnet.gov/expapi/verbs/launched",
    "completed": "http://adlnet.gov/expapi/verbs/completed",
    "answered": "http://adlnet.gov/expapi/verbs/answered",
}

LOWER = ["国語", "算数", "生活", "音楽", "図工", "体育", "道徳", "学活"]
MIDDLE = ["国語", "算数", "理科", "社会", "音楽", "図工", "体育", "外国語", "総合", "道徳"]
JUNIOR = ["国語", "数学", "英語", "理科", "社会", "音楽", "美術", "保健体育", "技術", "道徳"]
#: (subject, grade) → unit title; young classes' units in hiragana, as their worksheets are.
UNITS: dict[tuple[str, str], str] = {
    ("国語", "P1"): "ひらがなを かこう",
    ("算数", "P1"): "たしざん",
    ("生活", "P1"): "がっこう たんけん",
    ("国語", "P2"): "スイミー",
    ("算数", "P2"): "かけざん",
    ("生活", "P2"): "やさいを そだてよう",
    ("国語", "P3"): "ちいちゃんのかげおくり",
    ("算数", "P3"): "わり算",
    ("国語", "P4"): "ごんぎつね",
    ("算数", "P4"): "小数のしくみ",
    ("理科", "P4"): "電気のはたらき",
    ("社会", "P4"): "ごみのしょり",
    ("国語", "P5"): "大造じいさんとガン",
    ("算数", "P5"): "分数のたし算とひき算",
    ("理科", "P5"): "流れる水のはたらき",
    ("社会", "P5"): "日本の工業",
    ("国語", "P6"): "やまなし",
    ("算数", "P6"): "比例と反比例",
    ("理科", "P6"): "てこのはたらき",
    ("社会", "P6"): "日本の歴史",
    ("数学", "J1"): "正負の数",
    ("英語", "J1"): "Unit 3 My Town",
    ("数学", "J2"): "連立方程式",
    ("数学", "J3"): "二次方程式",
    ("理科", "J2"): "電流と磁界",
}
#: Subjects whose periods get the sample 計算ドリル.
DRILL_SUBJECTS = ("算数", "数学")
TOOLS = {
    "算数": "さくさくドリル",
    "数学": "さくさくドリル",
    "国語": "デジタル教科書",
    "英語": "デジタル教科書",
    "理科": "しらべ学習ノート",
    "社会": "しらべ学習ノート",
}


@dataclass(frozen=True)
class DemoPortalResult:
    classes: int
    slots: int
    notices: int
    statements: int


def _subjects(grade: str) -> list[str]:
    if grade in ("P1", "P2"):
        return LOWER
    if grade.startswith("P"):
        return [s for s in MIDDLE if s != "外国語" or grade in ("P5", "P6")]
    return JUNIOR


def seed_portal(
    container: Container, tenant_id: int, *, today: date, activity_classes: int | None = None
) -> DemoPortalResult | None:
    """Seed the demo's timetables, notices and activity; None when already seeded.

    ``activity_classes`` limits how many classes get generated statements (the benchmark city
    has timetables everywhere but activity in a sample of classes).
    """
    with container.database.session() as session:
        if session.scalar(
            select(func.count())
            .select_from(TimetableSlot)
            .where(TimetableSlot.tenant_id == tenant_id)
        ):
            return None
        classes = session.execute(
            select(Class.sourced_id, Class.school_sourced_id, Class.grades)
            .where(
                Class.tenant_id == tenant_id, Class.status == ACTIVE, Class.class_type == "homeroom"
            )
            .order_by(Class.sourced_id)
        ).all()
        pupils = session.execute(
            select(Enrollment.class_sourced_id, User.user_master_identifier)
            .join(
                User,
                and_(
                    User.tenant_id == Enrollment.tenant_id,
                    User.sourced_id == Enrollment.user_sourced_id,
                ),
            )
            .where(
                Enrollment.tenant_id == tenant_id,
                Enrollment.role == "student",
                Enrollment.status == ACTIVE,
            )
        ).all()
    members: dict[str, list[str]] = {}
    for class_id, umi in pupils:
        members.setdefault(class_id, []).append(umi)
    rng = random.Random(20260401)  # noqa: S311  (demo data, reproducible on purpose)
    now = datetime.now(UTC)
    base = container.settings.base_url.rstrip("/")
    slot_count = notice_count = 0
    lessons: dict[str, list[tuple[str, str, str, str, str]]] = {}
    with container.database.transaction() as session:
        schools: dict[str, set[str]] = {}
        # Plain multi-row INSERTs: a city has a quarter of a million periods, too many for
        # one ORM object each.
        slot_rows: list[dict[str, Any]] = []
        drill_periods: dict[tuple[str, int, int], str] = {}  # → grade
        for class_id, school_id, grades in classes:
            grade = (grades or "P1").split(",")[0].strip()
            schools.setdefault(school_id, set()).add(grade)
            subjects = _subjects(grade)
            periods = 5 if grade in ("P1", "P2") else 6
            for weekday in range(1, 6):
                day_periods = periods - (1 if weekday == 3 else 0)  # 水曜は短縮
                for period in range(1, day_periods + 1):
                    subject = subjects[(weekday * 7 + period * 3) % len(subjects)]
                    unit = UNITS.get((subject, grade), "")
                    slot_rows.append(
                        {
                            "tenant_id": tenant_id,
                            "class_sourced_id": class_id,
                            "weekday": weekday,
                            "period": period,
                            "subject": subject,
                            "unit_title": unit,
                            "updated_at": now,
                            "updated_by": None,
                        }
                    )
                    if subject in DRILL_SUBJECTS:
                        # The sample 計算ドリル is placed on arithmetic periods, as a teacher's
                        # Deep Linking would (it is what a period opens in ``make run``).
                        drill_periods[(class_id, weekday, period)] = grade
                    tool = TOOLS.get(subject)
                    if tool and unit and subject not in DRILL_SUBJECTS:
                        link = f"demo-{class_id[:8]}-{subject}"
                        lessons.setdefault(class_id, []).append(
                            (subject, unit, link, f"{unit}（{tool}）", tool)
                        )
        for chunk in range(0, len(slot_rows), 5000):
            session.execute(insert(TimetableSlot), slot_rows[chunk : chunk + 5000])
        slot_count = len(slot_rows)
        t = TimetableSlot
        wanted = [
            (row[1], placement_of(row[0]), drill_periods[(row[1], row[2], row[3])])
            for row in session.execute(
                select(t.id, t.class_sourced_id, t.weekday, t.period).where(
                    t.tenant_id == tenant_id
                )
            )
            if (row[1], row[2], row[3]) in drill_periods
        ]
        placed = place_demo_links(session, tenant_id, wanted)
        seen: set[str] = set()
        for class_id, placement, _ in wanted:
            if placement in placed and class_id not in seen:
                seen.add(class_id)
                link, title = placed[placement]
                lessons.setdefault(class_id, []).append(("算数", title, link, title, "計算ドリル"))
        for school_id, grades_here in schools.items():
            session.add(
                _notice(
                    tenant_id,
                    "school",
                    school_id,
                    None,
                    None,
                    "あしたは ひなんくんれんです",
                    "2時間目に 校庭へ ひなんします。",
                    today,
                    today + timedelta(days=1),
                    now,
                )
            )
            for grade in sorted(grades_here)[:2]:
                session.add(
                    _notice(
                        tenant_id,
                        "grade",
                        school_id,
                        None,
                        grade,
                        "しゃかいかけんがくの おしらせ",
                        "もちものを かくにんしましょう。",
                        today,
                        today + timedelta(days=6),
                        now,
                    )
                )
                notice_count += 1
            notice_count += 1
        for class_id, _school_id, _grades in classes[:10]:
            session.add(
                _notice(
                    tenant_id,
                    "class",
                    _school_id,
                    class_id,
                    None,
                    "しゅくだいの プリント",
                    "あしたまでに だしてください。",
                    today - timedelta(days=1),
                    today + timedelta(days=2),
                    now,
                )
            )
            notice_count += 1

    statements = 0
    authority = {"objectType": "Agent", "account": {"homePage": base, "name": "tsunagu"}}
    # Homeroom classes with lessons only (pupils' other classes have no timetable here).
    active = [class_id for class_id in sorted(members) if class_id in lessons]
    if activity_classes is not None:
        active = active[:activity_classes]
    for class_id in active:
        umis = members[class_id]
        class_lessons = lessons.get(class_id)
        if not class_lessons:
            continue
        batch: list[dict[str, Any]] = []
        for umi in umis:
            for _ in range(rng.randint(2, 5)):
                subject, unit, link, title, tool = rng.choice(class_lessons)
                when = now - timedelta(days=rng.randint(0, 6), minutes=rng.randint(0, 400))
                batch.append(
                    _statement(base, umi, "launched", link, title, subject, unit, tool, when)
                )
                if rng.random() < 0.7:
                    raw = rng.randint(5, 10)
                    batch.append(
                        _statement(
                            base,
                            umi,
                            "completed",
                            link,
                            title,
                            subject,
                            unit,
                            tool,
                            when + timedelta(minutes=12),
                            (raw, 10),
                        )
                    )
        batch.sort(key=lambda s: s["timestamp"])
        store_with_retry(
            container,
            tenant_id=tenant_id,
            credential_id=None,
            authority=authority,
            statements=batch,
            version=V1,
        )
        statements += len(batch)
    return DemoPortalResult(len(classes), slot_count, notice_count, statements)


def _notice(
    tenant_id: int,
    audience: str,
    school: str,
    klass: str | None,
    grade: str | None,
    title: str,
    body: str,
    starts: date,
    ends: date,
    now: datetime,
) -> Notice:
    return Notice(
        tenant_id=tenant_id,
        audience=audience,
        school_sourced_id=school,
        class_sourced_id=klass,
        grade=grade,
        title=title,
        body=body,
        starts_on=starts,
        ends_on=ends,
        author_sourced_id="demo",
        author_name="つなぐ市 デモ",
        created_at=now,
    )


def _statement(
    base: str,
    umi: str,
    verb: str,
    link: str,
    title: str,
    subject: str,
    unit: str,
    tool: str,
    when: datetime,
    score: tuple[int, int] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": base, "name": umi}},
        "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"{base}/lti/resource-links/{link}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/link",
                "name": {"ja-JP": title},
                "description": {"ja-JP": tool},
            },
        },
        "context": {
            "language": "ja-JP",
            "platform": "Tsunagu",
            "extensions": {EXT + "subject": [subject], EXT + "unit": [unit]},
        },
        "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "version": "1.0.3",
    }
    if score:
        statement["result"] = {
            "completion": True,
            "score": {"raw": score[0], "min": 0, "max": score[1], "scaled": score[0] / score[1]},
        }
    return statement
