"""Platform signing keys: RS256 key pairs with ``kid``, the public JWKS, and rotation.

Rotation follows the usual publish-before-use rule (lti-oneroster-notes.md §1.4.3): a key is
first published as ``next`` (in the JWKS, not signing), rotation makes it ``current`` (signing)
only once it has been published for ``lti_key_publish_lead_seconds`` (tools cache JWKS), and the
old current key becomes ``retiring``: still published until every token it signed has expired,
then ``retired`` (unpublished, its private key erased). A new ``next`` is created at each rotation.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.container import Container
from tsunagu.lti.models import KEY_CURRENT, KEY_NEXT, KEY_RETIRED, KEY_RETIRING, PlatformKey
from tsunagu.lti.sealing import open_bytes, seal_bytes
from tsunagu.machine_credentials import as_utc, utcnow
from tsunagu.settings import Settings

_PURPOSE = "platform-private-key"
#: Slack beyond the id_token lifetime before a retiring key leaves the JWKS (clock skew, caches).
RETIRE_SLACK_SECONDS = 300


class KeyRotationError(RuntimeError):
    """Rotation was refused; the message says why."""


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    state: str
    created_at: datetime
    activated_at: datetime | None
    retiring_at: datetime | None
    unpublish_at: datetime | None


def _info(row: PlatformKey) -> KeyInfo:
    return KeyInfo(
        kid=row.kid,
        state=row.state,
        created_at=as_utc(row.created_at),
        activated_at=as_utc(row.activated_at) if row.activated_at else None,
        retiring_at=as_utc(row.retiring_at) if row.retiring_at else None,
        unpublish_at=as_utc(row.unpublish_at) if row.unpublish_at else None,
    )


def _new_key(session: Session, settings: Settings, state: str, now: datetime) -> PlatformKey:
    key = RSAKey.generate_key(2048)
    kid = key.thumbprint()  # RFC 7638: stable, derived from the public key
    public = dict(key.as_dict(private=False))
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    pem = key.as_pem(private=True)
    row = PlatformKey(
        kid=kid,
        state=state,
        private_key_encrypted=seal_bytes(settings.resolved_secret_key, _PURPOSE, pem),
        public_jwk=public,
        created_at=now,
        activated_at=now if state == KEY_CURRENT else None,
    )
    session.add(row)
    session.flush()
    return row


def _by_state(session: Session, state: str) -> list[PlatformKey]:
    return list(
        session.scalars(
            select(PlatformKey).where(PlatformKey.state == state).order_by(PlatformKey.id)
        )
    )


def _retire_expired(session: Session, now: datetime) -> None:
    for row in _by_state(session, KEY_RETIRING):
        if row.unpublish_at is not None and as_utc(row.unpublish_at) <= now:
            row.state = KEY_RETIRED
            row.private_key_encrypted = ""


def ensure_keys(session: Session, settings: Settings, now: datetime | None = None) -> None:
    """A first installation gets a current key and a published next one."""
    now = now or utcnow()
    if not _by_state(session, KEY_CURRENT):
        _new_key(session, settings, KEY_CURRENT, now)
    if not _by_state(session, KEY_NEXT):
        _new_key(session, settings, KEY_NEXT, now)


def rotate(
    session: Session, settings: Settings, *, force: bool = False, now: datetime | None = None
) -> KeyInfo:
    """Promote ``next`` to ``current``, retire the old current key, publish a new ``next``.

    Returns the new current key.
    """
    now = now or utcnow()
    _retire_expired(session, now)
    nexts = _by_state(session, KEY_NEXT)
    if not nexts:
        ensure_keys(session, settings, now)
        nexts = _by_state(session, KEY_NEXT)
        if not force and settings.lti_key_publish_lead_seconds > 0:
            raise KeyRotationError(
                "No key was published ahead of time; one is now published as 'next'. Run the "
                f"rotation again in {settings.lti_key_publish_lead_seconds} s (or use --force)."
            )
    promoted = nexts[0]
    published_for = (now - as_utc(promoted.created_at)).total_seconds()
    if not force and published_for < settings.lti_key_publish_lead_seconds:
        wait = int(settings.lti_key_publish_lead_seconds - published_for) + 1
        raise KeyRotationError(
            f"The next key {promoted.kid} has been published for only {int(published_for)} s; "
            f"tools may not have fetched it yet. Rotate again in {wait} s (or use --force)."
        )
    lifetime = settings.lti_id_token_lifetime_seconds + RETIRE_SLACK_SECONDS
    for old in _by_state(session, KEY_CURRENT):
        old.state = KEY_RETIRING
        old.retiring_at = now
        old.unpublish_at = now + timedelta(seconds=lifetime)
    promoted.state = KEY_CURRENT
    promoted.activated_at = now
    _new_key(session, settings, KEY_NEXT, now)
    session.flush()
    _SIGNING_CACHE.clear()
    return _info(promoted)


def list_keys(session: Session) -> list[KeyInfo]:
    return [_info(r) for r in session.scalars(select(PlatformKey).order_by(PlatformKey.id))]


def public_jwks(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """The JWKS tools verify with: next, current and still-published retiring keys."""
    now = now or utcnow()
    keys = []
    for row in session.scalars(
        select(PlatformKey)
        .where(PlatformKey.state.in_((KEY_NEXT, KEY_CURRENT, KEY_RETIRING)))
        .order_by(PlatformKey.id)
    ):
        if row.state == KEY_RETIRING and (
            row.unpublish_at is None or as_utc(row.unpublish_at) <= now
        ):
            continue
        keys.append(dict(row.public_jwk))
    return {"keys": keys}


# --- signing ---------------------------------------------------------------------------------

#: id(container) → (the container, loaded at monotonic time, kid, key). Reloaded every few
#: seconds so a rotation done by the CLI reaches every app process quickly (the old key stays
#: published meanwhile).
_SIGNING_CACHE: dict[int, tuple[weakref.ref[Container], float, str, RSAKey]] = {}
_CACHE_SECONDS = 15.0
_LOCK = threading.Lock()


def signing_key(container: Container) -> tuple[str, RSAKey]:
    cache_key = id(container)
    cached = _SIGNING_CACHE.get(cache_key)
    if (
        cached is not None
        and cached[0]() is container
        and time.monotonic() - cached[1] < _CACHE_SECONDS
    ):
        return cached[2], cached[3]
    with _LOCK:
        with container.database.transaction() as session:
            rows = _by_state(session, KEY_CURRENT)
            if not rows:
                ensure_keys(session, container.settings)
                rows = _by_state(session, KEY_CURRENT)
            row = rows[-1]
            pem = open_bytes(
                container.settings.resolved_secret_key, _PURPOSE, row.private_key_encrypted
            )
            kid = row.kid
        key = RSAKey.import_key(pem)
        _SIGNING_CACHE[cache_key] = (weakref.ref(container), time.monotonic(), kid, key)
        return kid, key


def sign_jwt(container: Container, claims: dict[str, Any]) -> str:
    """An RS256 JWT over ``claims`` with the current platform key (``kid`` in the header)."""
    kid, key = signing_key(container)
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key)
