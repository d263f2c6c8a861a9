"""The learner home's per-class cache: it is reused, it expires, and a write shows at once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.portal.support import BOARD_CODE, CLASS_5_1, PUPIL, TEACHER
from tests.portal.support import sign_in_htmx as sign_in
from tests.portal.test_pages import place_lesson, post_class_notice, school_weekday
from tsunagu.container import Container
from tsunagu.portal import service as portal
from tsunagu.portal.home_cache import ALL, HomeCache, home_cache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_loaded_once_while_it_lives() -> None:
    clock = Clock()
    cache = HomeCache(30, timer=clock)
    loads: list[str] = []

    def load() -> str:
        loads.append("x")
        return f"value {len(loads)}"

    assert cache.get((1, "class-home", "c1"), load) == "value 1"
    clock.now += 29
    assert cache.get((1, "class-home", "c1"), load) == "value 1"
    clock.now += 2  # 31 s after loading: expired
    assert cache.get((1, "class-home", "c1"), load) == "value 2"
    assert len(loads) == 2


def test_forget_drops_only_the_named_tenants() -> None:
    cache = HomeCache(30, timer=Clock())
    for key in [(1, "class-home", "a"), (1, "main-class", "b"), (2, "class-home", "a")]:
        cache.get(key, lambda: "cached")
    cache.forget({1})
    assert len(cache) == 1
    assert cache.get((2, "class-home", "a"), lambda: "reloaded") == "cached"
    assert cache.get((1, "class-home", "a"), lambda: "reloaded") == "reloaded"
    cache.forget({ALL})
    assert len(cache) == 0


def test_a_value_loaded_across_a_write_is_not_kept() -> None:
    """A reader that started before a commit may have read the old rows: it gets its value,
    but the cache does not keep it."""
    cache = HomeCache(30, timer=Clock())

    def load_while_a_write_lands() -> str:
        cache.forget({1})  # another thread commits a change meanwhile
        return "read before the write"

    assert cache.get((1, "class-home", "a"), load_while_a_write_lands) == "read before the write"
    assert cache.get((1, "class-home", "a"), lambda: "fresh") == "fresh"


def test_zero_seconds_turns_the_cache_off() -> None:
    cache = HomeCache(0)
    values = iter(["first", "second"])
    assert cache.get((1, "k"), lambda: next(values)) == "first"
    assert cache.get((1, "k"), lambda: next(values)) == "second"
    assert len(cache) == 0


def test_a_teachers_change_shows_on_a_cached_home_at_once(
    client: TestClient, container: Container
) -> None:
    """The learner's home is cached first; the teacher's period, material and notice (ORM
    writes) and clearing the period (a bulk UPDATE of links) each show on the next visit."""
    assert container.settings.portal_home_cache_seconds > 0
    sign_in(client, container, BOARD_CODE, PUPIL)
    before = client.get("/home").text
    assert "分数プリント" not in before
    assert len(home_cache(container)) > 0  # the class's parts are cached now

    place_lesson(client, container, CLASS_5_1, "算数", "分数", "分数プリント")
    post_class_notice(client, container, "あしたは遠足です")
    sign_in(client, container, BOARD_CODE, PUPIL)
    home = client.get("/home").text
    assert "分数プリント" in home
    assert "あしたは遠足です" in home

    sign_in(client, container, BOARD_CODE, TEACHER)
    cleared = client.post(
        f"/teach/classes/{CLASS_5_1}/timetable/{school_weekday(container)}/2",
        data={"subject": "", "unit_title": ""},
        follow_redirects=False,
    )
    assert cleared.status_code == 303
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert "分数プリント" not in client.get("/home").text


def test_a_rolled_back_write_keeps_the_cache(client: TestClient, container: Container) -> None:
    from tsunagu.timetable.models import Notice

    sign_in(client, container, BOARD_CODE, PUPIL)
    client.get("/home")
    cached = len(home_cache(container))
    assert cached > 0
    with container.database.session() as session:
        notice = session.query(Notice).first()
        session.rollback()
        # A flush marks the tenant stale; the rollback must drop that mark, not the cache.
        if notice is not None:
            notice.title = "draft"
            session.flush()
        session.rollback()
    assert len(home_cache(container)) == cached


def test_the_home_is_served_on_the_event_loop(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker-thread hop for the home (its reads are shorter than the hand-over)."""
    import threading

    ran_in: list[str] = []
    read = portal.learner_home

    def recording(*args: Any, **kwargs: Any) -> portal.LearnerHome:
        ran_in.append(threading.current_thread().name)
        return read(*args, **kwargs)

    monkeypatch.setattr(portal, "learner_home", recording)
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert client.get("/home").status_code == 200
    assert len(ran_in) == 1
    assert "worker" not in ran_in[0].lower()  # anyio's pool names its threads "AnyIO worker"


def test_with_redis_a_change_in_one_process_drops_the_entries_of_every_other(
    container: Container,
) -> None:
    """Two serving processes share Redis: a commit in one empties the tenant's entries in the
    other within the listener's poll, not after the entries' lifetime."""
    import time
    import uuid

    import redis

    from tests.identity.test_sessions import REDIS_URL
    from tsunagu.app import create_app
    from tsunagu.container import build_container
    from tsunagu.timetable.models import Notice

    prefix = f"tsunagu-test-{uuid.uuid4().hex[:8]}"
    shared = container.settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    )
    writer, reader = build_container(shared), build_container(shared)
    try:
        reader_cache = home_cache(reader)
        reader_cache.get((7, "class-home", "c1"), lambda: "cached")
        reader_cache.get((8, "class-home", "c1"), lambda: "tenant 8")
        # Another process's message names one tenant: only its entries go (a malformed
        # message is ignored).
        time.sleep(0.2)  # the listener subscribed
        publisher = redis.Redis.from_url(REDIS_URL)
        channel = f"{prefix}:portal:home-cache:forget"
        publisher.publish(channel, "not json")
        publisher.publish(channel, '{"from": "elsewhere", "tenants": ["8"]}')
        deadline = time.monotonic() + 5
        while len(reader_cache) == 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reader_cache) == 1
        assert reader_cache.get((7, "class-home", "c1"), lambda: "reloaded") == "cached"
        publisher.close()

        # The writing process serves pages but has shown no learner home yet: its app watches
        # its writes from startup all the same.
        with TestClient(create_app(container=writer)):
            time.sleep(0.2)
            with writer.database.session() as session:
                # A bulk UPDATE on a watched table (tenant unknown: every entry goes).
                session.execute(Notice.__table__.update().where(Notice.id == -1).values(title="x"))
                session.commit()
            deadline = time.monotonic() + 5
            while len(reader_cache) and time.monotonic() < deadline:
                time.sleep(0.05)
        assert len(reader_cache) == 0
    finally:
        writer.close()
        reader.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
