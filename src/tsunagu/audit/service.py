"""Recording and reading the audit log; every domain records through :func:`record`.

An event is written in the caller's transaction, so an administrative action and its audit line
commit or roll back together.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.audit.models import AuditEvent
from tsunagu.machine_credentials import as_utc, utcnow

#: The columns of an export, in order.
EXPORT_COLUMNS = ("at", "tenant", "actor", "action", "target", "ip", "detail")


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    tenant_id: int | None
    actor: str
    action: str
    target: str
    ip: str
    detail: dict[str, Any]


def record(
    session: Session,
    tenant_id: int | None,
    actor: str,
    action: str,
    target: str = "",
    ip: str = "",
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Add one event to the log (in the caller's transaction)."""
    session.add(
        AuditEvent(
            tenant_id=tenant_id,
            at=at or utcnow(),
            actor=actor[:200],
            action=action,
            target=target[:500],
            ip=ip[:64],
            detail=detail or {},
        )
    )


def list_events(
    session: Session,
    tenant_id: int,
    *,
    limit: int | None = 200,
    actions: Sequence[str] | None = None,
) -> list[AuditEntry]:
    """A tenant's events, newest first."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if actions:
        query = query.where(AuditEvent.action.in_(actions))
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditEntry(
            at=as_utc(e.at),
            tenant_id=e.tenant_id,
            actor=e.actor,
            action=e.action,
            target=e.target,
            ip=e.ip,
            detail=dict(e.detail or {}),
        )
        for e in session.scalars(query)
    ]


def to_csv(entries: Iterable[AuditEntry], tenant_code: str) -> str:
    """CSV with a BOM so that Excel opens the Japanese text correctly."""
    import json

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.at.isoformat(),
                tenant_code,
                _defuse(e.actor),
                e.action,
                _defuse(e.target),
                e.ip,
                _defuse(json.dumps(e.detail, ensure_ascii=False, sort_keys=True)),
            ]
        )
    return out.getvalue()


def _defuse(value: str) -> str:
    # A typed username like "=HYPERLINK(...)" must not become a formula in a spreadsheet
    # (OWASP CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
