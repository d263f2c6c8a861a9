"""LTI tables: platform keys, tools and their deployments, resource links, AGS data, replay guards.

Tools are registered once for the whole deployment (a vendor's tool is the same for every board);
what a board sees is governed by *deployments*, which belong to one tenant
(``B_`` + 教育委員会コード) or one school of it (``S_`` + 学校コード), eportal-standard.md §3.5.
Everything a launch creates (resource links, line items, results) carries its tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db.base import Base

#: Key states (rotation): published before it signs, published after it stops signing.
KEY_NEXT = "next"
KEY_CURRENT = "current"
KEY_RETIRING = "retiring"
KEY_RETIRED = "retired"

TOOL_ACTIVE = "active"
TOOL_PENDING = "pending"
TOOL_REJECTED = "rejected"


class PlatformKey(Base):
    """An RSA key pair the platform signs id_tokens with (RS256, published in the JWKS)."""

    __tablename__ = "lti_platform_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    #: The private key as PKCS#8 PEM, AES-GCM encrypted under a key derived from the deployment
    #: secret (never stored or logged in clear); emptied when the key is retired.
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: When it stopped signing: it stays published until every token it signed has expired.
    retiring_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: When it leaves the JWKS.
    unpublish_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PlatformInstance(Base):
    """Per tenant: the ``tool_platform.guid`` (UUID v4) tools see for this board's portal."""

    __tablename__ = "lti_platform_instances"

    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    guid: Mapped[str] = mapped_column(String(36), unique=True)


class Tool(Base):
    """An LTI 1.3 tool registration (manual or LTI Dynamic Registration)."""

    __tablename__ = "lti_tools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=TOOL_ACTIVE)
    login_initiation_url: Mapped[str] = mapped_column(Text)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    jwks_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: A public JWK (or JWK set) given instead of a JWKS URL.
    public_jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    target_link_uri: Mapped[str] = mapped_column(Text)
    deep_linking_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    icon_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Space-separated LTI Advantage scopes the tool may obtain tokens for.
    scopes: Mapped[str] = mapped_column(Text, default="")
    #: Privacy by default: names and e-mail travel only when the registration asks and is granted.
    send_name: Mapped[bool] = mapped_column(Boolean, default=False)
    send_email: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    contact_email: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The raw Dynamic Registration request (for the approving administrator to read).
    registration_request: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: For a dynamic registration: where the deployment goes once approved.
    pending_tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pending_school_code: Mapped[str | None] = mapped_column(String(13), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Deployment(Base):
    """A tool made available to a whole tenant or to one school of it."""

    __tablename__ = "lti_deployments"
    __table_args__ = (
        UniqueConstraint("tool_id", "deployment_id"),
        Index("ix_lti_deployments_tenant", "tenant_id", "tool_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool_id: Mapped[int] = mapped_column(Integer, ForeignKey("lti_tools.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"))
    #: ``B_`` + 教育委員会コード or ``S_`` + 学校コード (eportal-standard.md §3.5).
    deployment_id: Mapped[str] = mapped_column(String(255))
    #: The school's OneRoster sourcedId for an ``S_`` deployment, empty for a board deployment.
    school_sourced_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ResourceLink(Base):
    """A placed link to content in a tool: for a class, optionally a timetable period."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (
        Index("ix_lti_resource_links_class", "tenant_id", "class_sourced_id", "placement"),
    )

    #: The ``resource_link.id`` tools see (a UUID).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"))
    deployment_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("lti_deployments.id", ondelete="CASCADE")
    )
    class_sourced_id: Mapped[str] = mapped_column(String(64))
    #: An opaque string the portal uses (e.g. ``timetable:<slot id>``).
    placement: Mapped[str | None] = mapped_column(String(255), nullable=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Where the launch goes (empty: the tool's target link URI).
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    custom: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    line_item_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LineItem(Base):
    """An AGS 2.0 line item (a column in the grade book) in one context (class)."""

    __tablename__ = "lti_line_items"
    __table_args__ = (Index("ix_lti_line_items_context", "tenant_id", "context_id", "tool_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"))
    tool_id: Mapped[int] = mapped_column(Integer, ForeignKey("lti_tools.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(64))
    resource_link_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    tag: Mapped[str | None] = mapped_column(Text, nullable=True)
    label: Mapped[str] = mapped_column(Text)
    score_maximum: Mapped[float] = mapped_column(Float)
    start_date_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    end_date_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Result(Base):
    """The latest score of one learner on one line item (AGS 2.0 result)."""

    __tablename__ = "lti_results"
    __table_args__ = (UniqueConstraint("line_item_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_item_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("lti_line_items.id", ondelete="CASCADE")
    )
    #: The learner's LTI ``sub`` (userMasterIdentifier).
    user_id: Mapped[str] = mapped_column(String(64))
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(Float, nullable=True)
    activity_progress: Mapped[str] = mapped_column(String(16))
    grading_progress: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The tool's timestamp of the score (AGS: older updates must not replace newer ones).
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsedValue(Base):
    """One-time values (auth-request nonces, client-assertion ``jti``s, DL nonces) until expiry."""

    __tablename__ = "lti_used_values"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AccessToken(Base):
    """A service access token issued to a tool (only its keyed hash is stored)."""

    __tablename__ = "lti_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool_id: Mapped[int] = mapped_column(Integer, ForeignKey("lti_tools.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RegistrationToken(Base):
    """A one-time token an administrator hands a tool to start LTI Dynamic Registration."""

    __tablename__ = "lti_registration_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"))
    school_code: Mapped[str | None] = mapped_column(String(13), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
