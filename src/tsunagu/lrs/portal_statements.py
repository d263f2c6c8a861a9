"""The portal's own statements: typed builders other domains call, stored without HTTP.

eportal-standard.md §5.3: the portal records LMS-profile statements for its own assignment and
launcher features and mirrors scores returned over LTI AGS as Assessment-profile ``completed``
statements, all keyed by the learner's UUID. Usage from another domain::

    from tsunagu.lrs import portal_statements as xapi

    xapi.record(container, tenant_id, xapi.launched(
        container.settings, principal.user_master_identifier, xapi.PortalActivity(
            id=f"{container.settings.base_url}/tools/{tool_id}", name_ja="ドリルA")))

Privacy by default: the actor is only ``account`` {homePage = ``settings.base_url``, name = the
learner's ``userMasterIdentifier`` UUID} (eportal-standard.md §5.1), never a name or e-mail.
Every builder except :func:`signed_in` yields a statement that matches a Japan profile template
(tests/lrs/test_portal_statements.py checks it); :func:`signed_in` has no template in the drafts,
so it claims no profile but still follows the common rules (§2.3 共通記述規則).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from tsunagu.lrs.profiles.vocabulary import Generation, load_vocabulary
from tsunagu.lrs.validation import is_uuid

if TYPE_CHECKING:
    from tsunagu.container import Container
    from tsunagu.settings import Settings

JST = timezone(timedelta(hours=9))
PLATFORM = "Tsunagu"
SCHOOL_ASSIGNMENT = "http://id.tincanapi.com/activitytype/school-assignment"
APPLICATION = "http://activitystrea.ms/schema/1.0/application"

LAUNCHED = "http://adlnet.gov/expapi/verbs/launched"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
SHARED = "http://adlnet.gov/expapi/verbs/shared"
CREATED = "https://w3id.org/xapi/adl/verbs/created"
LOGGED_IN = "https://w3id.org/xapi/adl/verbs/logged-in"


@dataclass(frozen=True)
class PortalActivity:
    """What a statement is about: an assignment, a tool link, a test (``id`` an absolute IRI,
    usually under the portal's base URL)."""

    id: str
    name_ja: str
    type: str = SCHOOL_ASSIGNMENT
    description_ja: str | None = None
    #: 教育データ標準 values; written as the Core extensions (arrays, xapi-notes.md §1.5).
    subject: tuple[str, ...] = ()
    grade: tuple[str, ...] = ()
    unit: tuple[str, ...] = ()


def _generation(settings: Settings) -> Generation:
    return settings.lrs_profile_namespace


def actor(settings: Settings, user_master_identifier: str) -> dict[str, Any]:
    if not is_uuid(user_master_identifier):
        raise ValueError("The xAPI actor is the learner's userMasterIdentifier, a UUID.")
    return {
        "objectType": "Agent",
        "account": {"homePage": settings.base_url, "name": user_master_identifier.lower()},
    }


def _verb(iri: str) -> dict[str, Any]:
    return {"id": iri, "display": dict(load_vocabulary().verb_display[iri])}


def _object(settings: Settings, activity: PortalActivity) -> dict[str, Any]:
    vocabulary = load_vocabulary()
    definition: dict[str, Any] = {"type": activity.type, "name": {"ja-JP": activity.name_ja}}
    if activity.description_ja:
        definition["description"] = {"ja-JP": activity.description_ja}
    extensions = {
        vocabulary.concepts[key].iri(_generation(settings)): list(values)
        for key, values in (
            ("@subject", activity.subject),
            ("@grade", activity.grade),
            ("@unit", activity.unit),
        )
        if values
    }
    if extensions:
        definition["extensions"] = extensions
    return {"objectType": "Activity", "id": activity.id, "definition": definition}


def _context(
    settings: Settings,
    domain: str | None,
    *,
    extensions: dict[str, Any] | None = None,
    grouping: str | None = None,
    registration: str | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"platform": PLATFORM, "language": "ja-JP"}
    if registration is not None:
        context["registration"] = registration
    activities: dict[str, Any] = {}
    if domain is not None:
        vocabulary = load_vocabulary()
        # Profile membership: a category activity whose id is the profile IRI (§1.4).
        activities["category"] = [
            {
                "objectType": "Activity",
                "id": vocabulary.profiles[domain].iri(_generation(settings)),
                "definition": {"type": vocabulary.profile_activity_type},
            }
        ]
    if grouping is not None:
        activities["grouping"] = [{"objectType": "Activity", "id": grouping}]
    if activities:
        context["contextActivities"] = activities
    if extensions:
        context["extensions"] = extensions
    return context


def _timestamp(when: datetime | None) -> str:
    moment = when or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("Give statement times with a time zone.")
    # The drafts' samples use JST offsets (xapi-notes.md §1.5).
    return moment.astimezone(JST).isoformat(timespec="milliseconds")


def _statement(
    settings: Settings,
    person: str,
    verb: str,
    target: dict[str, Any],
    context: dict[str, Any],
    when: datetime | None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": actor(settings, person),
        "verb": _verb(verb),
        "object": target,
        "context": context,
        "timestamp": _timestamp(when),
        "version": "1.0.3",
    }
    if result is not None:
        statement["result"] = result
    return statement


def _due_date(
    settings: Settings, due: datetime, start: datetime | None, when: datetime | None
) -> dict[str, Any]:
    key = load_vocabulary().concepts["@due-date"]
    generation = _generation(settings)
    if generation == "xapi-japan-profiles":
        # May 2026 LMS: {start, end}, both required (xapi-notes.md §1.5, §1.7).
        value: Any = {"start": _timestamp(start or when), "end": _timestamp(due)}
    else:
        value = _timestamp(due)  # Feb 2026 core: one date-time string
    return {key.iri(generation): value}


# --- the builders ----------------------------------------------------------------------------


def signed_in(settings: Settings, person: str, *, when: datetime | None = None) -> dict[str, Any]:
    """A person signed in to the portal (ADL ``logged-in``; no Japan template exists for it)."""
    portal = {
        "objectType": "Activity",
        "id": settings.base_url,
        "definition": {"type": APPLICATION, "name": {"ja-JP": "学習eポータル"}},
    }
    return _statement(settings, person, LOGGED_IN, portal, _context(settings, None), when)


def launched(
    settings: Settings,
    learner: str,
    activity: PortalActivity,
    *,
    registration: str | None = None,
    grouping: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """A learner launched an assignment or tool from the portal (LMS ``launched``);
    ``grouping``: an IRI of what it was launched in (the class)."""
    context = _context(settings, "lms", registration=registration, grouping=grouping)
    return _statement(settings, learner, LAUNCHED, _object(settings, activity), context, when)


def completed(
    settings: Settings, learner: str, activity: PortalActivity, *, when: datetime | None = None
) -> dict[str, Any]:
    """A learner completed an assignment (LMS ``completed``)."""
    context = _context(settings, "lms")
    return _statement(settings, learner, COMPLETED, _object(settings, activity), context, when)


def created(
    settings: Settings,
    teacher: str,
    activity: PortalActivity,
    *,
    due: datetime | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """A teacher created an assignment (LMS ``created``; due date recommended)."""
    extensions = _due_date(settings, due, None, when) if due is not None else None
    context = _context(settings, "lms", extensions=extensions)
    return _statement(settings, teacher, CREATED, _object(settings, activity), context, when)


def shared(
    settings: Settings,
    teacher: str,
    activity: PortalActivity,
    *,
    due: datetime | None = None,
    start: datetime | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """A teacher handed out (配布) an assignment (LMS ``shared``; the teacher is the actor)."""
    extensions = _due_date(settings, due, start, when) if due is not None else None
    context = _context(settings, "lms", extensions=extensions)
    return _statement(settings, teacher, SHARED, _object(settings, activity), context, when)


#: 課題の配布 is what the LMS profile calls ``shared``.
assigned = shared


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    if seconds < 0:
        raise ValueError("A duration cannot be negative.")
    return f"PT{seconds:.2f}S".replace(".00S", "S")


def scored(
    settings: Settings,
    learner: str,
    activity: PortalActivity,
    *,
    raw: float,
    maximum: float,
    minimum: float = 0,
    completion: bool = True,
    duration: timedelta | None = None,
    attempt: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """A score returned for a learner (LTI AGS grade return, MEXCBT results), mirrored as an
    Assessment ``completed`` (eportal-standard.md §5.3 item 3). ``attempt``: an IRI grouping
    the statements of one attempt (``contextActivities.grouping``)."""
    if not maximum > minimum:
        raise ValueError("The maximum score must be above the minimum.")
    if not minimum <= raw <= maximum:
        raise ValueError("The raw score must lie between minimum and maximum.")
    score: dict[str, Any] = {
        # scaled = (raw-min)/(max-min), at most 7 decimals (xapi-notes.md §1.5).
        "scaled": round((raw - minimum) / (maximum - minimum), 7),
        "raw": raw,
        "max": maximum,
    }
    if minimum != 0:
        score["min"] = minimum  # min must be sent when it is not 0
    result: dict[str, Any] = {"score": score, "completion": completion}
    if duration is not None:
        result["duration"] = _duration(duration)
    context = _context(settings, "assessment", grouping=attempt)
    target = _object(settings, activity)
    return _statement(settings, learner, COMPLETED, target, context, when, result)


def record(container: Container, tenant_id: int, statement: dict[str, Any]) -> str:
    """Store a built statement through the LRS's in-process path; its id.

    Raises :class:`tsunagu.lrs.service.LrsError` as the HTTP API would answer (400 invalid or,
    for a tenant in strict mode, breaking a profile rule)."""
    from tsunagu.lrs.service import record_statement

    return record_statement(container, tenant_id, statement)
