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
    unit: str, title: str, link: str,
) -> None:  # fmt: skip
    weekday = _weekday(server)
    page.goto(f"/teach/classes/{klass}/timetable")
    cell = page.get_by_role("link", name=re.compile(f"^{WEEKDAYS_JA[weekday - 1]} 2時間目"))
    cell.click()
    page.get_by_label("教科").fill(subject)
    page.get_by_label("単元").fill(unit)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("保存しました。")
    page.get_by_label("教材名").fill(title)
    page.get_by_label("ツール名").fill("さくさくドリル")
    page.get_by_label("リソースリンク ID").fill(link)
    page.get_by_role("button", name="追加").click()
    expect(page.get_by_role("listitem").filter(has_text=title)).to_be_visible()
    # htmx did it in place: still on the grid, whose cell now shows the lesson and its material.
    expect(page).to_have_url(re.compile(r"/timetable$"))
    expect(page.locator(f"#cell-{weekday}-2")).to_contain_text(subject)
    expect(page.locator(f"#cell-{weekday}-2")).to_contain_text("📎 1")
    screenshot(page, request, "teacher-slot")


def test_learner_day(
    page: Page, context: BrowserContext, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    sign_in_browser(context, live_server, TEACHER)
    _teacher_places_material(
        page, request, live_server, CLASS_5_1, "算数", "分数のたし算", "分数ドリル1", "rl-frac-1"
    )
    page.goto(f"/teach/classes/{CLASS_5_1}/timetable")
    assert axe_violations(page) == []
    screenshot(page, request, "teacher-timetable")

    sign_in_browser(context, live_server, PUPIL)
    page.goto("/home")
    today = page.locator("#today")
    expect(today).to_contain_text("算数")
    expect(today).to_contain_text("分数のたし算")
    screenshot(page, request, "learner-home")
    assert axe_violations(page) == []

    today.get_by_role("link", name=re.compile("分数ドリル1")).click()
    expect(page.locator("#launched .unit")).to_have_text("分数のたし算")
    screenshot(page, request, "learner-launched")

    page.get_by_role("link", name="時間割に戻る").click()
    expect(page.locator("#recent")).to_contain_text("分数ドリル1")
    expect(page.locator("#recent")).to_contain_text("開いた")
    page.get_by_role("link", name="学習の記録").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("学習の記録")
    expect(page.locator("main")).to_contain_text("さくさくドリル")
    screenshot(page, request, "learner-record")
    assert axe_violations(page) == []


def test_kid_friendly_home(
    page: Page, context: BrowserContext, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    sign_in_browser(context, live_server, TEACHER)
    _teacher_places_material(
        page, request, live_server, CLASS_1_1, "こくご", "ひらがな", "ひらがなカード", "rl-kana"
    )
    sign_in_browser(context, live_server, YOUNG)
    page.goto("/home")
    expect(page.locator("body")).to_have_class("kid")
    expect(page.locator("h1 ruby").first).to_contain_text("きょう")
    launch = page.locator("#today").get_by_role("link", name=re.compile("ひらがなカード"))
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
