"""OAuth 2.0 client credentials (RFC 6749 §4.4): clients, their secrets, and bearer tokens.

Both secrets and tokens are 256-bit random values, so they are stored only as an HMAC-SHA256 under
the deployment key: a stolen database yields nothing usable, and checking costs microseconds (a
slow password hash buys nothing against 256 bits of entropy). A client belongs to exactly one
tenant; so does every token issued to it, and every API that accepts the token serves that tenant
only.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tsunagu import machine_credentials
from tsunagu.machine_credentials import as_utc, keyed_hash, split_scopes, utcnow
from tsunagu.oauth.models import OAuthClient, OAuthToken
from tsunagu.oauth.scopes import UnknownScopeError, is_known_uri, resolve_scope

#: Longest credential we bother hashing; anything longer cannot be one of ours.
_MAX_CREDENTIAL_LENGTH = 512


class OAuthError(Exception):
    """A token request refused with an RFC 6749 §5.2 error code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class ClientAdminError(ValueError):
    """An administrative operation on clients was refused; the message says why."""


@dataclass(frozen=True)
class ClientInfo:
    client_id: str
    name: str
    tenant_code: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedClient:
    info: ClientInfo
    #: Shown once, never stored.
    secret: str


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 (RFC 6750 token type)


@dataclass(frozen=True)
class Principal:
    """Who a valid bearer token speaks for."""

    tenant_id: int
    client_id: str
    scopes: frozenset[str]
    expires_at: datetime


def _info(client: OAuthClient, tenant_code: str) -> ClientInfo:
    return ClientInfo(
        client_id=client.client_id,
        name=client.name,
        tenant_code=tenant_code,
        scopes=split_scopes(client.scopes),
        created_at=as_utc(client.created_at),
        revoked_at=as_utc(client.revoked_at) if client.revoked_at else None,
    )


# --- administration (CLI) ------------------------------------------------------------------


def create_client(
    session: Session,
    key: bytes,
    *,
    tenant_code: str,
    name: str,
    scopes: Sequence[str],
    now: datetime | None = None,
) -> CreatedClient:
    """Register a client of one tenant with the given scopes (URIs or their aliases)."""
    name = name.strip()
    if not name:
        raise ClientAdminError("A client needs a name (the tool or vendor it is for).")
    if not scopes:
        raise ClientAdminError("Grant at least one scope (--scope roster-core.readonly).")
    try:
        uris = tuple(dict.fromkeys(resolve_scope(s) for s in scopes))
    except UnknownScopeError as exc:
        raise ClientAdminError(str(exc)) from exc
    client, tenant, secret = machine_credentials.register(
        session,
        OAuthClient(client_id=str(uuid.uuid4())),
        key,
        tenant_code=tenant_code,
        name=name,
        scopes=uris,
        now=now,
    )
    return CreatedClient(info=_info(client, tenant.code), secret=secret)


def list_clients(session: Session, tenant_code: str) -> list[ClientInfo]:
    tenant, clients = machine_credentials.of_tenant(session, OAuthClient, tenant_code)
    return [_info(c, tenant.code) for c in clients]


def revoke_client(session: Session, client_id: str, now: datetime | None = None) -> ClientInfo:
    """Revoke a client and every token it holds (its tokens stop working at once)."""
    found = machine_credentials.find_with_tenant(
        session, OAuthClient, OAuthClient.client_id, client_id
    )
    if found is None:
        raise ClientAdminError(f"No OAuth client with client_id {client_id}.")
    client, tenant_code = found
    machine_credentials.revoke(client, now)
    session.execute(delete(OAuthToken).where(OAuthToken.client_pk == client.id))
    session.flush()
    return _info(client, tenant_code)


# --- the token endpoint --------------------------------------------------------------------


def authenticate_client(session: Session, key: bytes, client_id: str, secret: str) -> OAuthClient:
    """The client these credentials prove, or ``invalid_client`` (RFC 6749 §5.2)."""
    client = None
    plausible = len(client_id) <= _MAX_CREDENTIAL_LENGTH and len(secret) <= _MAX_CREDENTIAL_LENGTH
    # NUL never occurs in a client id, and PostgreSQL refuses it in a query parameter.
    if plausible and "\x00" not in client_id:
        client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    presented = keyed_hash(key, secret[:_MAX_CREDENTIAL_LENGTH])
    # Compare even when the client is unknown so both failures cost the same.
    stored = client.secret_hash if client is not None else keyed_hash(key, "\0unknown-client")
    secret_ok = hmac.compare_digest(stored, presented)
    if client is None or not secret_ok or client.revoked_at is not None:
        raise OAuthError("invalid_client", "Client authentication failed.")
    return client


def _granted_scopes(client: OAuthClient, requested: str | None) -> tuple[str, ...]:
    granted = split_scopes(client.scopes)
    if requested is None or not requested.strip():
        # RFC 6749 §3.3: without a scope parameter the server applies a default; ours is
        # everything the client was granted.
        return granted
    wanted = tuple(dict.fromkeys(split_scopes(requested)))
    not_granted = [s for s in wanted if s not in granted]
    if not_granted:
        unknown = [s for s in not_granted if not is_known_uri(s)]
        reason = "unknown" if unknown else "not granted to this client"
        raise OAuthError("invalid_scope", f"Scope {reason}: {' '.join(not_granted)[:200]}")
    return wanted


def issue_token(
    session: Session,
    key: bytes,
    *,
    client_id: str,
    client_secret: str,
    requested_scope: str | None,
    lifetime_seconds: int,
    now: datetime | None = None,
) -> IssuedToken:
    """Authenticate a client and issue an opaque bearer token (RFC 6749 §4.4.2-§4.4.3)."""
    now = now or utcnow()
    client = authenticate_client(session, key, client_id, client_secret)
    scopes = _granted_scopes(client, requested_scope)
    # Keep the table small: a client's expired tokens go when it asks for a new one.
    session.execute(
        delete(OAuthToken).where(OAuthToken.client_pk == client.id, OAuthToken.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        OAuthToken(
            token_hash=keyed_hash(key, token),
            client_pk=client.id,
            tenant_id=client.tenant_id,
            scopes=" ".join(scopes),
            expires_at=now + timedelta(seconds=lifetime_seconds),
        )
    )
    session.flush()
    return IssuedToken(access_token=token, expires_in=lifetime_seconds, scope=" ".join(scopes))


def lookup_token(
    session: Session, key: bytes, token: str, now: datetime | None = None
) -> Principal | None:
    """The principal of a live token, or None. One primary-key lookup (joined to its client)."""
    if not token or len(token) > _MAX_CREDENTIAL_LENGTH:
        return None
    row = session.execute(
        select(
            OAuthToken.tenant_id, OAuthToken.scopes, OAuthToken.expires_at, OAuthClient.client_id
        )
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
        .where(OAuthToken.token_hash == keyed_hash(key, token), OAuthClient.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    tenant_id, scopes, expires_at, client_id = row
    expires_at = as_utc(expires_at)
    if expires_at <= (now or utcnow()):
        return None
    return Principal(
        tenant_id=tenant_id,
        client_id=client_id,
        scopes=frozenset(split_scopes(scopes)),
        expires_at=expires_at,
    )


class TokenVerifier:
    """:func:`lookup_token` behind a small in-process cache of *valid* tokens.

    A rostering sync makes hundreds of page requests with one token; the cache saves a database
    round trip on each. An entry lives ``ttl_seconds`` at most and never past the token's own
    expiry, so a client revoked from another process (the CLI) loses access within that TTL.
    Unknown tokens are never cached.
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
        self._entries: dict[str, tuple[float, Principal]] = {}

    def verify(self, session: Session, token: str, now: datetime | None = None) -> Principal | None:
        now = now or utcnow()
        cache_key = keyed_hash(self._key, token[:_MAX_CREDENTIAL_LENGTH])
        tick = self._clock()
        with self._lock:
            hit = self._entries.get(cache_key)
        if hit is not None:
            fresh_until, principal = hit
            if tick < fresh_until and principal.expires_at > now:
                return principal
            self.forget([cache_key])
        found = lookup_token(session, self._key, token, now)
        if found is not None and self._ttl > 0:
            with self._lock:
                while len(self._entries) >= self._max_entries:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[cache_key] = (tick + self._ttl, found)
        return found

    def forget(self, cache_keys: Iterable[str]) -> None:
        with self._lock:
            for cache_key in cache_keys:
                self._entries.pop(cache_key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
