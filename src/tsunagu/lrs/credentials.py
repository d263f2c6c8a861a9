"""LRS credentials: HTTP Basic key/secret pairs, each bound to one tenant, with xAPI scopes.

xAPI 1.0.3 Part Three §4 (Security) lets an LRS authenticate with HTTP Basic; §4.2 names the
scopes below. Secrets are 256-bit random values stored only as an HMAC-SHA256 under the
deployment key (as OAuth client secrets are, see :mod:`tsunagu.oauth.service`): a stolen database
yields nothing usable and verifying costs microseconds, where a slow password hash would cap the
LRS at a few dozen requests per second.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu import machine_credentials
from tsunagu.lrs.models import LrsCredential
from tsunagu.machine_credentials import as_utc, keyed_hash, split_scopes

# xAPI 1.0.3 Part Three §4.2 "OAuth Authorization Scope".
STATEMENTS_WRITE = "statements/write"
STATEMENTS_READ = "statements/read"
STATEMENTS_READ_MINE = "statements/read/mine"
STATE = "state"
PROFILE = "profile"
ALL_READ = "all/read"
ALL = "all"
SCOPES = (STATEMENTS_WRITE, STATEMENTS_READ, STATEMENTS_READ_MINE, STATE, PROFILE, ALL_READ, ALL)
DEFAULT_SCOPES = (ALL,)

_MAX_CREDENTIAL_LENGTH = 512


class CredentialAdminError(ValueError):
    """An administrative operation on LRS credentials was refused; the message says why."""


@dataclass(frozen=True)
class CredentialInfo:
    key: str
    name: str
    tenant_code: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "tenant": self.tenant_code,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class CreatedCredential:
    info: CredentialInfo
    #: Shown once, never stored.
    secret: str


@dataclass(frozen=True)
class LrsPrincipal:
    """Who a request speaks for: one credential of one tenant."""

    tenant_id: int
    credential_id: int | None
    key: str
    scopes: frozenset[str]

    def may(self, *accepted: str) -> bool:
        return bool(self.scopes & set(accepted))

    @property
    def reads_only_own(self) -> bool:
        """True when the only statement-read scope is ``statements/read/mine``."""
        return not self.may(STATEMENTS_READ, ALL_READ, ALL)


def authority_for(base_url: str, key: str) -> dict[str, Any]:
    """The ``authority`` Agent of statements stored with credential ``key`` (1.0.3 §2.4.9)."""
    return {"objectType": "Agent", "account": {"homePage": base_url, "name": key}}


def _info(row: LrsCredential, tenant_code: str) -> CredentialInfo:
    return CredentialInfo(
        key=row.key,
        name=row.name,
        tenant_code=tenant_code,
        scopes=split_scopes(row.scopes),
        created_at=as_utc(row.created_at),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
    )


def create_credential(
    session: Session,
    key: bytes,
    *,
    tenant_code: str,
    name: str,
    scopes: Sequence[str] = (),
    now: datetime | None = None,
) -> CreatedCredential:
    name = name.strip()
    if not name:
        raise CredentialAdminError("A credential needs a name (the tool or vendor it is for).")
    wanted = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip())) or DEFAULT_SCOPES
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise CredentialAdminError(
            f"unknown scope {', '.join(unknown)}; allowed: {', '.join(SCOPES)}"
        )
    row, tenant, secret = machine_credentials.register(
        session,
        LrsCredential(key=secrets.token_hex(16)),
        key,
        tenant_code=tenant_code,
        name=name,
        scopes=wanted,
        now=now,
    )
    return CreatedCredential(info=_info(row, tenant.code), secret=secret)


def list_credentials(session: Session, tenant_code: str) -> list[CredentialInfo]:
    tenant, rows = machine_credentials.of_tenant(session, LrsCredential, tenant_code)
    return [_info(r, tenant.code) for r in rows]


def revoke_credential(session: Session, key: str, now: datetime | None = None) -> CredentialInfo:
    found = machine_credentials.find_with_tenant(session, LrsCredential, LrsCredential.key, key)
    if found is None:
        raise CredentialAdminError(f"No LRS credential with key {key}.")
    credential, tenant_code = found
    machine_credentials.revoke(credential, now)
    session.flush()
    return _info(credential, tenant_code)


def authenticate(session: Session, key: bytes, user: str, secret: str) -> LrsPrincipal | None:
    """The principal of valid, unrevoked credentials, or None. Constant-time secret check."""
    row = None
    if len(user) <= _MAX_CREDENTIAL_LENGTH and "\x00" not in user:
        row = session.scalar(select(LrsCredential).where(LrsCredential.key == user))
    presented = keyed_hash(key, secret[:_MAX_CREDENTIAL_LENGTH])
    stored = row.secret_hash if row is not None else keyed_hash(key, "\0unknown-credential")
    ok = hmac.compare_digest(stored, presented)
    if row is None or not ok or row.revoked_at is not None:
        return None
    return LrsPrincipal(
        tenant_id=row.tenant_id,
        credential_id=row.id,
        key=row.key,
        scopes=frozenset(s for s in row.scopes.split(" ") if s),
    )


class CredentialVerifier:
    """:func:`authenticate` behind a short in-process cache of *valid* credentials.

    The cache key is the keyed hash of ``user:secret``, so a wrong secret never hits a cached
    entry. An entry lives ``ttl_seconds``: a credential revoked from the CLI stops working
    within that time. Failures are never cached.
    """

    def __init__(
        self,
        key: bytes,
        *,
        ttl_seconds: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, LrsPrincipal]] = {}

    def _cache_key(self, user: str, secret: str) -> str:
        return keyed_hash(
            self._key, f"{user[:_MAX_CREDENTIAL_LENGTH]}:{secret[:_MAX_CREDENTIAL_LENGTH]}"
        )

    def cached(self, user: str, secret: str) -> LrsPrincipal | None:
        """The principal if a live cache entry has it; no database (callable from the event
        loop, so the common case costs no thread hand-off)."""
        cache_key = self._cache_key(user, secret)
        with self._lock:
            hit = self._entries.get(cache_key)
        if hit is not None and self._clock() < hit[0]:
            return hit[1]
        return None

    def verify(
        self, session_factory: Callable[[], Session], user: str, secret: str
    ) -> LrsPrincipal | None:
        cache_key = self._cache_key(user, secret)
        tick = self._clock()
        with self._lock:
            hit = self._entries.get(cache_key)
        if hit is not None and tick < hit[0]:
            return hit[1]
        with session_factory() as session:
            found = authenticate(session, self._key, user, secret)
        with self._lock:
            self._entries.pop(cache_key, None)
            if found is not None and self._ttl > 0:
                while len(self._entries) >= self._max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[cache_key] = (tick + self._ttl, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
