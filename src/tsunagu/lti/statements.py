"""xAPI statements the LTI domain records in the LRS (in-process API).

Launches and final scores use the typed builders of :mod:`tsunagu.lrs.portal_statements` (the
launch in :mod:`tsunagu.lti.launch`, scores through :func:`scored_statement`); what those have no
builder for (an unfinished attempt, a completion without a final score) is built here. Actors are
accounts keyed by the userMasterIdentifier UUID at the portal's base URL (eportal-standard.md §5,
xapi-notes.md §1.5).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tsunagu.settings import Settings

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


def scored_statement(
    settings: Settings,
    learner: str,
    activity_id: str,
    label: str,
    given: float,
    maximum: float,
    when: datetime,
) -> dict[str, Any]:
    """A final AGS score as an Assessment-profile ``completed`` (the LRS's typed builder).

    AGS allows extra credit (``scoreGiven`` above ``scoreMaximum``, AGS §3.4.5); xAPI wants
    ``raw`` within [min, max] (xAPI 1.0.3 §4.1.4.1), so the maximum reported is then the score
    given itself (scaled 1.0), never a clipped score."""
    from tsunagu.lrs import portal_statements as xapi

    activity = xapi.PortalActivity(id=activity_id, name_ja=label, type=ASSESSMENT_TYPE)
    return xapi.scored(
        settings, learner, activity, raw=given, maximum=max(maximum, given), when=when
    )


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
