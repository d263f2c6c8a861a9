"""The administrators' console in a real browser: pages pass axe-core, a deployment by clicking."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LiveServer, axe_violations, screenshot, sign_in_browser
from tests.portal.support import BOARD_ADMIN, BOARD_CODE, PUPIL
from tsunagu.lti import registry

pytestmark = pytest.mark.browser


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """As the shared fixture, but axe-core may be injected under the portal's strict CSP.

    ``script-src 'self'`` (rightly) refuses the inline script ``add_script_tag`` creates;
    ``bypass_csp`` lifts it for the test's own injection only.
    """
    created = browser.new_context(
        base_url=live_server.url,
        locale="ja-JP",
        viewport={"width": 1180, "height": 820},
        bypass_csp=True,
    )
    created.set_default_timeout(15_000)
    yield created
    created.close()


def test_admin_deploys_a_tool_and_pages_are_accessible(
    page: Page, context: BrowserContext, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    container = live_server.container
    with container.database.transaction() as session:
        registry.register_tool(
            session,
            name="さくさくドリル",
            login_initiation_url="https://drill.example.com/login",
            redirect_uris=["https://drill.example.com/launch"],
            target_link_uri="https://drill.example.com/launch",
            jwks_url="https://drill.example.com/jwks",
        )
        token = registry.create_registration_token(
            session, container.settings.resolved_secret_key, BOARD_CODE
        )
        registry.dynamic_register(
            session,
            container.settings.resolved_secret_key,
            token,
            {
                "response_types": ["id_token"],
                "grant_types": ["implicit", "client_credentials"],
                "initiate_login_uri": "https://dr.example.com/login",
                "redirect_uris": ["https://dr.example.com/launch"],
                "client_name": "自己登録ツール",
                "jwks_uri": "https://dr.example.com/jwks",
                "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    "target_link_uri": "https://dr.example.com/launch"
                },
            },
        )
    sign_in_browser(context, live_server, BOARD_ADMIN)
    page.goto("/admin/tools")
    expect(page.get_by_role("heading", level=1)).to_have_text("ツール")
    assert axe_violations(page) == []
    tool = page.get_by_role("article").filter(has_text="さくさくドリル")
    tool.get_by_label("教育委員会全体（すべての学校）").check()
    tool.get_by_role("button", name="配信する").click()
    expect(page.get_by_role("status")).to_have_text("配信しました。")
    expect(page.get_by_role("cell", name=f"B_{BOARD_CODE}")).to_be_visible()
    screenshot(page, request, "admin-tools")
    assert axe_violations(page) == []
    pending = page.get_by_role("article").filter(has_text="自己登録ツール")
    expect(pending.get_by_label("点数の送信")).to_be_checked()
    pending.get_by_role("button", name="承認する").click()
    expect(page.get_by_role("status")).to_have_text("登録を承認しました。")
    expect(page.get_by_role("heading", name="自己登録ツール", level=3)).to_be_visible()

    for path in ("/admin/sign-in-settings", "/admin/cards", "/admin/users?q=山田"):
        page.goto(path)
        assert axe_violations(page) == [], path
    page.get_by_role("link", name="山田 太郎").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("山田 太郎")
    assert PUPIL in page.url
    screenshot(page, request, "admin-user")
    assert axe_violations(page) == []
