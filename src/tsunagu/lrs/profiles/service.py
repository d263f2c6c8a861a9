"""Profile matches of stored statements, each tenant's strict mode, and the profile report.

No HTTP here. :func:`tsunagu.lrs.service.store_statements` calls :func:`match_batch` and
:func:`match_columns` while storing; the CLI calls :func:`set_strict` and :func:`build_report`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tsunagu.lrs.models import Statement, TenantLrsSettings
from tsunagu.lrs.profiles.matcher import NO_TEMPLATE, Match, Violation, match_statement
from tsunagu.lrs.profiles.vocabulary import Text, load_vocabulary
from tsunagu.tenancy.service import get_tenant

# --- strict mode -----------------------------------------------------------------------------


def is_strict(session: Session, tenant_id: int) -> bool:
    found = session.scalar(
        select(TenantLrsSettings.profile_strict).where(TenantLrsSettings.tenant_id == tenant_id)
    )
    return bool(found)


def set_strict(session: Session, tenant_code: str, strict: bool) -> bool:
    """Turn a tenant's strict mode on or off; returns the new value."""
    tenant = get_tenant(session, tenant_code)
    row = session.get(TenantLrsSettings, tenant.id)
    if row is None:
        session.add(TenantLrsSettings(tenant_id=tenant.id, profile_strict=strict))
    else:
        row.profile_strict = strict
    session.flush()
    return strict


def get_strict(session: Session, tenant_code: str) -> bool:
    return is_strict(session, get_tenant(session, tenant_code).id)


# --- recording -------------------------------------------------------------------------------


def match_batch(payloads: list[dict[str, Any]]) -> list[Match]:
    vocabulary = load_vocabulary()
    return [match_statement(p, vocabulary) for p in payloads]


def match_columns(match: Match) -> dict[str, Any]:
    """The profile columns of a statement's row (both None when it claims no Japan profile)."""
    if match.domain is None or (match.template is not None and not match.violations):
        return {"profile_template": match.template, "profile_rules": None}
    return {
        "profile_template": match.template,
        "profile_rules": " ".join(sorted({v.rule for v in match.violations})),
    }


def severity_of(rule_id: str) -> str:
    """``error`` or ``advice`` (from the profile data); a no-template claim is an error."""
    rule = load_vocabulary().rules.get(rule_id)
    return rule.severity if rule is not None else "error"


# --- the report ------------------------------------------------------------------------------

_NO_TEMPLATE_LABEL = Text(
    "プロファイルを宣言しているがテンプレートに一致しない",
    "claims the profile but fits no template",
)


@dataclass
class ProfileReport:
    tenant_code: str
    since: datetime | None
    strict: bool
    #: Statements stored (since ``since``).
    total: int = 0
    #: Statements that claim a Japan profile (a category activity with a profile IRI).
    claimed: int = 0
    #: Template id -> statements matching it.
    templates: Counter[str] = field(default_factory=Counter)
    #: Template id -> matching statements that break at least one rule (errors).
    templates_with_errors: Counter[str] = field(default_factory=Counter)
    #: Rule id -> statements breaking it.
    rules: Counter[str] = field(default_factory=Counter)
    #: Claimed a profile but matched none of its templates.
    claimed_without_template: int = 0

    @property
    def matched(self) -> int:
        return sum(self.templates.values())

    @property
    def no_template(self) -> int:
        """Statements matching no template (no claim, or a claim matching none)."""
        return self.total - self.matched

    def as_json(self) -> dict[str, Any]:
        vocabulary = load_vocabulary()
        templates = vocabulary.templates
        rules = vocabulary.rules
        return {
            "tenant": self.tenant_code,
            "since": self.since.isoformat() if self.since else None,
            "strict": self.strict,
            "total": self.total,
            "claimed": self.claimed,
            "matched": self.matched,
            "no_template": self.no_template,
            "claimed_without_template": self.claimed_without_template,
            "templates": [
                {
                    "template": t,
                    "label_ja": templates[t].label.ja if t in templates else t,
                    "label_en": templates[t].label.en if t in templates else t,
                    "statements": n,
                    "with_errors": self.templates_with_errors[t],
                }
                for t, n in sorted(self.templates.items())
            ],
            "rules": [
                {
                    "rule": r,
                    "severity": severity_of(r),
                    "label_ja": rules[r].label.ja if r in rules else _NO_TEMPLATE_LABEL.ja,
                    "label_en": rules[r].label.en if r in rules else _NO_TEMPLATE_LABEL.en,
                    "statements": n,
                }
                for r, n in sorted(
                    self.rules.items(),
                    # Errors before advice, then the most frequent first.
                    key=lambda kv: (severity_of(kv[0]) == "advice", -kv[1], kv[0]),
                )
            ],
        }


def build_report(
    session: Session, tenant_code: str, since: datetime | None = None
) -> ProfileReport:
    """Counts per template and per rule over a tenant's stored statements (one grouped scan
    of the tenant's statement rows; Python work grows with the distinct outcomes only)."""
    tenant = get_tenant(session, tenant_code)
    report = ProfileReport(tenant.code, since, is_strict(session, tenant.id))
    s = Statement
    total_query = select(func.count()).select_from(s).where(s.tenant_id == tenant.id)
    claimed = or_(s.profile_template.is_not(None), s.profile_rules.is_not(None))
    grouped = select(s.profile_template, s.profile_rules, func.count()).where(
        s.tenant_id == tenant.id, claimed
    )
    if since is not None:
        total_query = total_query.where(s.stored > since)
        grouped = grouped.where(s.stored > since)
    report.total = int(session.scalar(total_query) or 0)
    severities: dict[str, str] = {}
    for template, rules, count in session.execute(
        grouped.group_by(s.profile_template, s.profile_rules)
    ):
        report.claimed += count
        broken = (rules or "").split()
        if template is None:
            report.claimed_without_template += count
        else:
            report.templates[template] += count
            if any(severities.setdefault(r, severity_of(r)) == "error" for r in broken):
                report.templates_with_errors[template] += count
        for rule in broken:
            report.rules[rule] += count
    return report


__all__ = [
    "NO_TEMPLATE",
    "Match",
    "ProfileReport",
    "Violation",
    "build_report",
    "get_strict",
    "is_strict",
    "match_batch",
    "match_columns",
    "set_strict",
    "severity_of",
]
