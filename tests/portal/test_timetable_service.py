from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.portal.support import (
    BOARD_ADMIN,
    BOARD_CODE,
    CLASS_1_1,
    CLASS_5_1,
    CLASS_J1,
    ELEM,
    PUPIL,
    PUPIL_JUNIOR,
    TEACHER,
    TEACHER_JUNIOR,
    YOUNG,
    load_board,
)
from tsunagu.container import Container
from tsunagu.identity.principal import Principal, load_principal
from tsunagu.tenancy.service import get_tenant
from tsunagu.timetable import service as timetable

NOW = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def principal(container: Container, user: str) -> Principal:
    with container.database.session() as session:
        tenant = get_tenant(session, BOARD_CODE)
        found = load_principal(session, tenant.id, user)
    assert found is not None
    return found


@pytest.fixture
def board(container: Container, tmp_path: Path) -> Container:
    load_board(container, tmp_path)
    return container


def test_teacher_edits_own_class_only(board: Container) -> None:
    teacher = principal(board, TEACHER)
    other = principal(board, TEACHER_JUNIOR)
    with board.database.transaction() as session:
        slot = timetable.save_slot(session, teacher, CLASS_5_1, 2, 3, " 算数 ", "分数", now=NOW)
        assert slot is not None
        assert slot.subject == "算数"
        with pytest.raises(timetable.PermissionDeniedError):
            timetable.save_slot(session, other, CLASS_5_1, 2, 3, "国語", "", now=NOW)
    with board.database.session() as session:
        week = timetable.week(session, teacher.tenant_id, CLASS_5_1)
    assert list(week) == [(2, 3)]
    assert week[(2, 3)].subject == "算数"


def test_slot_validation_and_clearing(board: Container) -> None:
    teacher = principal(board, TEACHER)
    with board.database.transaction() as session:
        with pytest.raises(timetable.InvalidInputError) as bad_day:
            timetable.save_slot(session, teacher, CLASS_5_1, 7, 1, "算数", "", now=NOW)
        assert bad_day.value.field == "weekday"
        with pytest.raises(timetable.InvalidInputError) as too_long:
            timetable.save_slot(session, teacher, CLASS_5_1, 1, 1, "あ" * 41, "", now=NOW)
        assert too_long.value.field == "subject"
        slot = timetable.save_slot(session, teacher, CLASS_5_1, 1, 1, "国語", "", now=NOW)
        assert slot is not None
        assert timetable.save_slot(session, teacher, CLASS_5_1, 1, 1, "", "", now=NOW) is None
    with board.database.session() as session:
        assert timetable.week(session, teacher.tenant_id, CLASS_5_1) == {}


def test_notices_reach_the_right_learners(board: Container) -> None:
    teacher = principal(board, TEACHER)
    today = date(2026, 11, 24)
    with board.database.transaction() as session:
        common = {"body": "", "starts_on": today, "ends_on": today, "now": NOW}
        timetable.post_notice(
            session, teacher, audience="class", school_sourced_id="", class_sourced_id=CLASS_5_1,
            grade=None, title="5年1組へ", **common,
        )  # fmt: skip
        timetable.post_notice(
            session, teacher, audience="grade", school_sourced_id=ELEM, class_sourced_id=None,
            grade="P1", title="1年生へ", **common,
        )  # fmt: skip
        timetable.post_notice(
            session, teacher, audience="school", school_sourced_id=ELEM, class_sourced_id=None,
            grade=None, title="みなみ小のみなさんへ", **common,
        )  # fmt: skip
        timetable.post_notice(
            session, teacher, audience="class", school_sourced_id="", class_sourced_id=CLASS_5_1,
            grade=None, title="来週", body="", starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 2), now=NOW,
        )  # fmt: skip
        with pytest.raises(timetable.PermissionDeniedError):
            timetable.post_notice(
                session, teacher, audience="class", school_sourced_id="",
                class_sourced_id=CLASS_J1, grade=None, title="x", **common,
            )  # fmt: skip
        with pytest.raises(timetable.InvalidInputError):
            timetable.post_notice(
                session, teacher, audience="school", school_sourced_id=ELEM,
                class_sourced_id=None, grade=None, title="x", body="",
                starts_on=today, ends_on=date(2026, 11, 1), now=NOW,
            )  # fmt: skip

    def titles(user: str) -> list[str]:
        with board.database.session() as session:
            found = timetable.notices_for_learner(session, principal(board, user), today)
        return sorted(n.title for n in found)

    assert titles(PUPIL) == ["5年1組へ", "みなみ小のみなさんへ"]
    assert titles(YOUNG) == ["1年生へ", "みなみ小のみなさんへ"]
    assert titles(PUPIL_JUNIOR) == []


def test_board_admin_may_edit_any_class(board: Container) -> None:
    admin = principal(board, BOARD_ADMIN)
    with board.database.transaction() as session:
        assert timetable.save_slot(session, admin, CLASS_1_1, 1, 1, "こくご", "", now=NOW)
