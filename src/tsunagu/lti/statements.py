"""xAPI statements the LTI domain records in the LRS (in-process API).

Built here in small functions so they can switch to the typed builders of
``tsunagu.lrs.portal_statements`` once that module is on this branch. Actors are accounts keyed by
the userMasterIdentifier UUID at the portal's base URL (eportal-standard.md §5, xapi-notes.md §1.5).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

LMS_PROFILE = "https://w3id.org/japan-xapi/profiles/lms"
ASSESSMENT_PROFILE = "https://w3id.org/japan-xapi/profiles/assessment"
PROFILE_TYPE = "http://adlnet.gov/expapi/activities/profile"
LAUNCHED = "http://adlnet.gov/expapi/verbs/launched"
ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
LINK_TYPE = "http://adlnet.gov/expapi/activities/link"
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"
CLASS_TYPE = "http://adlnet.gov/expapi/activities/course"


def _actor(base_url: str, user_master_identifier: str) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": base_url, "name": user_master_identifier},
    }


def _context(
    base_url: str, platform: str, profile: str, class_sourced_id: str, class_title: str
) -> dict[str, Any]:
    return {
        "platform": platform,
        "language": "ja-JP",
        "contextActivities": {
            "grouping": [
                {
                    "objectType": "Activity",
                    "id": f"{base_url}/classes/{class_sourced_id}",
                    "definition": {"type": CLASS_TYPE, "name": {"ja-JP": class_title}},
                }
            ],
            "category": [{"id": profile, "definition": {"type": PROFILE_TYPE}}],
        },
    }


def launched_statement(
    *,
    base_url: str,
    platform: str,
    user_master_identifier: str,
    resource_link_id: str,
    title: str,
    tool_name: str,
    class_sourced_id: str,
    class_title: str,
    when: datetime | None = None,
) -> dict[str, Any]:
    """LMS profile ``launched``: a learner (or teacher) opened a tool's content from the portal."""
    return {
        "id": str(uuid.uuid4()),
        "timestamp": (when or datetime.now(UTC)).isoformat(),
        "actor": _actor(base_url, user_master_identifier),
        "verb": {"id": LAUNCHED, "display": {"en": "launched", "ja-JP": "開始した"}},
        "object": {
            "objectType": "Activity",
            "id": f"{base_url}/lti/resource-links/{resource_link_id}",
            "definition": {
                "type": LINK_TYPE,
                "name": {"ja-JP": title},
                "description": {"ja-JP": tool_name},
            },
        },
        "context": _context(base_url, platform, LMS_PROFILE, class_sourced_id, class_title),
    }


def score_statement(
    *,
    base_url: str,
    platform: str,
    user_master_identifier: str,
    line_item_id: str,
    label: str,
    class_sourced_id: str,
    class_title: str,
    activity_progress: str,
    score_given: float | None,
    score_maximum: float | None,
    comment: str | None,
    when: datetime,
) -> dict[str, Any]:
    """Assessment profile ``completed`` (or ``attempted`` while unfinished) for an AGS score."""
    finished = activity_progress in ("Completed", "Submitted")
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "timestamp": when.isoformat(),
        "actor": _actor(base_url, user_master_identifier),
        "verb": (
            {"id": COMPLETED, "display": {"en": "completed", "ja-JP": "完了した"}}
            if finished
            else {"id": ATTEMPTED, "display": {"en": "attempted", "ja-JP": "取り組んだ"}}
        ),
        "object": {
            "objectType": "Activity",
            "id": f"{base_url}/lti/lineitems/{line_item_id}",
            "definition": {"type": ASSESSMENT_TYPE, "name": {"ja-JP": label}},
        },
        "context": _context(base_url, platform, ASSESSMENT_PROFILE, class_sourced_id, class_title),
    }
    result: dict[str, Any] = {}
    if score_given is not None and score_maximum:
        # AGS allows extra credit (given > maximum); xAPI wants raw within [min, max].
        top = max(score_maximum, score_given)
        scaled = max(0.0, min(1.0, round(score_given / score_maximum, 7)))
        result["score"] = {"scaled": scaled, "raw": score_given, "min": 0, "max": top}
    if finished:
        result["completion"] = True
    if comment:
        result["response"] = comment
    if result:
        statement["result"] = result
    return statement
