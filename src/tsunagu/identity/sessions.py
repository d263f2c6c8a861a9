"""Server-side browser sessions: the cookie holds a random id, everything else stays here.

Sessions live in the database by default and in Redis when ``TSUNAGU_REDIS_URL`` is set, so
several app processes share them. Either store keys a session by a keyed hash of its id: a copy
of the store cannot be replayed as cookies. Timeouts (idle and absolute) are checked on every
request; the principal is cached in the session and rebuilt from the roster after
``session_principal_refresh_seconds``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Protocol

from anyio import to_thread
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from tsunagu.container import Container
from tsunagu.identity.models import WebSession
from tsunagu.identity.principal import ClassMembership, PortalRole, Principal
from tsunagu.machine_credentials import keyed_hash

log = logging.getLogger(__name__)

#: How often a busy session's last-seen time is written back (seconds): not on every request.
TOUCH_INTERVAL = 60


class SessionStore(Protocol):
    def load(self, session_id: str) -> dict[str, Any] | None: ...

    def save(self, session_id: str, data: dict[str, Any], ttl_seconds: int) -> None: ...

    def delete(self, session_id: str) -> None: ...


def new_session_id() -> str:
    """256 random bits (OWASP session management: at least 64 bits of entropy)."""
    return secrets.token_urlsafe(32)


class DatabaseSessionStore:
    def __init__(self, container: Container) -> None:
        self._database = container.database
        self._key = container.settings.resolved_secret_key

    def _hash(self, session_id: str) -> str:
        return keyed_hash(self._key, "session:" + session_id)

    def load(self, session_id: str) -> dict[str, Any] | None:
        with self._database.session() as session:
            row = session.get(WebSession, self._hash(session_id))
            if row is None:
                return None
            expires = row.expires_at
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            if expires <= datetime.now(UTC):
                return None
            return dict(row.data)

    def _relaxed(self, session: Session) -> None:
        # A session row is worth less than a commit's fsync: a crash loses at most the last
        # moment's sign-ins (they sign in again), never the database's consistency.
        if self._database.is_postgresql:
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def save(self, session_id: str, data: dict[str, Any], ttl_seconds: int) -> None:
        now = datetime.now(UTC)
        expires = datetime.fromtimestamp(time.time() + ttl_seconds, UTC)
        with self._database.transaction() as session:
            self._relaxed(session)
            row = session.get(WebSession, self._hash(session_id))
            if row is None:
                session.add(
                    WebSession(
                        id_hash=self._hash(session_id),
                        data=data,
                        created_at=now,
                        last_seen_at=now,
                        expires_at=expires,
                    )
                )
            else:
                row.data = data
                row.last_seen_at = now
                row.expires_at = expires

    def delete(self, session_id: str) -> None:
        with self._database.transaction() as session:
            self._relaxed(session)
            session.execute(delete(WebSession).where(WebSession.id_hash == self._hash(session_id)))

    def purge_expired(self) -> int:
        """Delete ended sessions (run from a periodic job; expired rows are never used)."""
        with self._database.transaction() as session:
            result = session.execute(
                delete(WebSession).where(WebSession.expires_at <= datetime.now(UTC))
            )
        return int(getattr(result, "rowcount", 0) or 0)


class RedisSessionStore:
    """Sessions in Redis, expiring by themselves (``SET … EX``)."""

    def __init__(self, container: Container) -> None:
        import redis

        self._client = redis.Redis.from_url(container.settings.redis_url)
        self._key = container.settings.resolved_secret_key
        self._prefix = container.settings.redis_key_prefix

    def _name(self, session_id: str) -> str:
        return f"{self._prefix}:session:" + keyed_hash(self._key, "session:" + session_id)

    def load(self, session_id: str) -> dict[str, Any] | None:
        raw = self._client.get(self._name(session_id))
        if raw is None:
            return None
        found: dict[str, Any] = json.loads(raw)
        return found

    def save(self, session_id: str, data: dict[str, Any], ttl_seconds: int) -> None:
        self._client.set(self._name(session_id), json.dumps(data), ex=max(1, ttl_seconds))

    def delete(self, session_id: str) -> None:
        self._client.delete(self._name(session_id))

    def close(self) -> None:
        self._client.close()


async def purge_periodically(container: Container, interval_seconds: float) -> None:
    """Delete ended database sessions every ``interval_seconds`` for as long as the app serves
    (its lifespan starts and cancels this). Redis sessions expire by themselves."""
    store = DatabaseSessionStore(container)
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            removed = await to_thread.run_sync(store.purge_expired)
        except Exception:  # a database hiccup must not end the loop (nor the app)
            log.exception("purging ended sessions failed; trying again next time")
            continue
        if removed:
            log.info("purged %d ended sessions", removed)


def _build_store(container: Container) -> SessionStore:
    if container.settings.redis_url:
        return RedisSessionStore(container)
    return DatabaseSessionStore(container)


def session_store(container: Container) -> SessionStore:
    store: SessionStore = container.runtime("identity.session_store", _build_store)
    return store


def principal_to_dict(principal: Principal) -> dict[str, Any]:
    data = asdict(principal)
    data["roles"] = sorted(r.value for r in principal.roles)
    data["school_sourced_ids"] = sorted(principal.school_sourced_ids)
    data["grades"] = list(principal.grades)
    data["memberships"] = [asdict(m) for m in principal.memberships]
    return data


def principal_from_dict(data: dict[str, Any]) -> Principal:
    return Principal(
        tenant_id=int(data["tenant_id"]),
        tenant_code=str(data["tenant_code"]),
        user_sourced_id=str(data["user_sourced_id"]),
        user_master_identifier=str(data["user_master_identifier"]),
        display_name=str(data["display_name"]),
        kana_name=str(data["kana_name"]),
        grades=tuple(data["grades"]),
        roles=frozenset(PortalRole(r) for r in data["roles"]),
        school_sourced_ids=frozenset(data["school_sourced_ids"]),
        memberships=tuple(ClassMembership(**m) for m in data["memberships"]),
    )
