"""The HTTP application: one function wires settings, database and every domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tsunagu import __version__
from tsunagu.container import Container, build_container
from tsunagu.db import migrate
from tsunagu.settings import Settings


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    container = container or build_container(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        serving: Container = app.state.container
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
        yield
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
    from tsunagu.web.templating import build_templates

    app.state.templates = build_templates()

    from tsunagu.health.routes import router as health_router
    from tsunagu.lrs.alternate import AlternateRequestSyntax
    from tsunagu.lrs.routes import router as lrs_router
    from tsunagu.oauth.routes import router as oauth_router
    from tsunagu.portal.routes import router as portal_router
    from tsunagu.roster.rest.routes import router as rostering_router

    app.include_router(health_router)
    app.include_router(oauth_router)
    app.include_router(rostering_router)
    app.include_router(lrs_router)
    # xAPI 1.0.3 Alternate Request Syntax (POST ?method=…) becomes the ordinary request.
    app.add_middleware(AlternateRequestSyntax)
    app.include_router(portal_router)
    return app
