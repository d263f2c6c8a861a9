"""Pure validation of xAPI statements: every problem, each with the JSON path it concerns.

Rules from xAPI 1.0.3 Part Two (Experience API Data) §2.4 "Statement Properties" and §4
"Special Data Types and Rules"; the 2.0 additions from IEEE 9274.1.1 (``contextAgents``,
``contextGroups``). No I/O, no database: :func:`validate_statement` takes parsed JSON and the
version the request is served as and returns a list of :class:`Problem` (empty when valid).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tsunagu.lrs.versions import V2, XapiVersion, statement_version_ok


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    #: The Japan profile rule broken (strict mode), None for xAPI validation problems.
    rule: str | None = None

    def as_json(self) -> dict[str, str]:
        found = {"path": self.path, "message": self.message}
        if self.rule is not None:
            found["rule"] = self.rule
        return found


UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# An absolute IRI (RFC 3987): a scheme, a colon and no characters IRIs exclude. xAPI 1.0.3
# Part Two §4.1.4 "IRIs": the LRS only checks the form, never dereferences.
_IRI_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
# A mailto IRI (1.0.3 Part Two §2.4.2.3 "mbox"): one address, no query.
_MAILTO_PATTERN = re.compile(r"mailto:[^@\s:/?]+@[^@\s/?]+")
_SHA1_PATTERN = re.compile(r"[0-9a-fA-F]{40}")
# RFC 5646 language tag (langtag, private use and the grandfathered irregular "i-" tags).
_LANGTAG_PATTERN = re.compile(
    r"(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?)"
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+"
    r"|[Ii]-[A-Za-z]{2,8}"
)
# ISO 8601 date-time as xAPI uses it (1.0.3 Part Two §4.5 "ISO 8601 Timestamps").
_TIMESTAMP_PATTERN = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)
_NEGATIVE_ZERO = re.compile(r"-00(?::?00)?")
# ISO 8601 duration (1.0.3 Part Two §4.6 "ISO 8601 Durations").
_DURATION_PATTERN = re.compile(
    r"P(?:\d+(?:\.\d+)?W|(?=\d|T\d)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?)"
)

INTERACTION_TYPES = frozenset(
    {
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    }
)
#: Interaction components each interaction type may carry (1.0.3 Part Two §2.4.4.1.1).
_COMPONENTS_BY_TYPE: dict[str, frozenset[str]] = {
    "choice": frozenset({"choices"}),
    "sequencing": frozenset({"choices"}),
    "likert": frozenset({"scale"}),
    "matching": frozenset({"source", "target"}),
    "performance": frozenset({"steps"}),
}
_ALL_COMPONENTS = frozenset({"choices", "scale", "source", "target", "steps"})

_STATEMENT_KEYS = frozenset(
    {
        "id",
        "actor",
        "verb",
        "object",
        "result",
        "context",
        "timestamp",
        "stored",
        "authority",
        "version",
        "attachments",
    }
)
_SUBSTATEMENT_KEYS = frozenset(
    {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
)
_AGENT_KEYS = frozenset({"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"})
_GROUP_KEYS = _AGENT_KEYS | {"member"}
_IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
_DEFINITION_KEYS = frozenset(
    {
        "name",
        "description",
        "type",
        "moreInfo",
        "extensions",
        "interactionType",
        "correctResponsesPattern",
        *_ALL_COMPONENTS,
    }
)
_CONTEXT_KEYS_V1 = frozenset(
    {
        "registration",
        "instructor",
        "team",
        "contextActivities",
        "revision",
        "platform",
        "language",
        "statement",
        "extensions",
    }
)
_CONTEXT_KEYS_V2 = _CONTEXT_KEYS_V1 | {"contextAgents", "contextGroups"}
_CONTEXT_ACTIVITY_KEYS = ("parent", "grouping", "category", "other")
_ATTACHMENT_KEYS = frozenset(
    {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
)


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and UUID_PATTERN.fullmatch(value) is not None


def is_iri(value: Any) -> bool:
    return isinstance(value, str) and _IRI_PATTERN.fullmatch(value) is not None


def is_language_tag(value: Any) -> bool:
    return isinstance(value, str) and _LANGTAG_PATTERN.fullmatch(value) is not None


def parse_timestamp(value: str) -> datetime | None:
    """The instant of an xAPI timestamp (UTC when it has no zone), or None if malformed.

    A ``-00``, ``-0000`` or ``-00:00`` offset is rejected (1.0.3 Part Two §4.5: "MUST NOT").
    """
    match = _TIMESTAMP_PATTERN.fullmatch(value)
    if match is None:
        return None
    zone = match.group("zone")
    if zone is not None and _NEGATIVE_ZERO.fullmatch(zone):
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        result = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return None
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or "0")
        if hours > 23 or minutes > 59:
            return None
        result -= sign * timedelta(hours=hours, minutes=minutes)
    return result


def is_duration(value: Any) -> bool:
    return isinstance(value, str) and _DURATION_PATTERN.fullmatch(value) is not None


def _key_path(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


class _Checker:
    def __init__(self, version: XapiVersion) -> None:
        self.version = version
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # --- shapes ------------------------------------------------------------------------------

    def obj(self, value: Any, path: str, allowed: frozenset[str] | None = None) -> bool:
        if not isinstance(value, dict):
            self.add(path, "must be a JSON object")
            return False
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.add(_key_path(path, str(key)), "is not a property allowed here")
        return True

    def string(self, value: Any, path: str) -> bool:
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return False
        return True

    def boolean(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.add(path, "must be true or false")

    def number(self, value: Any, path: str) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "must be a number")
            return False
        return True

    def iri(self, value: Any, path: str) -> None:
        if self.string(value, path) and not is_iri(value):
            self.add(path, "must be an absolute IRI")

    def uuid(self, value: Any, path: str) -> None:
        if self.string(value, path) and not is_uuid(value):
            self.add(path, "must be a UUID in its canonical string form")

    def timestamp(self, value: Any, path: str) -> None:
        if self.string(value, path) and parse_timestamp(value) is None:
            self.add(path, "must be an ISO 8601 date-time (no -00:00 offset)")

    def language_map(self, value: Any, path: str) -> None:
        # 1.0.3 Part Two §4.2 "Language Maps": RFC 5646 tags to strings.
        if not self.obj(value, path):
            return
        for tag, text in value.items():
            if not is_language_tag(tag):
                self.add(_key_path(path, tag), "is not an RFC 5646 language tag")
            elif not isinstance(text, str):
                self.add(_key_path(path, tag), "must be a string")

    def extensions(self, value: Any, path: str) -> None:
        # 1.0.3 Part Two §4.3 "Extensions": keys are IRIs, values any JSON.
        if not self.obj(value, path):
            return
        for key in value:
            if not is_iri(key):
                self.add(_key_path(path, key), "extension keys must be absolute IRIs")

    # --- agents and groups (§2.4.2) ----------------------------------------------------------

    def ifis(self, value: dict[str, Any], path: str, *, required: bool) -> None:
        present = [k for k in _IFI_KEYS if k in value]
        if len(present) > 1:
            self.add(path, "must have exactly one of mbox, mbox_sha1sum, openid, account")
        elif not present and required:
            self.add(path, "needs one identifier: mbox, mbox_sha1sum, openid or account")
        if "mbox" in value:
            mbox = value["mbox"]
            if self.string(mbox, f"{path}.mbox") and not _MAILTO_PATTERN.fullmatch(mbox):
                self.add(f"{path}.mbox", "must be a mailto: IRI of one e-mail address")
        if "mbox_sha1sum" in value:
            digest = value["mbox_sha1sum"]
            ok = self.string(digest, f"{path}.mbox_sha1sum")
            if ok and not _SHA1_PATTERN.fullmatch(digest):
                self.add(f"{path}.mbox_sha1sum", "must be a hex SHA-1 digest")
        if "openid" in value:
            self.iri(value["openid"], f"{path}.openid")
        if "account" in value:
            account = value["account"]
            apath = f"{path}.account"
            if self.obj(account, apath, frozenset({"homePage", "name"})):
                if "homePage" not in account:
                    self.add(f"{apath}.homePage", "is required")
                else:
                    self.iri(account["homePage"], f"{apath}.homePage")
                if "name" not in account:
                    self.add(f"{apath}.name", "is required")
                else:
                    self.string(account["name"], f"{apath}.name")
        if "name" in value:
            self.string(value["name"], f"{path}.name")

    def agent(self, value: Any, path: str) -> None:
        if not self.obj(value, path, _AGENT_KEYS):
            return
        if "objectType" in value and value["objectType"] != "Agent":
            self.add(f"{path}.objectType", "must be 'Agent'")
        self.ifis(value, path, required=True)

    def group(self, value: Any, path: str) -> None:
        if not self.obj(value, path, _GROUP_KEYS):
            return
        if value.get("objectType") != "Group":
            self.add(f"{path}.objectType", "must be 'Group'")
        identified = any(k in value for k in _IFI_KEYS)
        self.ifis(value, path, required=False)
        if "member" in value:
            members = value["member"]
            if not isinstance(members, list):
                self.add(f"{path}.member", "must be an array of Agents")
            else:
                if not identified and not members:
                    self.add(f"{path}.member", "an anonymous Group needs at least one member")
                for i, member in enumerate(members):
                    # A Group's members are Agents, never Groups (§2.4.2.2).
                    self.agent(member, f"{path}.member[{i}]")
        elif not identified:
            self.add(f"{path}.member", "an anonymous Group needs a member list")

    def actor(self, value: Any, path: str) -> None:
        if isinstance(value, dict) and value.get("objectType") == "Group":
            self.group(value, path)
        else:
            self.agent(value, path)

    def authority(self, value: Any, path: str) -> None:
        # 1.0.3 Part Two §2.4.9: an Agent, or for 3-legged OAuth an anonymous Group of exactly
        # two Agents (the application and the user).
        self.actor(value, path)
        if isinstance(value, dict) and value.get("objectType") == "Group":
            if any(k in value for k in _IFI_KEYS):
                self.add(path, "an authority Group must be anonymous")
            members = value.get("member")
            if not isinstance(members, list) or len(members) != 2:
                self.add(f"{path}.member", "an authority Group has exactly two Agents")

    # --- verb (§2.4.3) and object (§2.4.4) ---------------------------------------------------

    def verb(self, value: Any, path: str) -> None:
        if not self.obj(value, path, frozenset({"id", "display"})):
            return
        if "id" not in value:
            self.add(f"{path}.id", "is required")
        else:
            self.iri(value["id"], f"{path}.id")
        if "display" in value:
            self.language_map(value["display"], f"{path}.display")

    def activity(self, value: Any, path: str) -> None:
        if not self.obj(value, path, frozenset({"objectType", "id", "definition"})):
            return
        if "objectType" in value and value["objectType"] != "Activity":
            self.add(f"{path}.objectType", "must be 'Activity'")
        if "id" not in value:
            self.add(f"{path}.id", "is required")
        else:
            self.iri(value["id"], f"{path}.id")
        if "definition" in value:
            self.definition(value["definition"], f"{path}.definition")

    def definition(self, value: Any, path: str) -> None:
        if not self.obj(value, path, _DEFINITION_KEYS):
            return
        for key in ("name", "description"):
            if key in value:
                self.language_map(value[key], f"{path}.{key}")
        for key in ("type", "moreInfo"):
            if key in value:
                self.iri(value[key], f"{path}.{key}")
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")
        interaction = value.get("interactionType")
        if not isinstance(interaction, str):
            interaction = None if interaction is None else "?"
        if "interactionType" in value and interaction not in INTERACTION_TYPES:
            self.add(f"{path}.interactionType", "is not an xAPI interaction type")
        if "correctResponsesPattern" in value:
            pattern = value["correctResponsesPattern"]
            cpath = f"{path}.correctResponsesPattern"
            if not isinstance(pattern, list):
                self.add(cpath, "must be an array of strings")
            else:
                for i, item in enumerate(pattern):
                    self.string(item, f"{cpath}[{i}]")
            if "interactionType" not in value:
                self.add(cpath, "needs an interactionType")
        allowed = _COMPONENTS_BY_TYPE.get(interaction, frozenset()) if interaction else None
        for key in sorted(_ALL_COMPONENTS & value.keys()):
            kpath = f"{path}.{key}"
            if allowed is None:
                self.add(kpath, "interaction components need an interactionType")
            elif key not in allowed:
                self.add(kpath, f"is not an interaction component of '{interaction}'")
            self.components(value[key], kpath)

    def components(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "must be an array of interaction components")
            return
        seen: set[str] = set()
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            if not self.obj(item, ipath, frozenset({"id", "description"})):
                continue
            if "id" not in item:
                self.add(f"{ipath}.id", "is required")
            elif self.string(item["id"], f"{ipath}.id"):
                if item["id"] in seen:
                    self.add(f"{ipath}.id", "interaction component ids must be unique")
                seen.add(item["id"])
            if "description" in item:
                self.language_map(item["description"], f"{ipath}.description")

    def statement_ref(self, value: dict[str, Any], path: str) -> None:
        self.obj(value, path, frozenset({"objectType", "id"}))
        if "id" not in value:
            self.add(f"{path}.id", "is required")
        else:
            self.uuid(value["id"], f"{path}.id")

    def object(self, value: Any, path: str, *, in_substatement: bool) -> None:
        if not isinstance(value, dict):
            self.add(path, "must be a JSON object")
            return
        kind = value.get("objectType", "Activity")
        if kind == "Activity":
            self.activity(value, path)
        elif kind == "Agent":
            self.agent(value, path)
        elif kind == "Group":
            self.group(value, path)
        elif kind == "StatementRef":
            self.statement_ref(value, path)
        elif kind == "SubStatement":
            if in_substatement:
                self.add(f"{path}.objectType", "a SubStatement cannot contain a SubStatement")
            else:
                self.statement_body(value, path, substatement=True)
        else:
            self.add(
                f"{path}.objectType", "must be Activity, Agent, Group, StatementRef or SubStatement"
            )

    # --- result (§2.4.5) ---------------------------------------------------------------------

    def result(self, value: Any, path: str) -> None:
        keys = frozenset({"score", "success", "completion", "response", "duration", "extensions"})
        if not self.obj(value, path, keys):
            return
        if "score" in value:
            self.score(value["score"], f"{path}.score")
        for key in ("success", "completion"):
            if key in value:
                self.boolean(value[key], f"{path}.{key}")
        if "response" in value:
            self.string(value["response"], f"{path}.response")
        if "duration" in value:
            duration = value["duration"]
            if self.string(duration, f"{path}.duration") and not is_duration(duration):
                self.add(f"{path}.duration", "must be an ISO 8601 duration")
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")

    def score(self, value: Any, path: str) -> None:
        if not self.obj(value, path, frozenset({"scaled", "raw", "min", "max"})):
            return
        numbers = {k: value[k] for k in ("scaled", "raw", "min", "max") if k in value}
        good = {k: v for k, v in numbers.items() if self.number(v, f"{path}.{k}")}
        if "scaled" in good and not -1 <= good["scaled"] <= 1:
            self.add(f"{path}.scaled", "must be between -1 and 1")
        low, high, raw = good.get("min"), good.get("max"), good.get("raw")
        if low is not None and high is not None and low >= high:
            self.add(f"{path}.max", "must be greater than min")
        if raw is not None and low is not None and raw < low:
            self.add(f"{path}.raw", "must not be less than min")
        if raw is not None and high is not None and raw > high:
            self.add(f"{path}.raw", "must not be greater than max")

    # --- context (§2.4.6) --------------------------------------------------------------------

    def context(self, value: Any, path: str, object_kind: str) -> None:
        allowed = _CONTEXT_KEYS_V2 if self.version == V2 else _CONTEXT_KEYS_V1
        if not self.obj(value, path, allowed):
            return
        if "registration" in value:
            self.uuid(value["registration"], f"{path}.registration")
        if "instructor" in value:
            self.actor(value["instructor"], f"{path}.instructor")
        if "team" in value:
            self.group(value["team"], f"{path}.team")
        if "contextActivities" in value:
            self.context_activities(value["contextActivities"], f"{path}.contextActivities")
        for key in ("revision", "platform"):
            if key in value:
                self.string(value[key], f"{path}.{key}")
                # §2.4.6: revision and platform MUST only be used when the object is an Activity.
                if object_kind != "Activity":
                    self.add(f"{path}.{key}", "may only be used when the object is an Activity")
        if "language" in value:
            language = value["language"]
            if self.string(language, f"{path}.language") and not is_language_tag(language):
                self.add(f"{path}.language", "is not an RFC 5646 language tag")
        if "statement" in value:
            ref = value["statement"]
            spath = f"{path}.statement"
            if self.obj(ref, spath):
                if ref.get("objectType") != "StatementRef":
                    self.add(f"{spath}.objectType", "must be 'StatementRef'")
                self.statement_ref(ref, spath)
        if "extensions" in value:
            self.extensions(value["extensions"], f"{path}.extensions")
        if "contextAgents" in value:
            self.context_members(value["contextAgents"], f"{path}.contextAgents", "agent")
        if "contextGroups" in value:
            self.context_members(value["contextGroups"], f"{path}.contextGroups", "group")

    def context_activities(self, value: Any, path: str) -> None:
        if not self.obj(value, path, frozenset(_CONTEXT_ACTIVITY_KEYS)):
            return
        for key in _CONTEXT_ACTIVITY_KEYS:
            if key not in value:
                continue
            kpath = f"{path}.{key}"
            items = value[key]
            # A single Activity object is allowed and normalised to an array (§2.4.6.2).
            if isinstance(items, dict):
                self.activity(items, kpath)
            elif isinstance(items, list):
                for i, item in enumerate(items):
                    self.activity(item, f"{kpath}[{i}]")
            else:
                self.add(kpath, "must be an Activity or an array of Activities")

    def context_members(self, value: Any, path: str, member: str) -> None:
        # IEEE 9274.1.1 §… Context: contextAgents / contextGroups (2.0 only).
        object_type = "contextAgent" if member == "agent" else "contextGroup"
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            if not self.obj(item, ipath, frozenset({"objectType", member, "relevantTypes"})):
                continue
            if item.get("objectType") != object_type:
                self.add(f"{ipath}.objectType", f"must be '{object_type}'")
            if member not in item:
                self.add(f"{ipath}.{member}", "is required")
            elif member == "agent":
                self.agent(item[member], f"{ipath}.agent")
            else:
                self.group(item[member], f"{ipath}.group")
            if "relevantTypes" in item:
                types = item["relevantTypes"]
                tpath = f"{ipath}.relevantTypes"
                if not isinstance(types, list) or not types:
                    self.add(tpath, "must be a non-empty array of IRIs")
                else:
                    for j, iri in enumerate(types):
                        self.iri(iri, f"{tpath}[{j}]")

    # --- attachments (§2.4.11) ---------------------------------------------------------------

    def attachments(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, "must be an array")
            return
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            if not self.obj(item, ipath, _ATTACHMENT_KEYS):
                continue
            for key in ("usageType", "display", "contentType", "length", "sha2"):
                if key not in item:
                    self.add(f"{ipath}.{key}", "is required")
            if "usageType" in item:
                self.iri(item["usageType"], f"{ipath}.usageType")
            for key in ("display", "description"):
                if key in item:
                    self.language_map(item[key], f"{ipath}.{key}")
            if "contentType" in item:
                self.string(item["contentType"], f"{ipath}.contentType")
            if "length" in item and (
                isinstance(item["length"], bool) or not isinstance(item["length"], int)
            ):
                self.add(f"{ipath}.length", "must be an integer")
            if "sha2" in item:
                self.string(item["sha2"], f"{ipath}.sha2")
            if "fileUrl" in item:
                self.iri(item["fileUrl"], f"{ipath}.fileUrl")

    # --- statement (§2.4) --------------------------------------------------------------------

    def statement_body(self, value: Any, path: str, *, substatement: bool) -> None:
        allowed = _SUBSTATEMENT_KEYS if substatement else _STATEMENT_KEYS
        if not self.obj(value, path, allowed):
            return
        for key in ("actor", "verb", "object"):
            if key not in value:
                self.add(f"{path}.{key}", "is required")
        if "actor" in value:
            self.actor(value["actor"], f"{path}.actor")
        if "verb" in value:
            self.verb(value["verb"], f"{path}.verb")
        object_kind = "Activity"
        if "object" in value:
            target = value["object"]
            if isinstance(target, dict):
                kind = target.get("objectType", "Activity")
                object_kind = kind if isinstance(kind, str) else "?"
            self.object(target, f"{path}.object", in_substatement=substatement)
        if "result" in value:
            self.result(value["result"], f"{path}.result")
        if "context" in value:
            self.context(value["context"], f"{path}.context", object_kind)
        if "timestamp" in value:
            self.timestamp(value["timestamp"], f"{path}.timestamp")
        if "attachments" in value:
            self.attachments(value["attachments"], f"{path}.attachments")
        if substatement:
            return
        if "id" in value:
            self.uuid(value["id"], f"{path}.id")
        if "stored" in value:
            self.timestamp(value["stored"], f"{path}.stored")
        if "authority" in value:
            self.authority(value["authority"], f"{path}.authority")
        if "version" in value:
            version = value["version"]
            ok = self.string(version, f"{path}.version")
            if ok and not statement_version_ok(version, self.version):
                self.add(f"{path}.version", "must be 1.0.x")
        self.voiding(value, path)

    def voiding(self, value: dict[str, Any], path: str) -> None:
        # 1.0.3 Part Two §2.3.2 "Voided": a voiding statement's object is a StatementRef.
        verb = value.get("verb")
        if isinstance(verb, dict) and verb.get("id") == VOIDED_VERB:
            target = value.get("object")
            if not isinstance(target, dict) or target.get("objectType") != "StatementRef":
                self.add(f"{path}.object", "a voiding statement's object must be a StatementRef")


VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"


def validate_statement(statement: Any, version: XapiVersion, path: str = "$") -> list[Problem]:
    """Every problem of one statement, each with its JSON path (empty list when valid)."""
    checker = _Checker(version)
    checker.statement_body(statement, path, substatement=False)
    return checker.problems


def validate_actor(value: Any, version: XapiVersion, path: str) -> list[Problem]:
    """Problems of an Agent or Group (the ``agent`` query parameter, documents' agents)."""
    checker = _Checker(version)
    checker.actor(value, path)
    return checker.problems


def validate_statements(statements: list[Any], version: XapiVersion) -> list[Problem]:
    """Problems of a batch; paths start ``$[i]``. Duplicate ids within the batch are problems."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, statement in enumerate(statements):
        problems.extend(validate_statement(statement, version, f"$[{i}]"))
        if isinstance(statement, dict) and is_uuid(statement.get("id")):
            sid = statement["id"].lower()
            if sid in seen:
                problems.append(Problem(f"$[{i}].id", f"repeats the id of $[{seen[sid]}]"))
            seen.setdefault(sid, i)
    return problems


# --- normalisation ---------------------------------------------------------------------------


def normalise_context_activities(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement with single context activities as one-element arrays (§2.4.6.2).

    Copy-on-write: the input is never changed; only the objects on the changed path are copied.
    """
    result = statement
    for holder_key in (None, "object"):
        holder = result if holder_key is None else result.get(holder_key)
        if not isinstance(holder, dict):
            continue
        context = holder.get("context")
        if not isinstance(context, dict):
            continue
        activities = context.get("contextActivities")
        if not isinstance(activities, dict) or not any(
            isinstance(v, dict) for v in activities.values()
        ):
            continue
        fixed = {k: [v] if isinstance(v, dict) else v for k, v in activities.items()}
        new_holder = {**holder, "context": {**context, "contextActivities": fixed}}
        result = new_holder if holder_key is None else {**result, holder_key: new_holder}
    return result


def timestamp_to_utc(value: str) -> str:
    """2.0 (IEEE 9274.1.1): non-UTC timestamps are converted to UTC before storing."""
    instant = parse_timestamp(value)
    if instant is None:
        return value
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def walk_language_maps(
    value: Any, visit: Callable[[dict[str, str]], dict[str, str]], key: str | None = None
) -> Any:
    """A copy of ``value`` whose language maps (display, name, description) are ``visit``-ed."""
    if isinstance(value, dict):
        if key in ("display", "name", "description") and all(
            isinstance(v, str) for v in value.values()
        ):
            return visit(value)
        if key == "extensions":
            return value
        return {k: walk_language_maps(v, visit, k) for k, v in value.items()}
    if isinstance(value, list):
        return [walk_language_maps(v, visit, key) for v in value]
    return value


def first_language(accepted: Mapping[str, float]) -> Callable[[dict[str, str]], dict[str, str]]:
    """For ``format=canonical``: keep one entry of each language map, by Accept-Language."""
    ranked = sorted(accepted.items(), key=lambda kv: -kv[1])

    def pick(language_map: dict[str, str]) -> dict[str, str]:
        if not language_map:
            return language_map
        lowered = {k.lower(): k for k in language_map}
        for wanted, _q in ranked:
            wanted = wanted.lower()
            if wanted == "*":
                break
            if wanted in lowered:
                tag = lowered[wanted]
                return {tag: language_map[tag]}
            for low, tag in lowered.items():
                if low.split("-")[0] == wanted.split("-")[0]:
                    return {tag: language_map[tag]}
        tag = next(iter(language_map))
        return {tag: language_map[tag]}

    return pick
