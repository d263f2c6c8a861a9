"""One learner's newest statements, for the portal's own pages (no xAPI HTTP round trip).

The learner home shows "what I did recently" on every visit, so this is a single keyset read
driven by the agent index (``pk_lrs_statement_agents``: tenant, IFI, seq), newest first, joined
to the statements on ``(seq, stored)`` so that PostgreSQL probes one monthly partition per row.
It returns what ``GET /xapi/statements?agent=…`` would list first for the learner as actor or
object, without the xAPI query's extras a page does not need: no ``more`` bound, and no merging
of statements that merely *reference* the learner's statements (xAPI 1.0.3 Part Three §2.1.3),
which a child's activity list would show as noise.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Executable, and_, bindparam, select
from sqlalchemy.orm import Session

from tsunagu.lrs.models import Statement, StatementAgent


@cache
def _latest_query() -> Executable:
    """Built once per process (bound parameters ``tenant_id``, ``ifi``, ``limit``)."""
    agent = StatementAgent
    return (
        select(Statement.payload)
        .select_from(agent)
        .join(
            Statement,
            and_(
                Statement.tenant_id == agent.tenant_id,
                Statement.seq == agent.seq,
                Statement.stored == agent.stored,
            ),
        )
        .where(
            agent.tenant_id == bindparam("tenant_id"),
            agent.ifi == bindparam("ifi"),
            agent.related.is_(False),
            Statement.voided.is_(False),
        )
        .order_by(agent.seq.desc())
        .limit(bindparam("limit"))
    )


def latest_statements(
    session: Session, tenant_id: int, ifi: str, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` unvoided statements whose actor (or Agent object) is ``ifi``."""
    rows = session.scalars(_latest_query(), {"tenant_id": tenant_id, "ifi": ifi, "limit": limit})
    return [payload for payload in rows if isinstance(payload, dict)]
