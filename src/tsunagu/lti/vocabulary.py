"""LTI 1.3 / LTI Advantage names: claim URIs, roles, scopes, media types."""

from __future__ import annotations

import re

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = LTI + "message_type"
CLAIM_VERSION = LTI + "version"
CLAIM_DEPLOYMENT_ID = LTI + "deployment_id"
CLAIM_TARGET_LINK_URI = LTI + "target_link_uri"
CLAIM_RESOURCE_LINK = LTI + "resource_link"
CLAIM_ROLES = LTI + "roles"
CLAIM_CONTEXT = LTI + "context"
CLAIM_TOOL_PLATFORM = LTI + "tool_platform"
CLAIM_LAUNCH_PRESENTATION = LTI + "launch_presentation"
CLAIM_LIS = LTI + "lis"
CLAIM_CUSTOM = LTI + "custom"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
CLAIM_DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
CLAIM_DL_ERRORMSG = "https://purl.imsglobal.org/spec/lti-dl/claim/errormsg"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
LTI_VERSION = "1.3.0"

SYSTEM = "http://purl.imsglobal.org/vocab/lis/v2/system/person#"
INSTITUTION = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"

STUDENT = INSTITUTION + "Student"
FACULTY = INSTITUTION + "Faculty"
INSTITUTION_ADMIN = INSTITUTION + "Administrator"
STAFF = INSTITUTION + "Staff"
LEARNER = MEMBERSHIP + "Learner"
INSTRUCTOR = MEMBERSHIP + "Instructor"
MEMBERSHIP_ADMIN = MEMBERSHIP + "Administrator"

#: The role URIs Japanese tools accept (eportal-standard.md §3.4): every role sent is one of these.
ALLOWED_ROLES: frozenset[str] = frozenset(
    [
        SYSTEM + r
        for r in ("Administrator", "None", "AccountAdmin", "Creator", "SysAdmin", "SysSupport")
    ]
    + [SYSTEM + "User"]
    + [
        INSTITUTION + r
        for r in (
            "Administrator",
            "Faculty",
            "Guest",
            "None",
            "Other",
            "Staff",
            "Student",
            "Alumni",
            "Instructor",
            "Learner",
            "Member",
            "Mentor",
            "Observer",
            "ProspectiveStudent",
        )
    ]
    + [
        MEMBERSHIP + r
        for r in (
            "Administrator",
            "ContentDeveloper",
            "Instructor",
            "Learner",
            "Mentor",
            "Manager",
            "Member",
            "Officer",
        )
    ]
)

CONTEXT_COURSE_SECTION = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseSection"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE)
ALL_SCOPES = (*AGS_SCOPES, SCOPE_NRPS)
#: Short names an administrator may type.
SCOPE_ALIASES = {
    "lineitem": SCOPE_LINEITEM,
    "lineitem.readonly": SCOPE_LINEITEM_READONLY,
    "result.readonly": SCOPE_RESULT_READONLY,
    "score": SCOPE_SCORE,
    "nrps": SCOPE_NRPS,
    "contextmembership.readonly": SCOPE_NRPS,
}

MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEDIA_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

#: deployment_id formats (eportal-standard.md §3.5).
SCHOOL_DEPLOYMENT = re.compile(r"^S_[A-H][0-9]{12}$")
BOARD_DEPLOYMENT = re.compile(r"^B_[0-9]{6}$")
#: custom.grade values (eportal-standard.md §3.7).
GRADE_CODE = re.compile(r"^(P[1-6]|J[1-3]|H[1-3]|E[1-3])$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def resolve_scope(value: str) -> str:
    """A full scope URI from a URI or a short alias; ValueError for anything else."""
    value = value.strip()
    if value in ALL_SCOPES:
        return value
    if value in SCOPE_ALIASES:
        return SCOPE_ALIASES[value]
    raise ValueError(
        f"unknown LTI scope '{value}' (use one of: {', '.join(SCOPE_ALIASES)} or a full URI)"
    )
