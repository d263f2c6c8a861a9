"""Browser tests: a real uvicorn server on loopback, Debian's chromium driven by Playwright.

Nothing is downloaded: Playwright launches ``/usr/bin/chromium`` (``make browser`` installs it)
and axe-core comes from ``node_modules`` (``make assets``). Screenshots of every page visited go
to ``test-artifacts/screenshots/`` (not committed).

SIGNING IN (test-only, to be replaced): until the identity domain's sign-in form is merged, the
served app gets a dependency override of ``optional_principal`` that reads the roster user from a
``tsunagu_test_user`` cookie the test sets on the browser context (:func:`sign_in_browser`). The
coordinator switches :func:`sign_in_browser` to filling in the real ``/signin`` form; the tests
themselves do not change.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import Request
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.portal.support import BOARD_CODE, load_board
from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.identity.principal import Principal, load_principal
from tsunagu.identity.web import optional_principal
from tsunagu.tenancy.service import get_tenant

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
TEST_USER_COOKIE = "tsunagu_test_user"
#: Flags for a closed network (no background calls home) and running as root in CI.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    container: Container


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_server(container: Container, tmp_path: Path) -> Iterator[LiveServer]:
    load_board(container, tmp_path)
    app = create_app(container=container)
    with container.database.session() as session:
        tenant_id = get_tenant(session, BOARD_CODE).id

    def test_principal(request: Request) -> Principal | None:
        user = request.cookies.get(TEST_USER_COOKIE)
        if not user:
            return None
        with container.database.session() as session:
            return load_principal(session, tenant_id, user)

    app.dependency_overrides[optional_principal] = test_principal
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", container)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is required for the browser tests: run 'make browser'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    created = browser.new_context(
        base_url=live_server.url, locale="ja-JP", viewport={"width": 1180, "height": 820}
    )
    created.set_default_timeout(15_000)
    yield created
    created.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in_browser(context: BrowserContext, server: LiveServer, user_sourced_id: str) -> None:
    """Sign the browser in as a roster user (test-only cookie; see the module docstring)."""
    context.clear_cookies()
    context.add_cookies([{"name": TEST_USER_COOKIE, "value": user_sourced_id, "url": server.url}])


def screenshot(page: Page, request: pytest.FixtureRequest, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{request.node.name}-{name}.png".replace("/", "_")
    page.screenshot(path=str(target), full_page=True)
    return target


def axe_violations(page: Page) -> list[dict[str, object]]:
    """Serious and critical WCAG 2.1 A/AA violations axe-core finds on the current page."""
    if not AXE.exists():
        pytest.fail("axe-core is required for the accessibility checks: run 'make assets'")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.html)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
