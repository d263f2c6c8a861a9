"""LRS tables: credentials, statements as received, and the index tables queries filter on.

A statement's JSON is kept whole in :class:`Statement` (JSONB on PostgreSQL); every filter of the
statement query (xAPI 1.0.3 Part Three §2.1.3, IEEE 9274.1.1 §… "GET Statements") is served by a
narrow index table keyed by ``(tenant_id, value, seq)`` instead of a JSON scan, so a filtered
page is an index range read in ``seq`` order at any table size.

On PostgreSQL ``lrs_statements`` is partitioned by month of ``stored`` (migration 0004,
:mod:`tsunagu.lrs.partitions`); SQLite keeps one plain table with the same columns and indexes.
A partitioned table's unique keys must contain the partition key, so "one statement per
``(tenant, id)``" is enforced by :class:`StatementId`, a narrow unpartitioned table every store
inserts into in the same transaction (and which answers the immutability and voiding checks).

The index tables carry no foreign key to ``lrs_statements``: statements are immutable and never
deleted through the API, and the per-row check would slow batch inserts (the roster tables made
the same choice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db.base import Base
from tsunagu.machine_credentials import MachineCredential

#: JSON everywhere, JSONB on PostgreSQL (indexable, compact, fast to read back).
JsonDocument = JSON().with_variant(JSONB(), "postgresql")
#: BIGINT on PostgreSQL; SQLite needs INTEGER PRIMARY KEY to make it the autoincrementing rowid.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class LrsCredential(MachineCredential, Base):
    """A key/secret pair for HTTP Basic on ``/xapi`` (one tool of one tenant); its scopes are
    xAPI's (1.0.3 Part Three §4.2)."""

    __tablename__ = "lrs_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The Basic user name; also the ``authority.account.name`` of what it stores.
    key: Mapped[str] = mapped_column(String(64), unique=True)


class Statement(Base):
    """One stored statement. ``seq`` orders ``stored`` and is the keyset of ``more`` links.

    The primary key on PostgreSQL is ``(seq, stored)`` (a partitioned table's keys include the
    partition key); ``seq`` alone identifies a row everywhere. Uniqueness of
    ``(tenant_id, statement_id)``: :class:`StatementId`.
    """

    __tablename__ = "lrs_statements"
    __table_args__ = (
        Index("ix_lrs_statements_statement_id", "tenant_id", "statement_id"),
        Index("ix_lrs_statements_tenant_seq", "tenant_id", "seq"),
        Index("ix_lrs_statements_stored", "tenant_id", "stored"),
        Index("ix_lrs_statements_verb", "tenant_id", "verb_id", "seq"),
        Index("ix_lrs_statements_registration", "tenant_id", "registration", "seq"),
        # Partial: most statements reference none, and a NULL key would be one more index
        # entry per insert for nothing (the StatementRef pass asks ``ref_target IS NOT NULL``).
        Index(
            "ix_lrs_statements_ref_target",
            "tenant_id",
            "ref_target",
            postgresql_where=text("ref_target IS NOT NULL"),
            sqlite_where=text("ref_target IS NOT NULL"),
        ),
        Index("ix_lrs_statements_credential", "tenant_id", "credential_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    statement_id: Mapped[str] = mapped_column(String(36))
    #: The credential whose authority stored it (``statements/read/mine``); None in-process.
    credential_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    verb_id: Mapped[str] = mapped_column(Text)
    registration: Mapped[str | None] = mapped_column(String(36), nullable=True)
    voided: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The statement id a voiding statement voids (``object.id`` of a ``voided`` statement).
    voiding_target: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: The statement id a StatementRef object points at (voiding statements included): queries
    #: also return statements whose target matches (1.0.3 Part Three §2.1.3).
    ref_target: Mapped[str | None] = mapped_column(String(36), nullable=True)
    stored: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: SHA-256 of the canonical form used for the immutability comparison.
    content_hash: Mapped[str] = mapped_column(String(64))
    #: The statement as received, plus id/stored/authority/version/timestamp the LRS sets.
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # The Japan xAPI profile match (xapi-notes.md §1.8: advisory tags), written in the same
    # INSERT as the statement so tagging costs no extra round trip; two columns only (every
    # non-NULL value costs the batched INSERT measurably). Both NULL when the statement claims
    # no Japan profile (no category activity with a profile IRI).
    #: The matched template's stable id (``lms.launched``); NULL when none matched.
    profile_template: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Space-separated ids of the rules broken and recommended items missing (the severity of
    #: each is in the profile data); ``<domain>.no-template`` for a claim no template matched.
    #: NULL when there is nothing to say.
    profile_rules: Mapped[str | None] = mapped_column(Text, nullable=True)


class StatementId(Base):
    """The unique key of statements: one row per ``(tenant, statement id)``, never partitioned.

    Written in the same transaction as the statement, so two writers racing on one new id meet
    on this primary key (the loser retries and compares, see ``store_with_retry``). It also
    carries what the write path checks before storing (content hash for immutability, voiding
    target for the voiding rules), so those checks are one primary-key read, not one probe per
    partition.
    """

    __tablename__ = "lrs_statement_ids"
    # Partial: only voiding statements have a target (the lookup is ``= ANY(ids)``).
    __table_args__ = (
        Index(
            "ix_lrs_statement_ids_voiding",
            "tenant_id",
            "voiding_target",
            postgresql_where=text("voiding_target IS NOT NULL"),
            sqlite_where=text("voiding_target IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(SeqType)
    content_hash: Mapped[str] = mapped_column(String(64))
    voiding_target: Mapped[str | None] = mapped_column(String(36), nullable=True)


class StatementAgent(Base):
    """An agent or group IFI a statement mentions (``agent`` / ``related_agents`` filters).

    ``related`` is false for the actor and an Agent/Group object (what ``agent=`` matches) and
    true for every other place (authority, instructor, team, sub-statement parts, context agents
    and groups, group members), which only ``related_agents=true`` matches.
    """

    __tablename__ = "lrs_statement_agents"
    # The primary key is the filter's index (one index per table: every index is one more
    # entry per statement written); PostgreSQL carries stored/related in it for index-only
    # scans.
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id",
            "ifi",
            "seq",
            name="pk_lrs_statement_agents",
            postgresql_include=["stored", "related"],
        ),
    )

    seq: Mapped[int] = mapped_column(SeqType, autoincrement=False)
    ifi: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[int] = mapped_column(Integer)
    related: Mapped[bool] = mapped_column(Boolean)
    #: The statement's ``stored`` (its partition key, see the module docstring): a filter joins
    #: on ``(seq, stored)`` so PostgreSQL probes one partition per candidate, not every month.
    stored: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatementActivity(Base):
    """An activity id a statement mentions (``activity`` / ``related_activities`` filters).

    ``related`` is false for the object Activity and true for context activities and
    sub-statement parts.
    """

    __tablename__ = "lrs_statement_activities"
    __table_args__ = (
        PrimaryKeyConstraint(
            "tenant_id",
            "activity_id",
            "seq",
            name="pk_lrs_statement_activities",
            postgresql_include=["stored", "related"],
        ),
    )

    seq: Mapped[int] = mapped_column(SeqType, autoincrement=False)
    activity_id: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[int] = mapped_column(Integer)
    related: Mapped[bool] = mapped_column(Boolean)
    #: The statement's ``stored`` (partition key), as in :class:`StatementAgent`.
    stored: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Activity(Base):
    """The LRS's canonical definition of an activity (xAPI 1.0.3 Part Three §2.5 Activities)."""

    __tablename__ = "lrs_activities"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[str] = mapped_column(Text, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    #: Digest of ``definition``: an unchanged definition is never rewritten.
    definition_hash: Mapped[str] = mapped_column(String(64))


class Document(Base):
    """A State, Activity Profile or Agent Profile document (1.0.3 Part Three §2.3, §2.6, §2.7).

    One table for the three resources: ``kind`` says which, and the parts of the key a resource
    does not use are empty strings (so one unique constraint covers all three).
    """

    __tablename__ = "lrs_documents"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "kind", "activity_id", "agent_ifi", "registration", "document_id"
        ),
        Index("ix_lrs_documents_set", "tenant_id", "kind", "activity_id", "agent_ifi"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    #: ``state``, ``activity_profile`` or ``agent_profile``.
    kind: Mapped[str] = mapped_column(String(16))
    activity_id: Mapped[str] = mapped_column(Text, default="")
    agent_ifi: Mapped[str] = mapped_column(Text, default="")
    registration: Mapped[str] = mapped_column(String(36), default="")
    #: ``stateId`` or ``profileId``.
    document_id: Mapped[str] = mapped_column(Text)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(255))
    #: SHA-1 of the content, hex (the ETag, quoted on the wire).
    etag: Mapped[str] = mapped_column(String(40))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AttachmentContent(Base):
    """Raw attachment content, stored once per tenant and SHA-2 (1.0.3 Part Two §2.4.11)."""

    __tablename__ = "lrs_attachments"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha2: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class TenantLrsSettings(Base):
    """Per-tenant LRS switches. ``profile_strict``: statements that claim a Japan profile and
    break one of its rules are refused with 400 (default off: the profiles are recommendations,
    xapi-notes.md §1.2)."""

    __tablename__ = "lrs_tenant_settings"

    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    profile_strict: Mapped[bool] = mapped_column(Boolean, default=False)
