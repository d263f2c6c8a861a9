"""Roster tables: one per OneRoster file, keyed by (tenant, sourcedId).

Values are kept as the CSV carried them (lists stay comma-joined strings) so an export reproduces
the import exactly; the REST layer turns them into JSON types. People and classes are never
hard-deleted: a row that leaves the roster gets ``status = 'tobedeleted'`` and keeps its study logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db.base import Base

ACTIVE = "active"
TOBEDELETED = "tobedeleted"


class RosterRecord:
    """Columns every OneRoster record shares."""

    # No foreign key to tenants on purpose: the per-row check made a city's import of a million
    # enrollments a third slower, and only the importer writes these rows, for a tenant it has
    # just looked up.
    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sourced_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    #: When *Tsunagu* last changed the row: what REST consumers filter on to sync.
    date_last_modified: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: The ``dateLastModified`` a delta file gave the row (the 校務 system's clock), used only to
    #: skip delta rows that arrive out of order. Empty after a bulk import.
    source_modified_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    #: Digest of the stored content: an import rewrites a row only when it changed.
    row_hash: Mapped[str] = mapped_column(String(32))
    #: ``metadata.*`` columns that no profile defines, kept verbatim by header name.
    extra_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Org(RosterRecord, Base):
    __tablename__ = "roster_orgs"

    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    identifier: Mapped[str | None] = mapped_column(Text)
    parent_sourced_id: Mapped[str | None] = mapped_column(String(64))


class AcademicSession(RosterRecord, Base):
    __tablename__ = "roster_academic_sessions"

    title: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[str] = mapped_column(String(10))
    end_date: Mapped[str] = mapped_column(String(10))
    parent_sourced_id: Mapped[str | None] = mapped_column(String(64))
    school_year: Mapped[str] = mapped_column(String(4))


class Course(RosterRecord, Base):
    __tablename__ = "roster_courses"

    school_year_sourced_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    course_code: Mapped[str | None] = mapped_column(Text)
    grades: Mapped[str | None] = mapped_column(Text)
    org_sourced_id: Mapped[str] = mapped_column(String(64))
    subjects: Mapped[str | None] = mapped_column(Text)
    subject_codes: Mapped[str | None] = mapped_column(Text)


class Class(RosterRecord, Base):
    __tablename__ = "roster_classes"
    __table_args__ = (Index("ix_roster_classes_school", "tenant_id", "school_sourced_id"),)

    title: Mapped[str] = mapped_column(Text)
    grades: Mapped[str | None] = mapped_column(Text)
    course_sourced_id: Mapped[str] = mapped_column(String(64))
    class_code: Mapped[str | None] = mapped_column(Text)
    class_type: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(Text)
    school_sourced_id: Mapped[str] = mapped_column(String(64))
    term_sourced_ids: Mapped[str] = mapped_column(Text)
    subjects: Mapped[str | None] = mapped_column(Text)
    subject_codes: Mapped[str | None] = mapped_column(Text)
    periods: Mapped[str | None] = mapped_column(Text)
    special_needs: Mapped[str | None] = mapped_column(String(8))


class User(RosterRecord, Base):
    __tablename__ = "roster_users"
    __table_args__ = (
        Index("ix_roster_users_master_identifier", "tenant_id", "user_master_identifier"),
        Index("ix_roster_users_username", "tenant_id", "username"),
    )

    enabled_user: Mapped[str] = mapped_column(String(8))
    username: Mapped[str] = mapped_column(Text)
    user_ids: Mapped[str | None] = mapped_column(Text)
    given_name: Mapped[str] = mapped_column(Text)
    family_name: Mapped[str] = mapped_column(Text)
    middle_name: Mapped[str | None] = mapped_column(Text)
    identifier: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    sms: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    agent_sourced_ids: Mapped[str | None] = mapped_column(Text)
    grades: Mapped[str | None] = mapped_column(Text)
    #: 利用者識別子: the LTI ``sub`` and the xAPI ``actor.account.name``.
    user_master_identifier: Mapped[str] = mapped_column(String(64))
    resource_sourced_ids: Mapped[str | None] = mapped_column(Text)
    preferred_given_name: Mapped[str | None] = mapped_column(Text)
    preferred_middle_name: Mapped[str | None] = mapped_column(Text)
    preferred_family_name: Mapped[str | None] = mapped_column(Text)
    primary_org_sourced_id: Mapped[str | None] = mapped_column(String(64))
    pronouns: Mapped[str | None] = mapped_column(Text)
    kana_given_name: Mapped[str | None] = mapped_column(Text)
    kana_family_name: Mapped[str | None] = mapped_column(Text)
    kana_middle_name: Mapped[str | None] = mapped_column(Text)
    home_class_sourced_id: Mapped[str | None] = mapped_column(String(64))
    kana_preferred_family_name: Mapped[str | None] = mapped_column(Text)
    kana_preferred_given_name: Mapped[str | None] = mapped_column(Text)
    kana_preferred_middle_name: Mapped[str | None] = mapped_column(Text)


class UserProfile(RosterRecord, Base):
    __tablename__ = "roster_user_profiles"

    user_sourced_id: Mapped[str] = mapped_column(String(64))
    profile_type: Mapped[str] = mapped_column(Text)
    vendor_id: Mapped[str] = mapped_column(Text)
    application_id: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    credential_type: Mapped[str] = mapped_column(Text)
    username: Mapped[str] = mapped_column(Text)


class Role(RosterRecord, Base):
    __tablename__ = "roster_roles"
    __table_args__ = (Index("ix_roster_roles_user", "tenant_id", "user_sourced_id"),)

    user_sourced_id: Mapped[str] = mapped_column(String(64))
    role_type: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(32))
    begin_date: Mapped[str | None] = mapped_column(String(10))
    end_date: Mapped[str | None] = mapped_column(String(10))
    org_sourced_id: Mapped[str] = mapped_column(String(64))
    user_profile_sourced_id: Mapped[str | None] = mapped_column(String(64))


class Enrollment(RosterRecord, Base):
    __tablename__ = "roster_enrollments"
    __table_args__ = (
        Index("ix_roster_enrollments_class", "tenant_id", "class_sourced_id"),
        Index("ix_roster_enrollments_user", "tenant_id", "user_sourced_id"),
    )

    class_sourced_id: Mapped[str] = mapped_column(String(64))
    school_sourced_id: Mapped[str] = mapped_column(String(64))
    user_sourced_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    is_primary: Mapped[str | None] = mapped_column(String(8))
    begin_date: Mapped[str | None] = mapped_column(String(10))
    end_date: Mapped[str | None] = mapped_column(String(10))
    #: 出席番号 as the CSV gave it (an integer string).
    shusseki_no: Mapped[str | None] = mapped_column(String(8))
    public_flg: Mapped[str | None] = mapped_column(String(8))


class RosterImport(Base):
    """One run of ``roster import`` (also dry runs and rejected ones): the board's paper trail."""

    __tablename__ = "roster_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    source_name: Mapped[str] = mapped_column(Text)
    profile: Mapped[str | None] = mapped_column(String(8))
    dry_run: Mapped[bool]
    outcome: Mapped[str] = mapped_column(String(16))  # applied | rejected | dry-run
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    error_count: Mapped[int]
    warning_count: Mapped[int]
    #: Per entity: added / changed / deactivated counts.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


#: Model per OneRoster file (files whose rows are stored).
MODEL_BY_FILE: dict[str, type[RosterRecord]] = {
    "orgs": Org,
    "academicSessions": AcademicSession,
    "courses": Course,
    "classes": Class,
    "users": User,
    "userProfiles": UserProfile,
    "roles": Role,
    "enrollments": Enrollment,
}
