"""Study activity read back from the LRS, in plain words (recent list, study record, class view).

Reads go through ``lrs.recent.latest_statements`` with the learner's account IFI (homePage =
portal base URL, name = UUID): the statements the xAPI ``agent`` filter would list first for
them, newest first, in one indexed read.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.orm import Session

from tsunagu.lrs.recent import latest_statements
from tsunagu.lrs.service import agent_ifi

EXT = "https://w3id.org/japan-xapi/extensions/"


def N_(message: str) -> str:  # noqa: N802  (the gettext marker name Babel extracts)
    """Marks a string for the catalog; the template translates it when it shows it."""
    return message


#: Last path segment of common verb IRIs → plain Japanese (what a child would say).
VERB_LABELS = {
    "launched": N_("開いた"),
    "initialized": N_("始めた"),
    "completed": N_("終えた"),
    "passed": N_("合格した"),
    "failed": N_("もう少し"),
    "answered": N_("答えた"),
    "attempted": N_("取り組んだ"),
    "experienced": N_("見た"),
    "viewed": N_("見た"),
    "read": N_("読んだ"),
    "progressed": N_("進めた"),
    "terminated": N_("閉じた"),
    "shared": N_("出した"),
    "created": N_("作った"),
    "submitted": N_("出した"),
    "scored": N_("点がついた"),
}
OTHER_VERB = N_("学習した")


@dataclass(frozen=True)
class ActivityItem:
    when: datetime
    verb_label: str
    object_name: str
    tool: str
    subject: str
    unit: str
    #: "80点" style text, or empty.
    score: str
    actor_name: str


def learner_ifi(base_url: str, user_master_identifier: str) -> str:
    ifi = agent_ifi({"account": {"homePage": base_url, "name": user_master_identifier}})
    assert ifi is not None
    return ifi


def _first(values: Any) -> str:
    if isinstance(values, list) and values:
        return str(values[0])
    return str(values) if isinstance(values, str) else ""


def _name(definition: Any) -> str:
    if not isinstance(definition, dict):
        return ""
    names = definition.get("name")
    if isinstance(names, dict) and names:
        for key in ("ja-JP", "ja", "en-US", "en"):
            if key in names:
                return str(names[key])
        return str(next(iter(names.values())))
    return ""


def _description(definition: Any) -> str:
    if not isinstance(definition, dict):
        return ""
    return _name({"name": definition.get("description")})


def _score(result: Any) -> str:
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return ""
    if isinstance(score.get("raw"), int | float) and isinstance(score.get("max"), int | float):
        return f"{score['raw']:g}/{score['max']:g}"
    if isinstance(score.get("scaled"), int | float):
        return f"{round(score['scaled'] * 100)}%"
    if isinstance(score.get("raw"), int | float):
        return f"{score['raw']:g}"
    return ""


def describe(statement: dict[str, Any], zone: tzinfo, actor_name: str = "") -> ActivityItem:
    verb_id = str(statement.get("verb", {}).get("id", ""))
    verb_key = verb_id.rstrip("/").rsplit("/", 1)[-1]
    target = statement.get("object", {})
    context = statement.get("context", {}) if isinstance(statement.get("context"), dict) else {}
    context_ext = context.get("extensions", {}) if isinstance(context, dict) else {}
    target_ext = (target.get("definition") or {}).get("extensions", {}) if target else {}
    stamp = str(statement.get("timestamp") or statement.get("stored") or "")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(zone)
    except ValueError:
        when = datetime.now(zone)
    return ActivityItem(
        when=when,
        verb_label=VERB_LABELS.get(verb_key, OTHER_VERB),
        object_name=_name(target.get("definition")) or str(target.get("id", "")),
        # LTI launches name the tool in the activity's description; the platform is the portal.
        tool=_description(target.get("definition")) or str(context.get("platform") or ""),
        subject=_first(context_ext.get(EXT + "subject") or target_ext.get(EXT + "subject")),
        unit=_first(context_ext.get(EXT + "unit") or target_ext.get(EXT + "unit")),
        score=_score(statement.get("result")),
        actor_name=actor_name,
    )


def recent(
    session: Session,
    tenant_id: int,
    base_url: str,
    user_master_identifier: str,
    zone: tzinfo,
    limit: int = 5,
) -> list[ActivityItem]:
    ifi = learner_ifi(base_url, user_master_identifier)
    return [describe(s, zone) for s in latest_statements(session, tenant_id, ifi, limit)]


@dataclass
class RecordDay:
    day: datetime
    #: subject → tool → items
    subjects: OrderedDict[str, OrderedDict[str, list[ActivityItem]]]


def study_record(
    session: Session,
    tenant_id: int,
    base_url: str,
    user_master_identifier: str,
    zone: tzinfo,
    limit: int = 300,
) -> list[RecordDay]:
    """The learner's statements, newest day first, then by subject and by tool."""
    days: OrderedDict[str, RecordDay] = OrderedDict()
    for item in recent(session, tenant_id, base_url, user_master_identifier, zone, limit):
        key = item.when.date().isoformat()
        record = days.setdefault(key, RecordDay(item.when, OrderedDict()))
        tools = record.subjects.setdefault(item.subject, OrderedDict())
        tools.setdefault(item.tool, []).append(item)
    return list(days.values())


def class_activity(
    session: Session,
    tenant_id: int,
    base_url: str,
    members: list[tuple[str, str]],
    zone: tzinfo,
    per_member: int = 10,
) -> list[ActivityItem]:
    """The latest statements of each member ((UUID, name) pairs), newest first."""
    items: list[ActivityItem] = []
    for uuid, name in members:
        ifi = learner_ifi(base_url, uuid)
        statements = latest_statements(session, tenant_id, ifi, per_member)
        items.extend(describe(s, zone, name) for s in statements)
    items.sort(key=lambda i: i.when, reverse=True)
    return items
