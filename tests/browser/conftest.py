"""Browser tests: a real uvicorn server on loopback, Debian's chromium driven by Playwright.

Nothing is downloaded: Playwright launches ``/usr/bin/chromium`` (``make browser`` installs it)
and axe-core comes from ``node_modules`` (``make assets``). Screenshots of every page visited go
to ``test-artifacts/screenshots/`` (not committed).

Signing in is real: :func:`sign_in_browser` gives the person a local password through the
identity service and fills in the ``/signin`` form (administrators then the TOTP step, with a code
computed from their enrolled secret). The portal is served at ``http://127.0.0.1:<port>`` with
that as its base URL (the LTI issuer), and the sample 計算ドリル tool runs as its own process at
``http://localhost:<port>`` (another host, so the two never share cookies), registered and
deployed to the board.
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
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import select

from tests.identity.support import TEST_PASSWORD, totp_code_for
from tests.lti.tool_process import run_tool
from tests.portal.support import BOARD_CODE, load_board
from tsunagu.app import create_app
from tsunagu.container import Container
from tsunagu.identity import service
from tsunagu.lrs.credentials import create_credential
from tsunagu.lti import registry
from tsunagu.lti.keys import ensure_keys
from tsunagu.roster.models import User
from tsunagu.settings import Settings
from tsunagu.tenancy.models import Tenant

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DRILL_CLIENT_ID = "tsunagu-drill"
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
    tool_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server_port() -> int:
    return _free_port()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, server_port: int) -> Settings:
    """The portal as the browser reaches it: its base URL is the served one (the LTI issuer the
    tool checks, the xAPI actors' homePage)."""
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        secret_key="browser-test-secret-key",
        base_url=f"http://127.0.0.1:{server_port}",
    )


def _drill_tool(container: Container, tool_url: str) -> dict[str, object]:
    """Register and deploy the sample tool; the config its process reads."""
    settings = container.settings
    with container.database.transaction() as session:
        ensure_keys(session, settings)
        registry.register_tool(
            session,
            name="計算ドリル",
            client_id=DRILL_CLIENT_ID,
            login_initiation_url=tool_url + "/login",
            redirect_uris=[tool_url + "/launch"],
            target_link_uri=tool_url + "/launch",
            jwks_url=tool_url + "/jwks",
            deep_linking_url=tool_url + "/launch",
            scopes=["score", "lineitem", "result.readonly", "nrps"],
        )
        registry.deploy_tool(session, DRILL_CLIENT_ID, BOARD_CODE)
        lrs = create_credential(
            session, settings.resolved_secret_key, tenant_code=BOARD_CODE, name="計算ドリル"
        )
    base = settings.base_url
    return {
        "issuer": base,
        "client_id": DRILL_CLIENT_ID,
        "deployment_ids": [f"B_{BOARD_CODE}"],
        "auth_login_url": base + "/lti/authorize",
        "auth_token_url": base + "/lti/token",
        "key_set_url": base + "/lti/jwks",
        "tool_url": tool_url,
        "lrs": {"endpoint": base + "/xapi", "key": lrs.info.key, "secret": lrs.secret},
    }


@pytest.fixture
def live_server(container: Container, tmp_path: Path, server_port: int) -> Iterator[LiveServer]:
    load_board(container, tmp_path)
    tool_port = _free_port()
    tool_url = f"http://localhost:{tool_port}"
    config = _drill_tool(container, tool_url)
    app = create_app(container=container)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=server_port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        with run_tool(config, tmp_path / "tool", tool_port):
            yield LiveServer(f"http://127.0.0.1:{server_port}", container, tool_url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# Package scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and tests after the browser tests run coroutines with asyncio.run.
@pytest.fixture(scope="package")
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


def sign_in_browser(context: BrowserContext, server: LiveServer, user_sourced_id: str) -> Page:
    """Sign the browser in as a roster user through the real ``/signin`` form (a fresh session:
    earlier cookies are dropped). Returns the page it used."""
    container = server.container
    with container.database.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.code == BOARD_CODE))
        assert tenant_id is not None
        user = session.get(User, (tenant_id, user_sourced_id))
        assert user is not None
        username = user.username
        service.set_password(session, container, BOARD_CODE, user_sourced_id, TEST_PASSWORD)
    context.clear_cookies()
    page = context.pages[0] if context.pages else context.new_page()
    page.goto("/signin?next=/me")
    page.get_by_label("ユーザー名", exact=True).fill(username)
    page.get_by_label("パスワード", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_load_state()
    if "/signin/totp" in page.url:
        page.get_by_label("コード", exact=True).fill(
            totp_code_for(container, tenant_id, user_sourced_id)
        )
        page.get_by_role("button", name="確認").click()
        page.wait_for_load_state()
    assert page.url.endswith("/me"), page.url
    return page


def screenshot(page: Page, request: pytest.FixtureRequest, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{request.node.name}-{name}.png".replace("/", "_")
    page.screenshot(path=str(target), full_page=True)
    return target


def axe_violations(page: Page) -> list[dict[str, object]]:
    """Serious and critical WCAG 2.1 A/AA violations axe-core finds on the current page."""
    if not AXE.exists():
        pytest.fail("axe-core is required for the accessibility checks: run 'make assets'")
    # Served from the page's own origin (intercepted, never reaching the portal): the portal's
    # CSP allows scripts from 'self' only, and the test must not weaken it to run axe.
    page.route("**/__axe__.js", lambda route: route.fulfill(path=str(AXE)))
    page.add_script_tag(url="/__axe__.js")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.html)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
