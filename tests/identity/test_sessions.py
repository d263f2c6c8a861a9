"""Server-side sessions: cookies, fixation, timeouts, logout, refresh, Redis, CSRF, headers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.identity.conftest import World, build_world, new_client
from tests.identity.support import TEST_PASSWORD, csrf_token, sign_in
from tsunagu.container import Container, build_container
from tsunagu.identity.sessions import session_store
from tsunagu.roster.models import User
from tsunagu.settings import Settings

REDIS_URL = os.environ.get("TSUNAGU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _set_cookie_headers(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [v for k, v in response.headers.multi_items() if k == "set-cookie"]


def test_sign_in_sets_a_hardened_cookie_under_a_new_id(
    container: Container, client: TestClient, world: World
) -> None:
    # An anonymous session exists first (an OIDC start creates one); sign-in must replace it.
    client.cookies.set("tsunagu_session", "planted-by-an-attacker", domain="portal.example.jp")
    username = _username(container, world)
    sign_in(client, container, world.tenant, world.teacher)
    token = csrf_token(client)
    response = client.post(
        "/signin",
        data={"csrftoken": token, "username": username, "password": TEST_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = next(c for c in _set_cookie_headers(response) if c.startswith("tsunagu_session="))
    for attribute in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/"):
        assert attribute in cookie
    new_id = cookie.split(";", 1)[0].split("=", 1)[1]
    assert new_id != "planted-by-an-attacker"
    assert len(new_id) >= 43  # 256 bits
    # Signing in again rotates the id again; the previous id is dead.
    old_id = new_id
    again = client.post(
        "/signin",
        data={"csrftoken": token, "username": username, "password": TEST_PASSWORD},
        follow_redirects=False,
    )
    newer = next(c for c in _set_cookie_headers(again) if c.startswith("tsunagu_session="))
    assert old_id not in newer
    assert session_store(container).load(old_id) is None


def _username(container: Container, world: World) -> str:
    with container.database.session() as session:
        user = session.get(User, (world.tenant_id, world.teacher))
        assert user is not None
        return user.username


def test_logout_ends_the_session_on_the_server(
    container: Container, client: TestClient, world: World
) -> None:
    sign_in(client, container, world.tenant, world.teacher)
    stolen = client.cookies.get("tsunagu_session")
    assert stolen
    assert session_store(container).load(stolen) is not None
    response = client.post(
        "/signout",
        headers={"X-CSRFToken": client.cookies.get("csrftoken") or ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert session_store(container).load(stolen) is None
    with new_client(container) as thief:
        thief.cookies.set("tsunagu_session", stolen, domain="portal.example.jp")
        assert thief.get("/me", follow_redirects=False).status_code == 303


def _age(container: Container, session_id: str, **shift: float) -> None:
    store = session_store(container)
    data = store.load(session_id)
    assert data is not None
    for key, seconds in shift.items():
        data[key] = float(data[key]) - seconds
    store.save(session_id, data, 3600)


def test_idle_and_absolute_timeouts(container: Container, client: TestClient, world: World) -> None:
    settings = container.settings
    sign_in(client, container, world.tenant, world.teacher)
    session_id = client.cookies.get("tsunagu_session") or ""
    _age(container, session_id, last_seen=settings.session_idle_timeout_seconds - 30)
    assert client.get("/me", follow_redirects=False).status_code == 200
    _age(container, session_id, last_seen=settings.session_idle_timeout_seconds + 1)
    assert client.get("/me", follow_redirects=False).status_code == 303
    assert session_store(container).load(session_id) is None

    sign_in(client, container, world.tenant, world.teacher)
    session_id = client.cookies.get("tsunagu_session") or ""
    # Busy all day (last seen just now) but signed in longer ago than the absolute limit.
    _age(container, session_id, created=settings.session_absolute_timeout_seconds + 1)
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_a_withdrawn_pupil_loses_the_session_at_the_next_refresh(
    container: Container, client: TestClient, world: World
) -> None:
    sign_in(client, container, world.tenant, world.pupil)
    session_id = client.cookies.get("tsunagu_session") or ""
    with container.database.transaction() as session:
        user = session.get(User, (world.tenant_id, world.pupil))
        assert user is not None
        user.status = "tobedeleted"
    # Still cached until the refresh interval passes …
    assert client.get("/me", follow_redirects=False).status_code == 200
    _age(
        container, session_id, principal_at=container.settings.session_principal_refresh_seconds + 1
    )
    # … then rebuilt from the roster, which no longer lets them in.
    assert client.get("/me", follow_redirects=False).status_code == 303


def test_csrf_is_required_on_state_changing_forms(
    container: Container, client: TestClient, world: World
) -> None:
    # No token at all (a cross-site form has none): refused before any handler runs.
    assert client.post("/signin", data={"username": "x", "password": "y"}).status_code == 403
    sign_in(client, container, world.tenant, world.teacher)
    assert client.post("/signout", data={}, follow_redirects=False).status_code == 403
    assert client.post("/signout", data={"csrftoken": "forged"}).status_code == 403
    assert client.get("/me", follow_redirects=False).status_code == 200
    # The form field works, and so does the header htmx sends.
    page = client.get(f"/classes/{world.teacher_class}/roster").text
    assert 'name="csrftoken"' in page
    token = client.cookies.get("csrftoken") or ""
    assert token in page
    ok = client.post("/signout", headers={"X-CSRFToken": token}, follow_redirects=False)
    assert ok.status_code == 303


def test_security_headers(client: TestClient, world: World) -> None:
    response = client.get("/signin")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"].startswith("max-age=")


def test_no_hsts_nor_secure_cookie_over_plain_http(settings: Settings, world: World) -> None:
    plain = settings.model_copy(update={"base_url": "http://127.0.0.1:8000"})
    container = build_container(plain)
    try:
        with TestClient(__import__("tsunagu.app").app.create_app(container=container)) as client:
            response = client.get("/signin")
            assert "strict-transport-security" not in response.headers
            sign_in(client, container, world.tenant, world.teacher)
            assert client.get("/me").status_code == 200
    finally:
        container.close()


@pytest.fixture
def redis_settings(settings: Settings) -> Iterator[Settings]:
    prefix = f"tsunagu-test-{uuid.uuid4().hex[:8]}"
    yield settings.model_copy(update={"redis_url": REDIS_URL, "redis_key_prefix": prefix})
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    for key in client.scan_iter(f"LIMITS:{prefix}*"):
        client.delete(key)
    client.close()


def test_redis_sessions_are_shared_by_processes(redis_settings: Settings, tmp_path: Path) -> None:
    first = build_container(redis_settings)
    second = build_container(redis_settings)
    try:
        world = build_world(first, tmp_path)
        with new_client(first) as browser, new_client(second) as other_process:
            sign_in(browser, first, world.tenant, world.teacher)
            session_id = browser.cookies.get("tsunagu_session") or ""
            keys = list(
                redis.Redis.from_url(REDIS_URL).scan_iter(
                    f"{redis_settings.redis_key_prefix}:session:*"
                )
            )
            assert len(keys) == 1
            assert session_id.encode() not in keys[0]  # stored under a keyed hash
            # The same cookie works against another process sharing the Redis.
            other_process.cookies.set("tsunagu_session", session_id, domain="portal.example.jp")
            assert other_process.get("/me", follow_redirects=False).status_code == 200
            # Signing out in one process ends it in every other.
            token = browser.cookies.get("csrftoken") or ""
            browser.post("/signout", headers={"X-CSRFToken": token})
            assert other_process.get("/me", follow_redirects=False).status_code == 303
            with first.database.session() as session:
                from tsunagu.identity.models import WebSession

                assert session.scalars(select(WebSession)).first() is None
    finally:
        first.close()
        second.close()


def test_redis_lockout_is_shared_by_processes(redis_settings: Settings, tmp_path: Path) -> None:
    strict = redis_settings.model_copy(update={"signin_failure_limit": "2/15 minutes"})
    first = build_container(strict)
    second = build_container(strict)
    try:
        world = build_world(first, tmp_path)
        with new_client(first) as one, new_client(second) as two:
            sign_in(one, first, world.tenant, world.teacher)
            one.cookies.clear()
            username = _username(first, world)
            for _ in range(2):
                token = csrf_token(one)
                failed = one.post(
                    "/signin",
                    data={"csrftoken": token, "username": username, "password": "wrong-password!"},
                )
                assert failed.status_code == 401
            token = csrf_token(two)
            locked = two.post(
                "/signin",
                data={"csrftoken": token, "username": username, "password": TEST_PASSWORD},
            )
            assert locked.status_code == 401
    finally:
        first.close()
        second.close()


def test_ended_database_sessions_are_purged_while_the_app_serves(container: Container) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from tsunagu.identity.models import WebSession
    from tsunagu.identity.sessions import DatabaseSessionStore, purge_periodically

    store = DatabaseSessionStore(container)
    store.save("ended-session", {"created": 0}, 3600)
    store.save("live-session", {"created": 0}, 3600)
    ended = store._hash("ended-session")
    with container.database.transaction() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.id_hash == ended)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )

    def remaining() -> set[str]:
        with container.database.session() as session:
            return set(session.scalars(select(WebSession.id_hash)))

    async def serve_a_while() -> None:
        task = asyncio.create_task(purge_periodically(container, 0.02))
        for _ in range(250):  # up to 5 s on a busy machine; usually the first pass
            await asyncio.sleep(0.02)
            if ended not in remaining():
                break
        task.cancel()

    asyncio.run(serve_a_while())
    assert remaining() == {store._hash("live-session")}


def test_the_purge_runs_only_for_database_sessions(settings: Settings, tmp_path: Path) -> None:
    import asyncio

    from tsunagu.app import _start_session_purge

    async def started(container: Container) -> bool:
        task = _start_session_purge(container)
        if task is not None:
            task.cancel()
        return task is not None

    with_database = build_container(settings)
    with_redis = build_container(settings.model_copy(update={"redis_url": REDIS_URL}))
    never = build_container(settings.model_copy(update={"session_purge_interval_seconds": 0}))
    try:
        assert asyncio.run(started(with_database)) is True
        assert asyncio.run(started(with_redis)) is False
        assert asyncio.run(started(never)) is False
    finally:
        for built in (with_database, with_redis, never):
            built.close()
