"""xAPI statements the portal itself records (stand-ins until ``tsunagu.lrs.portal_statements``).

Actors follow the 学習eポータル標準モデル: an Agent with ``account`` {homePage = the portal's base
URL, name = 利用者識別子 UUID}, never an mbox (eportal-standard §5). Subjects and units use the
Japan xAPI core extensions (xapi-notes §1.5, arrays even for one value). The coordinator replaces
these builders with the LRS helper's profile builders (same call sites).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tsunagu.container import Container
from tsunagu.identity.principal import Principal
from tsunagu.lrs.service import record_statement
from tsunagu.timetable.service import ClassInfo, Material, Slot

VERB_LAUNCHED = "http://adlnet.gov/expapi/verbs/launched"
VERB_SHARED = "http://adlnet.gov/expapi/verbs/shared"
EXT = "https://w3id.org/japan-xapi/extensions/"
LMS_PROFILE = "https://w3id.org/xapi-japan-profiles/lms/v1.0.0"
LMS_RANGE = "https://w3id.org/xapi-japan-profiles/lms/extensions/range"
ASSIGNMENT = "http://id.tincanapi.com/activitytype/school-assignment"


def actor(base_url: str, principal: Principal) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": base_url, "name": principal.user_master_identifier},
    }


def material_activity(base_url: str, material: Material) -> dict[str, Any]:
    return {
        "objectType": "Activity",
        "id": f"{base_url.rstrip('/')}/resource-links/{quote(material.resource_link_id, safe='')}",
        "definition": {
            "type": "http://adlnet.gov/expapi/activities/link",
            "name": {"ja-JP": material.title},
        },
    }


def _context(slot: Slot, platform: str, **more: Any) -> dict[str, Any]:
    extensions: dict[str, Any] = {EXT + "subject": [slot.subject]}
    if slot.unit_title:
        extensions[EXT + "unit"] = [slot.unit_title]
    return {
        "language": "ja-JP",
        "platform": platform or "Tsunagu",
        "extensions": extensions,
        **more,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def launched(container: Container, principal: Principal, slot: Slot, material: Material) -> str:
    base = container.settings.base_url
    statement = {
        "id": str(uuid.uuid4()),
        "actor": actor(base, principal),
        "verb": {"id": VERB_LAUNCHED, "display": {"en-US": "launched", "ja-JP": "起動した"}},
        "object": material_activity(base, material),
        "context": _context(slot, material.tool_name),
        "timestamp": _now(),
        "version": "1.0.3",
    }
    return record_statement(container, principal.tenant_id, statement)


def material_shared(
    container: Container, principal: Principal, klass: ClassInfo, slot: Slot, material: Material
) -> str:
    """LMS profile: a teacher assigns (shares) a material with a class."""
    base = container.settings.base_url
    activity = material_activity(base, material)
    activity["definition"]["type"] = ASSIGNMENT
    context = _context(slot, "Tsunagu", contextActivities={"category": [{"id": LMS_PROFILE}]})
    context["extensions"][LMS_RANGE] = [
        {"school": [klass.school_sourced_id], "class": [klass.sourced_id]}
    ]
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": actor(base, principal),
        "verb": {"id": VERB_SHARED, "display": {"en-US": "shared", "ja-JP": "共有した"}},
        "object": activity,
        "context": context,
        "timestamp": _now(),
        "version": "1.0.3",
    }
    return record_statement(container, principal.tenant_id, statement)
