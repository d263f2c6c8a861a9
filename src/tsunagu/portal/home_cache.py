"""The learner home's per-process cache of what every learner of a class sees alike.

At the first bell a whole grade opens the home within minutes: thirty pupils of a class ask for
the same timetable, materials, tools and school notices. Those parts are read once per class (and
once per school for the notices) and kept for ``portal_home_cache_seconds``; what is the pupil's
own (their recent study, their name) is read on every visit.

Staleness is bounded twice:

* time: an entry lives at most ``portal_home_cache_seconds`` (a change made through another
  server process shows within that time);
* writes: when this process commits a change to a table the home reads (timetable, notices,
  resource links, deployments, tools, classes, schools), it drops the tenant's entries at once,
  so a teacher who places a material or posts a notice sees it on a learner's home straight away.
  With Redis (``TSUNAGU_REDIS_URL``, several workers or servers) the process also publishes the
  tenants on a channel every serving process listens to, so the learner sees it at once whichever
  worker serves them. A message lost while Redis is away, or a change made by a process that
  serves no pages (a command-line roster import), still shows within the time bound.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache
from redis import exceptions as redis_errors
from sqlalchemy import event
from sqlalchemy.orm import Session

from tsunagu.container import Container

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Tables whose rows the cached parts are made of.
WATCHED_TABLES = frozenset(
    {
        "timetable_slots",
        "portal_notices",
        "lti_resource_links",
        "lti_deployments",
        "lti_tools",
        "roster_classes",
        "roster_orgs",
    }
)
#: Session.info key: tenants (or ``ALL``) whose entries a session's commit must drop.
_STALE = "tsunagu.portal.home_cache.stale"
ALL = "*"
#: Entries per process: a city's classes and schools fit (about 10,000 homerooms).
MAX_ENTRIES = 50_000


class HomeCache:
    def __init__(
        self,
        ttl_seconds: float,
        max_entries: int = MAX_ENTRIES,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = ttl_seconds > 0
        self._entries: TTLCache[tuple[Hashable, ...], Any] = TTLCache(
            maxsize=max_entries, ttl=max(ttl_seconds, 0.001), timer=timer
        )
        # TTLCache is not thread-safe: writes are watched in request threads, and the Redis
        # listener forgets entries from a thread of its own.
        self._lock = threading.Lock()
        #: Bumped by every :meth:`forget`: a value loaded across a forget may predate the write
        #: that caused it, so it is returned but not kept.
        self._generation = 0
        self.on_close: Callable[[], None] = lambda: None

    def close(self) -> None:
        """Stop watching writes (the container closes its runtime objects)."""
        self.on_close()
        with self._lock:
            self._entries.clear()

    def get(self, key: tuple[Hashable, ...], load: Callable[[], T]) -> T:
        """The cached value of ``key`` (its first item is the tenant id), loaded on a miss.

        ``load`` runs outside the lock: two threads missing the same key both read it, which is
        cheaper than making every other class's readers wait."""
        if not self.enabled:
            return load()
        with self._lock:
            found = self._entries.get(key, _MISSING)
            generation = self._generation
        if found is not _MISSING:
            value: T = found
            return value
        value = load()
        with self._lock:
            if generation == self._generation:
                self._entries[key] = value
        return value

    def forget(self, tenant_ids: set[Any]) -> None:
        """Drop the entries of these tenants (``ALL`` among them: every entry)."""
        with self._lock:
            self._generation += 1
            if ALL in tenant_ids:
                self._entries.clear()
                return
            for key in [k for k in self._entries if k[0] in tenant_ids]:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


_MISSING = object()


def home_cache(container: Container) -> HomeCache:
    cache: HomeCache = container.runtime("portal.home_cache", _build)
    return cache


def _build(container: Container) -> HomeCache:
    cache = HomeCache(container.settings.portal_home_cache_seconds)
    _watch_writes(container, cache)
    return cache


def _watch_writes(container: Container, cache: HomeCache) -> None:
    """Drop a tenant's entries when this process commits a change to a watched table."""
    sessions = container.database.sessions

    def mark(session: Session, tenants: set[Any]) -> None:
        session.info.setdefault(_STALE, set()).update(tenants)

    def after_flush(session: Session, _context: Any) -> None:
        tenants: set[Any] = set()
        for instance in (*session.new, *session.dirty, *session.deleted):
            table = getattr(type(instance), "__tablename__", None)
            if table in WATCHED_TABLES:
                tenants.add(getattr(instance, "tenant_id", ALL))
        if tenants:
            mark(session, tenants)

    def do_orm_execute(state: Any) -> None:
        # Bulk UPDATE/DELETE/INSERT statements run through the session (no unit of work):
        # the tenant is not known here, so the whole cache goes.
        if state.is_update or state.is_delete or state.is_insert:
            tables = {t.name for t in getattr(state.statement, "_all_froms", lambda: [])()}
            target = getattr(getattr(state.statement, "table", None), "name", None)
            if target in WATCHED_TABLES or tables & WATCHED_TABLES:
                mark(state.session, {ALL})

    broadcast = _Broadcast(container, cache) if container.settings.redis_url else None

    def after_commit(session: Session) -> None:
        stale = session.info.pop(_STALE, None)
        if stale:
            cache.forget(stale)
            if broadcast is not None:
                broadcast.publish(stale)

    def after_rollback(session: Session) -> None:
        # Nothing of the rolled-back work reached the database.
        session.info.pop(_STALE, None)

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("after_flush", after_flush),
        ("do_orm_execute", do_orm_execute),
        ("after_commit", after_commit),
        ("after_rollback", after_rollback),
    ]
    for name, listener in listeners:
        event.listen(sessions, name, listener)

    def unwatch() -> None:
        for name, listener in listeners:
            event.remove(sessions, name, listener)
        if broadcast is not None:
            broadcast.close()

    cache.on_close = unwatch


class _Broadcast:
    """The tenants whose entries a commit made stale, told to every other serving process.

    Redis pub/sub: fire and forget, so a process that is not listening at that moment misses
    the message, and the entry's lifetime is then the bound, as it was before."""

    def __init__(self, container: Container, cache: HomeCache) -> None:
        import redis

        settings = container.settings
        self.channel = f"{settings.redis_key_prefix}:portal:home-cache:forget"
        #: Our own messages are skipped: this process forgot before publishing.
        self.sender = uuid.uuid4().hex
        self.cache = cache
        self.client = redis.Redis.from_url(settings.redis_url)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self.pubsub.subscribe(**{self.channel: self._received})
        self.listener = self.pubsub.run_in_thread(
            sleep_time=1.0, daemon=True, exception_handler=self._listener_failed
        )

    def publish(self, tenants: set[Any]) -> None:
        message = json.dumps({"from": self.sender, "tenants": sorted(map(str, tenants))})
        try:
            self.client.publish(self.channel, message)
        except redis_errors.RedisError:
            # The commit stands; other processes fall back on the entries' lifetime.
            log.warning("could not tell other processes about a home cache change", exc_info=True)

    def _received(self, message: dict[str, Any]) -> None:
        try:
            body = json.loads(message["data"])
            if body.get("from") == self.sender:
                return
            tenants = {ALL if t == ALL else int(t) for t in body["tenants"]}
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed home cache message on %s", self.channel)
            return
        self.cache.forget(tenants)

    def _listener_failed(self, error: BaseException, pubsub: Any, thread: Any) -> None:
        # Redis went away: entries may have missed a change meanwhile, so none is trusted.
        log.warning("home cache listener: %s; retrying", error)
        self.cache.forget({ALL})
        time.sleep(1.0)

    def close(self) -> None:
        self.listener.stop()
        self.listener.join(timeout=5)
        self.pubsub.close()
        self.client.close()
