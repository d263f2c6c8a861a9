from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LiveServer, axe_violations, screenshot, sign_in_browser
from tests.portal.support import (
    BOARD_ADMIN,
    CLASS_1_1,
    CLASS_5_1,
    PUPIL,
    TEACHER,
    YOUNG,
    portal_roster,
)
from tests.roster.packages import write_package
from tsunagu.portal import service as portal
from tsunagu.web.dates import WEEKDAYS_JA

pytestmark = pytest.mark.browser


def _weekday(server: LiveServer) -> int:
    return portal.school_day(portal.today(server.container.settings)).isoweekday()


def _teacher_places_material(
    page: Page, request: pytest.FixtureRequest, server: LiveServer, klass: str, subject: str,
    unit: str, material: str,
) -> None:  # fmt: skip
    """The teacher sets today's 2nd period, then picks ``material`` (a unit title) in the
    計算ドリル's Deep Linking picker; back on the portal, the period lists it."""
    weekday = _weekday(server)
    page.goto(f"/teach/classes/{klass}/timetable")
    cell = page.get_by_role("link", name=re.compile(f"^{WEEKDAYS_JA[weekday - 1]} 2時間目"))
    cell.click()
    page.get_by_label("教科").fill(subject)
    page.get_by_label("単元").fill(unit)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("保存しました。")
    # htmx did it in place: still on the grid, whose cell now shows the lesson.
    expect(page).to_have_url(re.compile(r"/timetable$"))
    expect(page.locator(f"#cell-{weekday}-2")).to_contain_text(subject)
    screenshot(page, request, "teacher-slot")

    # LTI Deep Linking: off to the tool's picker (its own origin), pick a unit, back again.
    page.locator("ul.deep-linking").get_by_role("link", name="計算ドリル").click()
    expect(page).to_have_url(re.compile("^" + re.escape(server.tool_url)))
    expect(page.locator("main")).to_contain_text("授業で使う単元")
    screenshot(page, request, "tool-deep-linking-picker")
    page.get_by_role("link", name=material).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("教材を追加しました")
    expect(page.locator("ul.created")).to_contain_text(material)
    screenshot(page, request, "deep-linking-done")
    page.get_by_role("link", name="ポータルに戻る").click()
    expect(page.locator("#editor")).to_contain_text(material)
    page.goto(f"/teach/classes/{klass}/timetable")
    expect(page.locator(f"#cell-{weekday}-2")).to_contain_text("📎 1")


def test_learner_day(
    page: Page, context: BrowserContext, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    sign_in_browser(context, live_server, TEACHER)
    _teacher_places_material(
        page, request, live_server, CLASS_5_1, "算数", "たし算", "たし算（くり上がりなし）"
    )
    page.goto(f"/teach/classes/{CLASS_5_1}/timetable")
    assert axe_violations(page) == []
    screenshot(page, request, "teacher-timetable")

    sign_in_browser(context, live_server, PUPIL)
    page.goto("/home")
    today = page.locator("#today")
    expect(today).to_contain_text("算数")
    expect(today).to_contain_text("たし算")
    screenshot(page, request, "learner-home")
    assert axe_violations(page) == []

    # The period opens the tool itself (LTI 1.3 launch), at the unit the teacher picked.
    today.get_by_role("link", name=re.compile("たし算（くり上がりなし）")).click()
    expect(page).to_have_url(re.compile("^" + re.escape(live_server.tool_url)))
    expect(page.get_by_role("heading", level=2)).to_have_text("たし算（くり上がりなし）")
    expect(page.locator("main")).to_have_attribute("data-japan-rules", "ok")
    screenshot(page, request, "learner-launched")

    page.goto("/home")
    expect(page.locator("#recent")).to_contain_text("たし算（くり上がりなし）")
    expect(page.locator("#recent")).to_contain_text("開いた")
    page.get_by_role("link", name="学習の記録").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("学習の記録")
    expect(page.locator("main")).to_contain_text("計算ドリル")
    screenshot(page, request, "learner-record")
    assert axe_violations(page) == []


def test_kid_friendly_home(
    page: Page, context: BrowserContext, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    sign_in_browser(context, live_server, TEACHER)
    _teacher_places_material(
        page, request, live_server, CLASS_1_1, "さんすう", "たしざん", "たし算（くり上がりなし）"
    )
    sign_in_browser(context, live_server, YOUNG)
    page.goto("/home")
    expect(page.locator("body")).to_have_class("kid")
    expect(page.locator("h1 ruby").first).to_contain_text("きょう")
    launch = page.locator("#today").get_by_role("link", name=re.compile("たし"))
    box = launch.bounding_box()
    assert box is not None
    assert box["height"] >= 64
    screenshot(page, request, "kid-home")
    assert axe_violations(page) == []


def test_teacher_notice_reaches_learner(
    page: Page, context: BrowserContext, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    sign_in_browser(context, live_server, TEACHER)
    page.goto("/teach/notices")
    today = portal.today(live_server.container.settings)
    page.get_by_label("学級（宛先が学級のとき）").select_option(CLASS_5_1)
    page.get_by_label("題名").fill("あしたは遠足です")
    page.get_by_label("本文").fill("おべんとうを持ってきてください。")
    page.get_by_label("表示の始まり").fill(today.isoformat())
    page.get_by_label("表示の終わり").fill((today + timedelta(days=1)).isoformat())
    assert axe_violations(page) == []
    page.get_by_role("button", name="お知らせを出す").click()
    expect(page.get_by_role("status")).to_have_text("お知らせを出しました。")
    screenshot(page, request, "teacher-notices")

    sign_in_browser(context, live_server, PUPIL)
    page.goto("/home")
    expect(page.get_by_role("heading", name="あしたは遠足です")).to_be_visible()
    screenshot(page, request, "learner-notice")

    # The language switch: English for this browser from now on, Japanese again on request.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Today's timetable")
    expect(page.get_by_role("heading", name="Notices")).to_be_visible()
    screenshot(page, request, "learner-home-english")
    assert axe_violations(page) == []
    page.get_by_role("button", name="日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def test_admin_fixes_roster_and_imports(
    page: Page,
    context: BrowserContext,
    live_server: LiveServer,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    rows = portal_roster()
    rows["users"][2]["userMasterIdentifier"] = "not-a-uuid"
    broken = write_package(tmp_path / "broken.zip", rows)
    fixed_rows = portal_roster()
    fixed_rows["users"][2]["givenName"] = "太郎丸"
    fixed = write_package(tmp_path / "fixed.zip", fixed_rows)

    sign_in_browser(context, live_server, BOARD_ADMIN)
    page.goto("/admin/roster")
    assert axe_violations(page) == []
    page.get_by_label("ZIP ファイル").set_input_files(str(broken))
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("alert")).to_contain_text("エラーが")
    problem = page.locator("#problems tbody tr").filter(has_text="not-a-uuid")
    expect(problem).to_contain_text("users.csv")
    expect(problem).to_contain_text("userMasterIdentifier")
    expect(problem.locator("td").nth(2)).to_have_text("3")
    screenshot(page, request, "admin-problems")
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="問題の一覧をダウンロード（CSV）").click()
    assert "not-a-uuid" in Path(download.value.path()).read_text(encoding="utf-8-sig")

    page.get_by_role("link", name="別のファイルをアップロード").click()
    page.get_by_label("ZIP ファイル").set_input_files(str(fixed))
    page.get_by_role("button", name="確認する").click()
    expect(page.locator("#outcome")).to_contain_text("問題はありません")
    screenshot(page, request, "admin-dry-run")
    page.get_by_role("button", name="取り込む").click()
    expect(page.locator("#outcome")).to_have_text("取り込みました。")
    screenshot(page, request, "admin-imported")

    sign_in_browser(context, live_server, TEACHER)
    page.goto(f"/teach/classes/{CLASS_5_1}")
    expect(page.locator("main")).to_contain_text("山田 太郎丸")
    screenshot(page, request, "teacher-roster")
    assert axe_violations(page) == []
