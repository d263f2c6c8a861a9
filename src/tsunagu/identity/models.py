"""Identity tables: server-side sessions, local passwords, external IdPs, QR cards, TOTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db.base import Base


class WebSession(Base):
    """A browser session kept on the server (the cookie carries only a random id).

    The row is keyed by a keyed hash of the id, so a copy of the database cannot be replayed as
    cookies.
    """

    __tablename__ = "identity_sessions"
    __table_args__ = (Index("ix_identity_sessions_expires", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: When the session ends at the latest (min of idle and absolute deadlines).
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LocalPassword(Base):
    """An argon2id password hash for a roster user without a cloud account."""

    __tablename__ = "identity_local_passwords"

    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_sourced_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdentityProvider(Base):
    """An external OpenID Provider a tenant signs in with (Google, Entra ID, any OIDC)."""

    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    #: ``google``, ``microsoft`` or ``oidc``.
    kind: Mapped[str] = mapped_column(String(16))
    #: What the sign-in button says.
    label: Mapped[str] = mapped_column(Text)
    discovery_url: Mapped[str] = mapped_column(Text)
    #: The exact ``iss`` every id_token must carry.
    issuer: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str] = mapped_column(Text)
    #: Client secret (confidential client at the IdP), sealed (:mod:`tsunagu.identity.sealing`):
    #: it must be presented, so it cannot be a one-way hash.
    client_secret: Mapped[str] = mapped_column(Text)
    #: Google: allowed ``hd`` values (space-separated). Entra: allowed ``tid`` values.
    allowed_domains: Mapped[str] = mapped_column(Text, default="")
    allowed_tenant_ids: Mapped[str] = mapped_column(Text, default="")
    scopes: Mapped[str] = mapped_column(Text, default="openid email profile")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class QrCard(Base):
    """A sign-in card: the QR code carries ``card_id.secret``; only a keyed hash is stored."""

    __tablename__ = "identity_qr_cards"
    __table_args__ = (Index("ix_identity_qr_cards_user", "tenant_id", "user_sourced_id"),)

    card_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"))
    user_sourced_id: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TotpSecret(Base):
    """An administrator's TOTP (RFC 6238) secret; confirmed once a first code was right.

    The secret is stored encrypted (Fernet under a key derived from the deployment key), so a
    copy of the database does not hand out administrators' second factors.
    """

    __tablename__ = "identity_totp"

    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_sourced_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The last accepted time step: a code is good once (RFC 6238 §5.2).
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class Operator(Base):
    """A deployment operator: a roster user granted the operator role by the CLI.

    Not from the roster (no OneRoster role means "runs the portal"); it administers its own
    tenant like a board administrator and, like every administrator, signs in with TOTP.
    """

    __tablename__ = "identity_operators"

    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_sourced_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
