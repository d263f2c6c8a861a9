"""The HTTP application: one function wires settings, database and every domain's routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from tsunagu import __version__
from tsunagu.container import Container, build_container
from tsunagu.db import migrate
from tsunagu.settings import Settings


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    container = container or build_container(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        serving: Container = app.state.container
        # Sync handlers and dependencies run in anyio's default thread pool (40 threads): cap it
        # at the configured number, which the database pool matches.
        to_thread.current_default_thread_limiter().total_tokens = serving.settings.worker_threads
        # Refuse to serve on a schema this code does not know: every request would fail.
        url = serving.database.url.render_as_string(hide_password=False)
        if not migrate.schema_is_current(url):
            serving.close()
            raise RuntimeError(
                "The database schema is missing or out of date: run 'tsunagu db upgrade'."
            )
        from tsunagu.lrs.partitions import ensure_ahead_for

        # Statement partitions for this month and the next ones (PostgreSQL; quick when they
        # exist, and workers starting together take turns on an advisory lock).
        ensure_ahead_for(serving.database, serving.settings.lrs_partition_months_ahead)
        purging = _start_session_purge(serving)
        from tsunagu.portal.home_cache import home_cache

        # Watch this process's writes from the start, not from its first learner home: a worker
        # that has served none must still tell the others (Redis) when a teacher's edit lands.
        home_cache(serving)
        yield
        if purging is not None:
            purging.cancel()
        serving.close()

    app = FastAPI(
        title="Tsunagu 学習eポータル",
        version=__version__,
        description=(
            "Tsunagu (つなぐ) is an open-source 学習eポータル. This document describes its "
            "machine interfaces: the OneRoster 1.2 rostering service, the OAuth 2.0 token "
            "endpoint and the xAPI Learning Record Store under /xapi."
        ),
        lifespan=lifespan,
    )
    app.state.container = container
    from tsunagu.web.assets import build_assets
    from tsunagu.web.templating import build_templates

    app.state.templates = build_templates()
    app.state.assets = build_assets(container.settings.assets_dir)

    from tsunagu.health.routes import router as health_router
    from tsunagu.identity.routes import router as identity_router
    from tsunagu.lrs.alternate import AlternateRequestSyntax
    from tsunagu.lrs.routes import router as lrs_router
    from tsunagu.lti.routes import router as lti_router
    from tsunagu.oauth.routes import router as oauth_router
    from tsunagu.portal.pages import router as pages_router
    from tsunagu.portal.routes import router as portal_router
    from tsunagu.roster.rest.routes import router as rostering_router
    from tsunagu.web.middleware import LocaleMiddleware
    from tsunagu.web.routes import router as web_router

    # Routes are matched in order, one by one: the hot paths come first. The xAPI statements
    # API and the people's pages (home at the first bell) before the rostering API (40 routes)
    # and LTI, whose paths share no prefix with them.
    app.include_router(health_router)
    app.include_router(lrs_router)
    # xAPI 1.0.3 Alternate Request Syntax (POST ?method=…) becomes the ordinary request.
    app.add_middleware(AlternateRequestSyntax)
    app.include_router(portal_router)
    app.include_router(identity_router)
    _install_browser_protection(app, container)
    app.include_router(pages_router)
    from tsunagu.portal.admin_console import router as admin_console_router

    app.include_router(admin_console_router)
    app.include_router(web_router)
    app.include_router(oauth_router)
    app.include_router(rostering_router)
    app.include_router(lti_router)
    # Pages and JSON shrink 5-10x; statics arrive already compressed (Content-Encoding set).
    app.add_middleware(GZipMiddleware, minimum_size=500, compresslevel=6)
    app.add_middleware(LocaleMiddleware)
    return app


def _start_session_purge(container: Container) -> asyncio.Task[None] | None:
    """The periodic delete of ended sessions, when they are kept in the database."""
    interval = container.settings.session_purge_interval_seconds
    if container.settings.redis_url or interval <= 0:
        return None
    from tsunagu.identity.sessions import purge_periodically

    return asyncio.get_running_loop().create_task(purge_periodically(container, interval))


#: Machine interfaces authenticate every request with a credential, never with cookies.
#: LTI endpoints that tools post to from their own site: each request is bound to its person and
#: purpose by a signed JWT, a sealed value or a bearer token, never by the session cookie.
_MACHINE_PREFIXES = (
    "/xapi",
    "/oauth/",
    "/ims/",
    "/lti/token",
    "/lti/register",
    "/lti/services/",
    "/lti/authorize",
    "/lti/deep-linking/return",
)
#: Sign-in forms are CSRF-checked even from a browser that has no cookie yet (login CSRF).
_ALWAYS_PROTECT = {"/signin", "/signin/qr", "/signin/totp", "/signout"}


def _install_browser_protection(app: FastAPI, container: Container) -> None:
    """Middleware, outermost first: security headers, sessions, CSRF (added in reverse)."""
    from asgi_csrf import asgi_csrf

    from tsunagu.identity.middleware import SecurityHeadersMiddleware, SessionMiddleware
    from tsunagu.machine_credentials import keyed_hash
    from tsunagu.web.middleware import MultipartCsrfToken

    def is_machine_request(scope: dict[str, object]) -> bool:
        return str(scope.get("path", "")).startswith(_MACHINE_PREFIXES)

    app.add_middleware(
        asgi_csrf,
        signing_secret=keyed_hash(container.settings.resolved_secret_key, "csrf"),
        cookie_secure=container.settings.is_https,
        cookie_samesite="Lax",
        always_protect=_ALWAYS_PROTECT,
        skip_if_scope=is_machine_request,
    )
    app.add_middleware(
        MultipartCsrfToken,
        skip=is_machine_request,
        always_protect=frozenset(_ALWAYS_PROTECT),
    )
    app.add_middleware(SessionMiddleware, container=container)
    app.add_middleware(SecurityHeadersMiddleware, container=container)
