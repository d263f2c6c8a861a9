"""Timetable and notice tables.

A class's timetable is a weekly grid: one :class:`TimetableSlot` per (weekday, period) that has a
lesson. The materials of a period are not kept here: they are LTI resource links, which the
``lti`` domain owns and knows the slot by only as an opaque placement string
``timetable:<slot id>`` (migration 0008 dropped the early ``timetable_materials`` copy).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tsunagu.db.base import Base


class TimetableSlot(Base):
    __tablename__ = "timetable_slots"
    __table_args__ = (UniqueConstraint("tenant_id", "class_sourced_id", "weekday", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    #: OneRoster ``classes.sourcedId`` (no foreign key: roster rows are only ever deactivated).
    class_sourced_id: Mapped[str] = mapped_column(String(64))
    #: ISO weekday: 1 = Monday … 6 = Saturday (土曜授業).
    weekday: Mapped[int] = mapped_column(SmallInteger)
    #: 校時: 1 = 1時間目.
    period: Mapped[int] = mapped_column(SmallInteger)
    #: What the timetable shows (国語, 算数 …); free text, as schools name their own subjects.
    subject: Mapped[str] = mapped_column(Text)
    unit_title: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(String(64))


class Notice(Base):
    """お知らせ to one class, one grade of a school, or a whole school, shown between two dates."""

    __tablename__ = "portal_notices"
    __table_args__ = (
        Index("ix_portal_notices_school", "tenant_id", "school_sourced_id", "ends_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id", ondelete="CASCADE"))
    #: ``class``, ``grade`` or ``school``.
    audience: Mapped[str] = mapped_column(String(8))
    school_sourced_id: Mapped[str] = mapped_column(String(64))
    class_sourced_id: Mapped[str | None] = mapped_column(String(64))
    grade: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    #: Shown from the start of ``starts_on`` to the end of ``ends_on`` (school time zone).
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    author_sourced_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
