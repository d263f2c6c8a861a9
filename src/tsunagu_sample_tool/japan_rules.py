"""What Japanese tools check on a launch beyond LTI (the 学習eポータル標準モデル rules as the
Digital Agency 2022 pilot's tools enforce them), written independently of the platform's code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_LTI = "https://purl.imsglobal.org/spec/lti/claim/"
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_DEPLOYMENT = re.compile(r"^(S_[A-H][0-9]{12}|B_[0-9]{6}|P_[0-9]{6})$")
_GRADE = re.compile(r"^(P[1-6]|J[1-3]|H[1-3]|E[1-3])$")
_ROLE_PREFIXES = (
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#",
)


def problems(data: Mapping[str, Any]) -> list[str]:
    """Every rule the launch breaks (empty: it follows them all)."""
    found = []
    if not _UUID4.fullmatch(str(data.get("sub", ""))):
        found.append("sub is not a lower-case UUID v4")
    if not _DEPLOYMENT.fullmatch(str(data.get(_LTI + "deployment_id", ""))):
        found.append("deployment_id is not S_/B_/P_ + code")
    roles = data.get(_LTI + "roles")
    if not isinstance(roles, list) or not roles:
        found.append("roles is empty")
    elif not all(isinstance(r, str) and r.startswith(_ROLE_PREFIXES) for r in roles):
        found.append("a role is not a full LIS v2 URI")
    if not (data.get(_LTI + "context") or {}).get("id"):
        found.append("context.id is missing")
    if not data.get(_LTI + "target_link_uri"):
        found.append("target_link_uri is missing")
    guid = (data.get(_LTI + "tool_platform") or {}).get("guid")
    if guid is not None and not _UUID4.fullmatch(str(guid)):
        found.append("tool_platform.guid is not a UUID v4")
    custom = data.get(_LTI + "custom")
    if not isinstance(custom, dict):
        found.append("custom claim is missing")
    elif "grade" in custom and not _GRADE.fullmatch(str(custom["grade"])):
        found.append("custom.grade is not a grade code")
    return found
