"""A deterministic fictitious municipality, written as a OneRoster 1.2 Japan Profile package.

``generate_roster`` writes つなぐ市 (a board of education, its 小学校 and 中学校, the school year,
courses, homeroom and scheduled classes, pupils and teachers, roles and enrollments) as a bulk
package; ``generate_delta`` writes a mid-year delta against the same municipality (transfers, new
pupils, withdrawals, a renamed class, a change of 担任). Used by the demo, the test suite and the
import benchmark. Every value follows eportal-standard.md §4.

Determinism: the same :class:`GeneratorConfig` gives the same bytes. All randomness comes from
``random.Random`` instances seeded from the config, one per school and per aspect (structure,
people, roles, enrollments), so any school can be regenerated on its own.

Memory stays small at any size: the package is written file by file, and each file's rows are
produced school by school (a school is at most a few thousand rows); nothing holds the whole
municipality. The price is that a school's people are generated once per file that needs them.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from itertools import accumulate
from pathlib import Path

from tsunagu.roster.csv.codes import make_school_code, prefecture_of_board
from tsunagu.roster.csv.layouts import LAYOUTS, REQUIRED_FILES, Profile
from tsunagu.roster.csv.writer import PackageWriter, manifest_rows
from tsunagu.roster.sample_names import (
    ADULT_GIVEN_NAMES,
    BOYS_GIVEN_NAMES,
    FAMILY_NAMES,
    FOREIGN_FAMILY_NAMES,
    FOREIGN_GIVEN_NAMES,
    GIRLS_GIVEN_NAMES,
    SCHOOL_PLACES,
    SCHOOL_SUFFIXES,
)

#: ``(file name, rows done so far)``, the importer's progress signature.
ProgressCallback = Callable[[str, int], None]
Row = dict[str, str]

MUNICIPALITY = "つなぐ市"
DISTRICT_NAME = f"{MUNICIPALITY}教育委員会"
#: 13 = 東京都; 9999 cannot clash with a real 区市町村 (they run 100–4xx).
DEFAULT_BOARD_CODE = "139999"
DEFAULT_SCHOOL_YEAR = 2026
MAIL_DOMAIN = "tsunagu.example.jp"
#: 公立義務教育諸学校の学級編制: at most 35 pupils in a class.
MAX_CLASS_SIZE = 35
#: The files a roster package carries, in the order they are written (every reference points back).
PACKAGE_FILES = ("orgs", "academicSessions", "courses", "classes", "users", "roles", "enrollments")
#: Report progress at most this often (rows).
_PROGRESS_EVERY = 5000
#: Share of pupils with a foreign name, written in katakana.
_FOREIGN_NAME_SHARE = 0.015


@dataclass(frozen=True)
class Subject:
    code: str  # APPLIC subjectCode
    name: str
    grades: tuple[int, ...]


class SchoolKind(Enum):
    ELEMENTARY = "elementary"
    JUNIOR_HIGH = "junior_high"

    @property
    def school_type(self) -> str:
        """学校種 in the 学校コード."""
        return "B1" if self is SchoolKind.ELEMENTARY else "C1"

    @property
    def grade_prefix(self) -> str:
        return "P" if self is SchoolKind.ELEMENTARY else "J"

    @property
    def grade_count(self) -> int:
        return 6 if self is SchoolKind.ELEMENTARY else 3

    @property
    def name_suffix(self) -> str:
        return "小学校" if self is SchoolKind.ELEMENTARY else "中学校"

    @property
    def slug_suffix(self) -> str:
        return "es" if self is SchoolKind.ELEMENTARY else "jhs"


_ALL6 = (1, 2, 3, 4, 5, 6)
_ALL3 = (1, 2, 3)
#: APPLIC subject codes and names (eportal-standard.md §4.5) and the grades that study them.
SUBJECTS: dict[SchoolKind, tuple[Subject, ...]] = {
    SchoolKind.ELEMENTARY: (
        Subject("P010", "国語", _ALL6),
        Subject("P020", "社会", (3, 4, 5, 6)),
        Subject("P030", "算数", _ALL6),
        Subject("P040", "理科", (3, 4, 5, 6)),
        Subject("P050", "生活", (1, 2)),
        Subject("P060", "音楽", _ALL6),
        Subject("P070", "図画工作", _ALL6),
        Subject("P080", "家庭", (5, 6)),
        Subject("P090", "体育", _ALL6),
        Subject("P100", "外国語", (5, 6)),
    ),
    SchoolKind.JUNIOR_HIGH: (
        Subject("J010", "国語", _ALL3),
        Subject("J020", "社会", _ALL3),
        Subject("J030", "数学", _ALL3),
        Subject("J040", "理科", _ALL3),
        Subject("J050", "音楽", _ALL3),
        Subject("J060", "美術", _ALL3),
        Subject("J070", "保健体育", _ALL3),
        Subject("J080", "技術・家庭", _ALL3),
        Subject("J090", "外国語", _ALL3),
    ),
}
_SUBJECT_BY_CODE = {s.code: s for subjects in SUBJECTS.values() for s in subjects}


def scheduled_subjects(kind: SchoolKind, grade: int) -> tuple[Subject, ...]:
    """The three subjects taught as scheduled classes (授業クラス) in a grade.

    Each pupil is enrolled in the homeroom and these three, so a pupil has four enrollments.
    """
    if kind is SchoolKind.JUNIOR_HIGH:
        codes = ("J010", "J030", "J090")
    else:
        third = {1: "P050", 2: "P050", 3: "P040", 4: "P040"}.get(grade, "P100")
        codes = ("P010", "P030", third)
    return tuple(_SUBJECT_BY_CODE[c] for c in codes)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The same config always gives the same package."""

    students: int = 600
    seed: int = 1
    profile: Profile = Profile.V4
    board_code: str = DEFAULT_BOARD_CODE
    school_year: int = DEFAULT_SCHOOL_YEAR
    #: School counts; ``None`` derives them from the size (villages have small schools).
    elementary_schools: int | None = None
    junior_high_schools: int | None = None

    def __post_init__(self) -> None:
        if self.students < 1:
            raise ValueError("a municipality needs at least one pupil")
        if not 2000 <= self.school_year <= 2999:
            raise ValueError(f"school year {self.school_year} is not a 西暦 year")
        prefecture_of_board(self.board_code)  # validates
        for count in (self.elementary_schools, self.junior_high_schools):
            if count is not None and not 0 <= count <= 999:
                raise ValueError("between 0 and 999 schools of a kind")


def uuid4_from(rng: random.Random) -> str:
    """A lowercase UUID v4 from the seeded RNG.

    Same value as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, twice as fast, which
    matters for the two million identifiers of a city.
    """
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _rng(config: GeneratorConfig, *scope: object) -> random.Random:
    # A string seed is hashed with SHA-512 by random.seed: stable across runs and platforms,
    # independent of PYTHONHASHSEED. Fictitious data, not secrets, so not the `secrets` module.
    seed = "/".join(["tsunagu-roster", str(config.seed), *map(str, scope)])
    return random.Random(seed)  # noqa: S311


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder, so the parts add up)."""
    if not weights:
        return []
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def class_sizes(pupils: int) -> list[int]:
    """Homeroom sizes for a grade: as few classes as the 35-pupil limit allows, evenly filled."""
    if pupils <= 0:
        return []
    count = math.ceil(pupils / MAX_CLASS_SIZE)
    return [pupils // count + (1 if i < pupils % count else 0) for i in range(count)]


def _default_school_count(pupils: int, small: float, large: float) -> int:
    # Schools grow with the municipality: a village school has ~30 pupils a grade, a city school
    # ~90 (横浜市: ~340 小学校 for ~180,000 pupils).
    if pupils <= 0:
        return 0
    typical = small + (large - small) * (1 - math.exp(-pupils / 5000))
    return max(1, min(999, pupils, round(pupils / typical)))


def _kanji_number(n: int) -> str:
    digits = "〇一二三四五六七八九"
    out = ""
    for value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, value)
        if q:
            out += ("" if q == 1 else digits[q]) + unit
    return out + (digits[n] if n else "")


@dataclass(frozen=True)
class SchoolPlan:
    index: int  # position among all schools
    kind: SchoolKind
    sourced_id: str
    code: str
    name: str
    slug: str
    #: Pupils per grade (index 0 = first grade).
    grade_sizes: tuple[int, ...]

    @property
    def pupils(self) -> int:
        return sum(self.grade_sizes)

    @property
    def domain(self) -> str:
        return f"{self.slug}.{MAIL_DOMAIN}"

    def grade_code(self, grade: int) -> str:
        return f"{self.kind.grade_prefix}{grade}"

    @property
    def homerooms(self) -> int:
        return sum(len(class_sizes(n)) for n in self.grade_sizes)


@dataclass(frozen=True)
class MunicipalityPlan:
    """The municipality's skeleton: cheap, small, and the same every time for a config."""

    config: GeneratorConfig
    district_id: str
    session_id: str
    schools: tuple[SchoolPlan, ...]

    @property
    def year(self) -> int:
        return self.config.school_year

    @property
    def begin_date(self) -> str:
        return f"{self.year}-04-01"

    @property
    def end_date(self) -> str:
        return f"{self.year + 1}-03-31"


def plan_municipality(config: GeneratorConfig) -> MunicipalityPlan:
    rng = _rng(config, "plan")
    district_id = uuid4_from(rng)
    session_id = uuid4_from(rng)
    prefecture = prefecture_of_board(config.board_code)
    # Six grades of 小学校 against three of 中学校, the same number of pupils in each grade.
    elementary_pupils = round(config.students * 6 / 9)
    counts = {
        SchoolKind.ELEMENTARY: (
            elementary_pupils,
            config.elementary_schools
            if config.elementary_schools is not None
            else _default_school_count(elementary_pupils, 180, 530),
        ),
        SchoolKind.JUNIOR_HIGH: (
            config.students - elementary_pupils,
            config.junior_high_schools
            if config.junior_high_schools is not None
            else _default_school_count(config.students - elementary_pupils, 220, 620),
        ),
    }
    if counts[SchoolKind.ELEMENTARY][1] == 0 and counts[SchoolKind.JUNIOR_HIGH][1] == 0:
        raise ValueError("a municipality needs at least one school")
    # Pupils of a kind with no school of that kind go to the other kind.
    if counts[SchoolKind.JUNIOR_HIGH][1] == 0:
        counts[SchoolKind.ELEMENTARY] = (config.students, counts[SchoolKind.ELEMENTARY][1])
        counts[SchoolKind.JUNIOR_HIGH] = (0, 0)
    elif counts[SchoolKind.ELEMENTARY][1] == 0:
        counts[SchoolKind.JUNIOR_HIGH] = (config.students, counts[SchoolKind.JUNIOR_HIGH][1])
        counts[SchoolKind.ELEMENTARY] = (0, 0)

    places = list(SCHOOL_PLACES)
    schools: list[SchoolPlan] = []
    for kind, (pupils, school_count) in counts.items():
        rng.shuffle(places)
        names = [
            (p + s, f"{pr}-{sr}" if sr else pr) for s, sr in SCHOOL_SUFFIXES for p, pr in places
        ]
        sizes = _split(pupils, [rng.uniform(0.6, 1.4) for _ in range(school_count)])
        for number, school_pupils in enumerate(sizes, start=1):
            if number <= len(names):
                base, slug = names[number - 1]
            else:
                base, slug = f"第{_kanji_number(number)}", f"no{number}"
            grades = _split(school_pupils, [rng.uniform(0.9, 1.1) for _ in range(kind.grade_count)])
            # Serial: the board's own four digits, then the school's number in its kind.
            serial = int(config.board_code[2:]) * 1000 + number
            schools.append(
                SchoolPlan(
                    index=len(schools),
                    kind=kind,
                    sourced_id=uuid4_from(rng),
                    code=make_school_code(kind.school_type, prefecture, serial),
                    name=f"{MUNICIPALITY}立{base}{kind.name_suffix}",
                    slug=f"{slug}-{kind.slug_suffix}",
                    grade_sizes=tuple(grades),
                )
            )
    return MunicipalityPlan(
        config=config, district_id=district_id, session_id=session_id, schools=tuple(schools)
    )


# ---------------------------------------------------------------------------------------------
# One school


@dataclass(frozen=True)
class ClassInfo:
    sourced_id: str
    title: str
    grade: str
    course_id: str
    class_type: str  # homeroom | scheduled
    subject: Subject | None


@dataclass(frozen=True)
class Homeroom:
    info: ClassInfo
    grade: int
    number: int  # the 組
    size: int
    #: The scheduled classes of this homeroom's pupils, one per scheduled subject.
    scheduled: tuple[ClassInfo, ...]


@dataclass(frozen=True)
class CourseInfo:
    sourced_id: str
    grade: str
    subject: Subject | None  # None: the homeroom course


@dataclass(frozen=True)
class SchoolStructure:
    courses: tuple[CourseInfo, ...]
    homerooms: tuple[Homeroom, ...]

    def classes(self) -> Iterator[ClassInfo]:
        for homeroom in self.homerooms:
            yield homeroom.info
            yield from homeroom.scheduled


@dataclass(frozen=True)
class Person:
    sourced_id: str
    master_id: str  # userMasterIdentifier
    username: str
    google_id: str
    family: str
    given: str
    kana_family: str
    kana_given: str
    org_id: str  # primaryOrgSourcedId
    role: str  # student | teacher
    grade: str = ""
    home_class: str = ""
    #: A ``secondary`` role besides the primary one (principal, siteAdministrator, …).
    secondary: str = ""


@dataclass
class SchoolPeople:
    teachers: list[Person]
    #: Pupils of each homeroom (same order as ``SchoolStructure.homerooms``) in 出席番号 order.
    pupils: list[list[Person]]
    #: Class sourcedId -> the teacher in charge (担任 of a homeroom, teacher of a scheduled class).
    teacher_of: dict[str, Person] = field(default_factory=dict)
    #: Homeroom sourcedId -> 副担任 (junior high: one per grade), enrolled with primary=false.
    assistant_of: dict[str, Person] = field(default_factory=dict)


def _person_name(rng: random.Random, *, pupil: bool) -> tuple[str, str, str, str]:
    """``(family, given, kana_family, kana_given)``."""
    if pupil and rng.random() < _FOREIGN_NAME_SHARE:
        family, kana_family = rng.choice(FOREIGN_FAMILY_NAMES)
        given, kana_given = rng.choice(FOREIGN_GIVEN_NAMES)
    else:
        family, kana_family = rng.choice(FAMILY_NAMES)
        if pupil:
            given, kana_given = rng.choice(
                BOYS_GIVEN_NAMES if rng.random() < 0.5 else GIRLS_GIVEN_NAMES
            )
        else:
            given, kana_given = rng.choice(ADULT_GIVEN_NAMES)
    return family, given, kana_family, kana_given


def make_person(
    rng: random.Random,
    *,
    username: str,
    org_id: str,
    role: str,
    grade: str = "",
    home_class: str = "",
    secondary: str = "",
) -> Person:
    sourced_id = uuid4_from(rng)
    master_id = uuid4_from(rng)
    google_id = str(rng.randrange(10**20, 10**21))  # Google account ids have 21 digits
    family, given, kana_family, kana_given = _person_name(rng, pupil=role == "student")
    return Person(
        sourced_id=sourced_id,
        master_id=master_id,
        username=username,
        google_id=google_id,
        family=family,
        given=given,
        kana_family=kana_family,
        kana_given=kana_given,
        org_id=org_id,
        role=role,
        grade=grade,
        home_class=home_class,
        secondary=secondary,
    )


def pupil_username(school: SchoolPlan, entry_year: int, serial: int) -> str:
    # Accounts live as long as the pupil stays: the year is the 入学年度, the serial the school's.
    return f"s{entry_year}{serial:05d}@{school.domain}"


def teacher_username(school: SchoolPlan, serial: int) -> str:
    return f"t{serial:05d}@{school.domain}"


def kana_order(pupils: Iterable[Person]) -> list[Person]:
    """出席番号 order: by kana family name, then kana given name (code point order)."""
    return sorted(
        pupils, key=lambda p: (p.kana_family, p.kana_given, p.family, p.given, p.sourced_id)
    )


class SchoolGenerator:
    """Everything about one school, regenerated from its own seeded streams on demand."""

    def __init__(self, plan: MunicipalityPlan, school: SchoolPlan) -> None:
        self.plan = plan
        self.school = school

    def _stream(self, aspect: str) -> random.Random:
        return _rng(self.plan.config, "school", self.school.index, aspect)

    @cached_property
    def structure(self) -> SchoolStructure:
        rng = self._stream("structure")
        school = self.school
        courses: list[CourseInfo] = []
        homerooms: list[Homeroom] = []
        for grade, pupils in enumerate(school.grade_sizes, start=1):
            if pupils == 0:
                continue
            code = school.grade_code(grade)
            homeroom_course = CourseInfo(uuid4_from(rng), code, None)
            courses.append(homeroom_course)
            subject_course: dict[str, CourseInfo] = {}
            for subject in SUBJECTS[school.kind]:
                if grade in subject.grades:
                    course = CourseInfo(uuid4_from(rng), code, subject)
                    courses.append(course)
                    subject_course[subject.code] = course
            for number, size in enumerate(class_sizes(pupils), start=1):
                title = f"{grade}年{number}組"
                info = ClassInfo(
                    uuid4_from(rng), title, code, homeroom_course.sourced_id, "homeroom", None
                )
                scheduled = tuple(
                    ClassInfo(
                        uuid4_from(rng),
                        f"{title}{subject.name}",
                        code,
                        subject_course[subject.code].sourced_id,
                        "scheduled",
                        subject,
                    )
                    for subject in scheduled_subjects(school.kind, grade)
                )
                homerooms.append(Homeroom(info, grade, number, size, scheduled))
        return SchoolStructure(tuple(courses), tuple(homerooms))

    @cached_property
    def people(self) -> SchoolPeople:
        rng = self._stream("people")
        school = self.school
        homerooms = self.structure.homerooms
        teacher_serial = 0

        def hire(**kwargs: str) -> Person:
            nonlocal teacher_serial
            teacher_serial += 1
            return make_person(
                rng,
                username=teacher_username(school, teacher_serial),
                org_id=school.sourced_id,
                role="teacher",
                **kwargs,
            )

        teachers = [hire(secondary="principal"), hire(secondary="siteAdministrator")]  # 校長, 教頭
        people = SchoolPeople(teachers=teachers, pupils=[])
        homeroom_teachers = [hire(home_class=h.info.sourced_id) for h in homerooms]  # 担任
        teachers += homeroom_teachers
        for homeroom, teacher in zip(homerooms, homeroom_teachers, strict=True):
            people.teacher_of[homeroom.info.sourced_id] = teacher

        if school.kind is SchoolKind.ELEMENTARY:
            # 担任 teach their own class; 専科 teachers (one per six classes) take the third
            # subject from the third grade up.
            specialists = [hire() for _ in range(len(homerooms) // 6)]
            teachers += specialists
            for i, (homeroom, teacher) in enumerate(zip(homerooms, homeroom_teachers, strict=True)):
                for cls in homeroom.scheduled:
                    by_specialist = cls is homeroom.scheduled[-1] and homeroom.grade >= 3
                    people.teacher_of[cls.sourced_id] = (
                        specialists[i % len(specialists)]
                        if by_specialist and specialists
                        else teacher
                    )
        else:
            # Every 中学校 teacher has a subject; a subject teacher takes about five classes.
            subject_cycle = SUBJECTS[school.kind]
            by_subject: dict[str, list[Person]] = {}
            for i, teacher in enumerate(homeroom_teachers):
                by_subject.setdefault(subject_cycle[i % len(subject_cycle)].code, []).append(
                    teacher
                )
            needed = math.ceil(len(homerooms) / 5)
            for subject in scheduled_subjects(school.kind, 1):
                staff = by_subject.setdefault(subject.code, [])
                while len(staff) < needed:
                    hire_ = hire()
                    teachers.append(hire_)
                    staff.append(hire_)
                position = 0
                for homeroom in homerooms:
                    for cls in homeroom.scheduled:
                        if cls.subject is subject:
                            people.teacher_of[cls.sourced_id] = staff[position % len(staff)]
                            position += 1
            # 学年付き: one 副担任 per grade, in every homeroom of the grade.
            for grade in sorted({h.grade for h in homerooms}):
                assistant = hire()
                teachers.append(assistant)
                for homeroom in homerooms:
                    if homeroom.grade == grade:
                        people.assistant_of[homeroom.info.sourced_id] = assistant
        # 養護教諭, 少人数指導, 講師 and others without classes of their own.
        teachers += [hire() for _ in range(math.ceil(len(homerooms) / 2))]

        pupil_serial = 0
        for homeroom in homerooms:
            entry_year = self.plan.year - homeroom.grade + 1
            members = []
            for _ in range(homeroom.size):
                pupil_serial += 1
                members.append(
                    make_person(
                        rng,
                        username=pupil_username(school, entry_year, pupil_serial),
                        org_id=school.sourced_id,
                        role="student",
                        grade=school.grade_code(homeroom.grade),
                        home_class=homeroom.info.sourced_id,
                    )
                )
            people.pupils.append(kana_order(members))
        return people

    def all_people(self) -> Iterator[Person]:
        yield from self.people.teachers
        for members in self.people.pupils:
            yield from members

    # -- rows --------------------------------------------------------------------------------

    def course_rows(self) -> Iterator[Row]:
        for course in self.structure.courses:
            yield course_row(self.plan, self.school, course)

    def class_rows(self) -> Iterator[Row]:
        for cls in self.structure.classes():
            yield class_row(self.plan, self.school, cls)

    def user_rows(self) -> Iterator[Row]:
        for person in self.all_people():
            yield user_row(person)

    def role_rows(self) -> Iterator[Row]:
        rng = self._stream("roles")
        for person in self.all_people():
            yield from role_rows(rng, person)

    def enrollment_rows(self, profile: Profile) -> Iterator[Row]:
        rng = self._stream("enrollments")
        people = self.people
        make = EnrollmentMaker(self.plan, self.school, profile)
        for homeroom, members in zip(self.structure.homerooms, people.pupils, strict=True):
            home_id = homeroom.info.sourced_id
            yield make(rng, home_id, people.teacher_of[home_id], primary=True)
            if home_id in people.assistant_of:
                yield make(rng, home_id, people.assistant_of[home_id], primary=False)
            for number, pupil in enumerate(members, start=1):
                yield make(rng, home_id, pupil, primary=False, shusseki_no=number)
            for cls in homeroom.scheduled:
                yield make(rng, cls.sourced_id, people.teacher_of[cls.sourced_id], primary=True)
                for pupil in members:
                    yield make(rng, cls.sourced_id, pupil, primary=False)


# ---------------------------------------------------------------------------------------------
# Rows (dicts keyed by CSV column; PackageWriter writes missing keys as empty values)


def column_for(file_name: str, attribute: str, profile: Profile) -> str:
    """The profile's CSV column for a model attribute (e.g. ``shusseki_no`` per spelling)."""
    layout = LAYOUTS[file_name]
    for column in layout.columns[profile]:
        if layout.attributes.get(column) == attribute:
            return column
    raise KeyError(f"{file_name}.{attribute} has no column in profile {profile}")


def district_row(plan: MunicipalityPlan) -> Row:
    return {
        "sourcedId": plan.district_id,
        "name": DISTRICT_NAME,
        "type": "district",
        "identifier": plan.config.board_code,
    }


def school_row(plan: MunicipalityPlan, school: SchoolPlan) -> Row:
    return {
        "sourcedId": school.sourced_id,
        "name": school.name,
        "type": "school",
        "identifier": school.code,
        "parentSourcedId": plan.district_id,
    }


def session_row(plan: MunicipalityPlan) -> Row:
    return {
        "sourcedId": plan.session_id,
        "title": f"{plan.year}年度",
        "type": "schoolYear",
        "startDate": plan.begin_date,
        "endDate": plan.end_date,
        "schoolYear": str(plan.year),
    }


def course_row(plan: MunicipalityPlan, school: SchoolPlan, course: CourseInfo) -> Row:
    subject = course.subject
    return {
        "sourcedId": course.sourced_id,
        "schoolYearSourcedId": plan.session_id,
        "title": f"{plan.year}年度{subject.name if subject else 'ホームルーム'}",
        "grades": course.grade,
        "orgSourcedId": school.sourced_id,
        "subjects": subject.name if subject else "",
        "subjectCodes": subject.code if subject else "",
    }


def class_row(plan: MunicipalityPlan, school: SchoolPlan, cls: ClassInfo) -> Row:
    return {
        "sourcedId": cls.sourced_id,
        "title": cls.title,
        "grades": cls.grade,
        "courseSourcedId": cls.course_id,
        "classType": cls.class_type,
        "schoolSourcedId": school.sourced_id,
        "termSourcedIds": plan.session_id,
        "subjects": cls.subject.name if cls.subject else "",
        "subjectCodes": cls.subject.code if cls.subject else "",
        "metadata.jp.specialNeeds": "false",
    }


def user_row(person: Person) -> Row:
    # Every profile's columns are filled; the writer keeps those of the chosen profile.
    return {
        "sourcedId": person.sourced_id,
        "enabledUser": "true",
        "username": person.username,
        "userIds": f"{{Google:{person.google_id}}}",
        "givenName": person.given,
        "familyName": person.family,
        "grades": person.grade,
        "userMasterIdentifier": person.master_id,
        "preferredGivenName": person.given,
        "preferredFamilyName": person.family,
        "primaryOrgSourcedId": person.org_id,
        "metadata.jp.kanaGivenName": person.kana_given,
        "metadata.jp.kanaFamilyName": person.kana_family,
        "metadata.jp.homeClass": person.home_class,
        "metadata.jp.kanaPreferredFamilyName": person.kana_family,
        "metadata.jp.kanaPreferredGivenName": person.kana_given,
    }


def role_rows(rng: random.Random, person: Person) -> list[Row]:
    rows = [
        {
            "sourcedId": uuid4_from(rng),
            "userSourcedId": person.sourced_id,
            "roleType": "primary",
            "role": person.role,
            "orgSourcedId": person.org_id,
        }
    ]
    if person.secondary:
        rows.append(
            {
                "sourcedId": uuid4_from(rng),
                "userSourcedId": person.sourced_id,
                "roleType": "secondary",
                "role": person.secondary,
                "orgSourcedId": person.org_id,
            }
        )
    return rows


class EnrollmentMaker:
    """Builds enrollment rows for one school in one profile (出席番号 spelling differs)."""

    def __init__(self, plan: MunicipalityPlan, school: SchoolPlan, profile: Profile) -> None:
        self.school_id = school.sourced_id
        self.begin = plan.begin_date
        self.end = plan.end_date
        self.shusseki_column = column_for("enrollments", "shusseki_no", profile)

    def __call__(
        self,
        rng: random.Random,
        class_id: str,
        person: Person,
        *,
        primary: bool,
        shusseki_no: int | None = None,
        begin: str | None = None,
    ) -> Row:
        row = {
            "sourcedId": uuid4_from(rng),
            "classSourcedId": class_id,
            "schoolSourcedId": self.school_id,
            "userSourcedId": person.sourced_id,
            "role": person.role,
            # Pupils are never primary (K社 ib1082); the teacher in charge is.
            "primary": "true" if primary else "false",
            "beginDate": begin or self.begin,
            "endDate": self.end,
        }
        if shusseki_no is not None:
            row[self.shusseki_column] = str(shusseki_no)
        return row


def district_admin(plan: MunicipalityPlan) -> Person:
    """The board's one 指導主事 with districtAdministrator rights."""
    rng = _rng(plan.config, "district", "people")
    return make_person(
        rng,
        username=f"t00001@board.{MAIL_DOMAIN}",
        org_id=plan.district_id,
        role="teacher",
        secondary="districtAdministrator",
    )


def district_role_rows(plan: MunicipalityPlan) -> list[Row]:
    return role_rows(_rng(plan.config, "district", "roles"), district_admin(plan))


# ---------------------------------------------------------------------------------------------
# Bulk package


@dataclass(frozen=True)
class GenerationSummary:
    path: Path
    profile: Profile
    schools: int
    counts: dict[str, int]


def _counted(
    file_name: str, rows: Iterable[Row], progress: ProgressCallback | None
) -> Iterator[Row]:
    if progress is None:
        yield from rows
        return
    done = 0
    progress(file_name, 0)
    for row in rows:
        yield row
        done += 1
        if done % _PROGRESS_EVERY == 0:
            progress(file_name, done)
    progress(file_name, done)


def bulk_rows(plan: MunicipalityPlan, file_name: str, profile: Profile) -> Iterator[Row]:
    """All rows of one file of the bulk package, produced school by school."""
    schools = plan.schools
    if file_name == "orgs":
        yield district_row(plan)
        for school in schools:
            yield school_row(plan, school)
    elif file_name == "academicSessions":
        yield session_row(plan)
    elif file_name == "users":
        yield user_row(district_admin(plan))
        for school in schools:
            yield from SchoolGenerator(plan, school).user_rows()
    elif file_name == "roles":
        yield from district_role_rows(plan)
        for school in schools:
            yield from SchoolGenerator(plan, school).role_rows()
    else:
        for school in schools:
            generator = SchoolGenerator(plan, school)
            if file_name == "courses":
                yield from generator.course_rows()
            elif file_name == "classes":
                yield from generator.class_rows()
            elif file_name == "enrollments":
                yield from generator.enrollment_rows(profile)
            else:
                raise ValueError(f"the generator does not write {file_name}")


def generate_roster(
    config: GeneratorConfig, target: Path, *, progress: ProgressCallback | None = None
) -> GenerationSummary:
    """Write the bulk package of ``config``'s municipality to ``target`` (``.zip`` or a folder)."""
    plan = plan_municipality(config)
    profile = config.profile
    counts: dict[str, int] = {}
    with PackageWriter(target) as package:
        package.write_manifest(manifest_rows(profile, dict.fromkeys(PACKAGE_FILES, "bulk")))
        for file_name in PACKAGE_FILES:
            rows = _counted(file_name, bulk_rows(plan, file_name, profile), progress)
            counts[file_name] = package.write_file(file_name, profile, rows)
    return GenerationSummary(path=target, profile=profile, schools=len(plan.schools), counts=counts)


# ---------------------------------------------------------------------------------------------
# Delta package

#: Default time stamp of a delta: the first day of the second term.
DEFAULT_DELTA_MODIFIED = "{year}-09-01T00:00:00.000Z"
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z")
#: Enrollments one change touches (a pupil has four: homeroom and three scheduled classes).
_PUPIL_ENROLLMENTS = 4


@dataclass(frozen=True)
class DeltaSummary:
    path: Path
    profile: Profile
    modified_at: str
    transfers: int
    new_pupils: int
    withdrawals: int
    renamed_classes: int
    homeroom_teacher_changes: int
    counts: dict[str, int]
    #: Enrollment rows in the delta against enrollments in the bulk package.
    changed_enrollments: int
    base_enrollments: int


@dataclass(frozen=True)
class _PupilRef:
    school: SchoolPlan
    position: int  # index among the school's pupils in generation order


@dataclass(frozen=True)
class _Seat:
    """Where an arriving pupil goes: a school, a grade and the homeroom's index in that grade."""

    school: SchoolPlan
    grade: int
    number: int  # 1-based 組


def _grade_of_position(school: SchoolPlan, position: int) -> int:
    for grade, end in enumerate(accumulate(school.grade_sizes), start=1):
        if position < end:
            return grade
    raise IndexError(position)


def _homeroom_at(structure: SchoolStructure, grade: int, number: int) -> Homeroom:
    for homeroom in structure.homerooms:
        if homeroom.grade == grade and homeroom.number == number:
            return homeroom
    raise LookupError(f"no {grade}年{number}組")


def base_enrollment_count(plan: MunicipalityPlan) -> int:
    """Enrollments of the bulk package, counted from the plan without generating it."""
    total = 0
    for school in plan.schools:
        homerooms = school.homerooms
        per_homeroom_teachers = 1 + len(scheduled_subjects(school.kind, 1))
        assistants = homerooms if school.kind is SchoolKind.JUNIOR_HIGH else 0
        total += school.pupils * _PUPIL_ENROLLMENTS + homerooms * per_homeroom_teachers + assistants
    return total


class _DeltaBuilder:
    """Collects the rows of a delta package; the package is small (about 1% of the roster)."""

    def __init__(self, plan: MunicipalityPlan, change_ratio: float, modified_at: str) -> None:
        self.plan = plan
        self.profile = plan.config.profile
        self.rng = _rng(plan.config, "delta", f"{change_ratio:.6f}", modified_at)
        self.modified_at = modified_at
        self.change_date = modified_at[:10]
        self.rows: dict[str, list[Row]] = {name: [] for name in PACKAGE_FILES}
        #: Pupils moving to another school, with their role rows, re-seated after the walk.
        self.moving: list[tuple[Person, _Seat, list[Row]]] = []
        #: Next 出席番号 per homeroom sourcedId (arrivals get the numbers after the last pupil).
        self._next_number: dict[str, int] = {}
        #: Next pupil serial per school (usernames of arrivals continue the school's numbering).
        self._next_serial: dict[int, int] = {}

    def emit(self, file_name: str, row: Row, status: str = "active") -> None:
        self.rows[file_name].append({**row, "status": status, "dateLastModified": self.modified_at})

    # -- choosing ------------------------------------------------------------------------------

    def pick_pupils(self, count: int, taken: set[tuple[int, int]]) -> list[_PupilRef]:
        schools = [s for s in self.plan.schools if s.pupils]
        weights = list(accumulate(s.pupils for s in schools))
        total = weights[-1]
        picked: list[_PupilRef] = []
        while len(picked) < count and len(taken) < total:
            school = self.rng.choices(schools, cum_weights=weights)[0]
            position = self.rng.randrange(school.pupils)
            if (school.index, position) not in taken:
                taken.add((school.index, position))
                picked.append(_PupilRef(school, position))
        return picked

    def seat_in(self, school: SchoolPlan, grade: int) -> _Seat:
        classes = len(class_sizes(school.grade_sizes[grade - 1]))
        return _Seat(school, grade, self.rng.randrange(classes) + 1)

    def transfer_destination(self, ref: _PupilRef) -> _Seat | None:
        grade = _grade_of_position(ref.school, ref.position)
        candidates = [
            s
            for s in self.plan.schools
            if s.kind is ref.school.kind and s is not ref.school and s.grade_sizes[grade - 1]
        ]
        return self.seat_in(self.rng.choice(candidates), grade) if candidates else None

    def new_seat(self) -> _Seat:
        schools = [s for s in self.plan.schools if s.pupils]
        school = self.rng.choices(schools, weights=[s.pupils for s in schools])[0]
        grade = self.rng.choices(range(1, len(school.grade_sizes) + 1), school.grade_sizes)[0]
        return self.seat_in(school, grade)

    # -- changes within one school (its generator regenerates the base rows) -----------------

    def depart(self, generator: SchoolGenerator, positions: dict[int, _Seat | None]) -> None:
        """Pupils leaving a school: their enrollments end; withdrawn pupils leave the roster,
        moving ones are re-seated after the walk (their user and role rows change)."""
        # Positions count pupils in generation order, which is homeroom order.
        flat = [p for members in generator.people.pupils for p in members]
        leaving = {flat[position].sourced_id for position in positions}
        for row in generator.enrollment_rows(self.profile):
            if row["userSourcedId"] in leaving:
                self.emit("enrollments", row, "tobedeleted")
        roles: dict[str, list[Row]] = {}
        for row in generator.role_rows():
            if row["userSourcedId"] in leaving:
                roles.setdefault(row["userSourcedId"], []).append(row)
        for position, seat in sorted(positions.items()):
            pupil = flat[position]
            if seat is None:
                self.emit("users", user_row(pupil), "tobedeleted")
                for row in roles[pupil.sourced_id]:
                    self.emit("roles", row, "tobedeleted")
            else:
                self.moving.append((pupil, seat, roles[pupil.sourced_id]))

    def rename_class(self, generator: SchoolGenerator, pick: float) -> None:
        """A scheduled class becomes 習熟度別 (ability-grouped): same class, new title."""
        scheduled = [c for c in generator.structure.classes() if c.class_type == "scheduled"]
        cls = scheduled[int(pick * len(scheduled))]
        renamed = replace(cls, title=f"{cls.title}（習熟度別）")
        self.emit("classes", class_row(self.plan, generator.school, renamed))

    def change_homeroom_teacher(self, generator: SchoolGenerator, pick: float) -> None:
        """A 担任 goes on leave; a newly hired 代替 teacher takes the homeroom and those of its
        classes the old 担任 taught. The old 担任 stays on the staff without a homeroom."""
        structure = generator.structure
        people = generator.people
        homeroom = structure.homerooms[int(pick * len(structure.homerooms))]
        home_id = homeroom.info.sourced_id
        old = people.teacher_of[home_id]
        handed_over = {home_id} | {
            c.sourced_id for c in homeroom.scheduled if people.teacher_of[c.sourced_id] is old
        }
        school = generator.school
        new = make_person(
            self.rng,
            username=teacher_username(school, len(people.teachers) + 1),
            org_id=school.sourced_id,
            role="teacher",
            home_class=home_id,
        )
        make = EnrollmentMaker(self.plan, school, self.profile)
        for row in generator.enrollment_rows(self.profile):
            if row["userSourcedId"] == old.sourced_id and row["classSourcedId"] in handed_over:
                self.emit("enrollments", row, "tobedeleted")
                taken_over = make(
                    self.rng, row["classSourcedId"], new, primary=True, begin=self.change_date
                )
                self.emit("enrollments", taken_over)
        self.emit("users", user_row(replace(old, home_class="")))
        self.emit("users", user_row(new))
        for row in role_rows(self.rng, new):
            self.emit("roles", row)

    # -- arrivals ------------------------------------------------------------------------------

    def seat_pupil(self, seat: _Seat, pupil: Person) -> Person:
        """Enroll an arriving pupil in the seat's homeroom and its scheduled classes."""
        structure = SchoolGenerator(self.plan, seat.school).structure
        homeroom = _homeroom_at(structure, seat.grade, seat.number)
        home_id = homeroom.info.sourced_id
        number = self._next_number.get(home_id, homeroom.size + 1)
        self._next_number[home_id] = number + 1
        pupil = replace(pupil, org_id=seat.school.sourced_id, home_class=home_id)
        make = EnrollmentMaker(self.plan, seat.school, self.profile)
        begin = self.change_date
        self.emit(
            "enrollments",
            make(self.rng, home_id, pupil, primary=False, shusseki_no=number, begin=begin),
        )
        for cls in homeroom.scheduled:
            self.emit(
                "enrollments", make(self.rng, cls.sourced_id, pupil, primary=False, begin=begin)
            )
        self.emit("users", user_row(pupil))
        return pupil

    def arrive_from_another_school(self, pupil: Person, seat: _Seat, roles: list[Row]) -> None:
        self.seat_pupil(seat, pupil)
        for role in roles:
            self.emit("roles", {**role, "orgSourcedId": seat.school.sourced_id})

    def arrive_new(self, seat: _Seat) -> None:
        school = seat.school
        serial = self._next_serial.get(school.index, school.pupils + 1)
        self._next_serial[school.index] = serial + 1
        pupil = make_person(
            self.rng,
            username=pupil_username(school, self.plan.year - seat.grade + 1, serial),
            org_id=school.sourced_id,
            role="student",
            grade=school.grade_code(seat.grade),
        )
        pupil = self.seat_pupil(seat, pupil)
        for row in role_rows(self.rng, pupil):
            self.emit("roles", row)


def generate_delta(
    config: GeneratorConfig,
    target: Path,
    *,
    change_ratio: float = 0.01,
    modified_at: str | None = None,
    progress: ProgressCallback | None = None,
) -> DeltaSummary:
    """Write a delta package against ``config``'s bulk package, changing ~``change_ratio`` of
    its enrollments: transfers between schools, new pupils, withdrawals, one renamed class and
    one change of 担任. Rows carry ``status`` and ``dateLastModified`` (``modified_at``)."""
    if not 0 < change_ratio <= 0.5:
        raise ValueError("change ratio must be in (0, 0.5]")
    plan = plan_municipality(config)
    modified_at = modified_at or DEFAULT_DELTA_MODIFIED.format(year=config.school_year)
    if not _ISO_DATETIME.fullmatch(modified_at):
        raise ValueError(f"modified_at {modified_at!r} is not like 2026-09-01T00:00:00.000Z")
    builder = _DeltaBuilder(plan, change_ratio, modified_at)
    rng = builder.rng
    base_enrollments = base_enrollment_count(plan)
    budget = change_ratio * base_enrollments
    # A transfer touches 8 enrollments (4 ended, 4 begun), an arrival or a departure 4; half the
    # budget goes to transfers, a quarter each to arrivals and departures.
    transfers_wanted = max(1, round(budget * 0.5 / (2 * _PUPIL_ENROLLMENTS)))
    arrivals = max(1, round(budget * 0.25 / _PUPIL_ENROLLMENTS))
    withdrawals_wanted = max(1, round(budget * 0.25 / _PUPIL_ENROLLMENTS))

    # Decide everything first (cheap, from the plan), then walk the schools once, in order,
    # regenerating only those something happens in.
    taken: set[tuple[int, int]] = set()
    leaving: dict[int, dict[int, _Seat | None]] = {}
    for ref in builder.pick_pupils(transfers_wanted, taken):
        seat = builder.transfer_destination(ref)
        if seat is not None:  # a municipality with one school of the kind has nowhere to go
            leaving.setdefault(ref.school.index, {})[ref.position] = seat
    withdrawals = builder.pick_pupils(withdrawals_wanted, taken)
    for ref in withdrawals:
        leaving.setdefault(ref.school.index, {})[ref.position] = None
    new_seats = [builder.new_seat() for _ in range(arrivals)]
    schools_with_classes = [s for s in plan.schools if s.pupils]
    renamed_school = rng.choice(schools_with_classes).index
    teacher_change_school = rng.choice(schools_with_classes).index
    renamed_pick, teacher_change_pick = rng.random(), rng.random()

    involved = sorted({*leaving, renamed_school, teacher_change_school})
    for done, index in enumerate(involved, start=1):
        generator = SchoolGenerator(plan, plan.schools[index])
        if index in leaving:
            builder.depart(generator, leaving[index])
        if index == renamed_school:
            builder.rename_class(generator, renamed_pick)
        if index == teacher_change_school:
            builder.change_homeroom_teacher(generator, teacher_change_pick)
        if progress is not None:
            progress("schools", done)
    for pupil, seat, roles in builder.moving:
        builder.arrive_from_another_school(pupil, seat, roles)
    for seat in new_seats:
        builder.arrive_new(seat)

    counts: dict[str, int] = {}
    profile = config.profile
    with PackageWriter(target) as package:
        # Every required file is declared delta, the unchanged ones with a header only: a
        # receiver that insists on the seven required files finds them all.
        package.write_manifest(manifest_rows(profile, dict.fromkeys(REQUIRED_FILES, "delta")))
        for file_name in PACKAGE_FILES:
            rows = _counted(file_name, builder.rows[file_name], progress)
            counts[file_name] = package.write_file(file_name, profile, rows)
    return DeltaSummary(
        path=target,
        profile=profile,
        modified_at=modified_at,
        transfers=len(builder.moving),
        new_pupils=len(new_seats),
        withdrawals=len(withdrawals),
        renamed_classes=1,
        homeroom_teacher_changes=1,
        counts=counts,
        changed_enrollments=counts["enrollments"],
        base_enrollments=base_enrollments,
    )
