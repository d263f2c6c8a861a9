"""Statement validation, one rule at a time, each with the JSON path it must report."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.lrs.conftest import statement
from tsunagu.lrs.validation import (
    first_language,
    is_language_tag,
    parse_timestamp,
    timestamp_to_utc,
    validate_statement,
    validate_statements,
)

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    keys = path.split(".")

    def apply(s: dict[str, Any]) -> None:
        node: Any = s
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[keys[-1]] = value

    return apply


def _delete(path: str) -> Mutation:
    keys = path.split(".")

    def apply(s: dict[str, Any]) -> None:
        node: Any = s
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return apply


def paths(s: Any, version: str = "1.0.3") -> list[str]:
    return [p.path for p in validate_statement(s, version)]  # type: ignore[arg-type]


def test_the_sample_statement_is_valid() -> None:
    assert validate_statement(statement(), "1.0.3") == []
    assert validate_statement(statement(), "2.0.0") == []


def test_a_statement_must_be_an_object() -> None:
    assert paths([]) == ["$"]
    assert paths("x") == ["$"]


INVALID: list[tuple[str, Mutation, str]] = [
    ("id not a uuid", _set("id", "not-a-uuid"), "$.id"),
    ("id not a string", _set("id", 5), "$.id"),
    ("actor missing", _delete("actor"), "$.actor"),
    ("verb missing", _delete("verb"), "$.verb"),
    ("object missing", _delete("object"), "$.object"),
    ("unknown top-level property", _set("foo", 1), "$.foo"),
    ("actor without ifi", _set("actor", {"objectType": "Agent", "name": "x"}), "$.actor"),
    (
        "actor with two ifis",
        _set("actor", {"mbox": "mailto:a@example.jp", "openid": "https://id.example.jp/a"}),
        "$.actor",
    ),
    ("mbox without mailto", _set("actor", {"mbox": "a@example.jp"}), "$.actor.mbox"),
    ("mbox_sha1sum not hex", _set("actor", {"mbox_sha1sum": "xyz"}), "$.actor.mbox_sha1sum"),
    ("openid not an IRI", _set("actor", {"openid": "not an iri"}), "$.actor.openid"),
    (
        "account homePage not an IRI",
        _set("actor.account.homePage", "portal.example.jp"),
        "$.actor.account.homePage",
    ),
    ("account without name", _delete("actor.account.name"), "$.actor.account.name"),
    ("account unknown key", _set("actor.account.email", "x"), "$.actor.account.email"),
    ("actor objectType wrong", _set("actor.objectType", "Person"), "$.actor.objectType"),
    ("agent unknown key", _set("actor.member", []), "$.actor.member"),
    (
        "anonymous group without members",
        _set("actor", {"objectType": "Group", "member": []}),
        "$.actor.member",
    ),
    (
        "group member is a group",
        _set(
            "actor",
            {
                "objectType": "Group",
                "member": [{"objectType": "Group", "mbox": "mailto:g@example.jp"}],
            },
        ),
        "$.actor.member[0].objectType",
    ),
    (
        "group member without ifi",
        _set("actor", {"objectType": "Group", "member": [{"name": "x"}]}),
        "$.actor.member[0]",
    ),
    ("verb id not an IRI", _set("verb.id", "launched"), "$.verb.id"),
    ("verb without id", _delete("verb.id"), "$.verb.id"),
    (
        "verb display bad tag",
        _set("verb.display", {"not a tag": "x"}),
        "$.verb.display['not a tag']",
    ),
    ("verb display value not string", _set("verb.display", {"en": 1}), "$.verb.display.en"),
    ("verb unknown key", _set("verb.foo", 1), "$.verb.foo"),
    ("activity id not an IRI", _set("object.id", "assignment 7"), "$.object.id"),
    ("activity without id", _delete("object.id"), "$.object.id"),
    ("object type unknown", _set("object.objectType", "Thing"), "$.object.objectType"),
    ("definition type not IRI", _set("object.definition.type", "x"), "$.object.definition.type"),
    (
        "definition moreInfo not IRI",
        _set("object.definition.moreInfo", "x y"),
        "$.object.definition.moreInfo",
    ),
    (
        "definition name bad tag",
        _set("object.definition.name", {"日本語": "x"}),
        "$.object.definition.name['日本語']",
    ),
    (
        "interaction type unknown",
        _set("object.definition.interactionType", "essay"),
        "$.object.definition.interactionType",
    ),
    (
        "choices on a true-false interaction",
        _set("object.definition", {"interactionType": "true-false", "choices": []}),
        "$.object.definition.choices",
    ),
    (
        "duplicate component ids",
        _set(
            "object.definition",
            {"interactionType": "choice", "choices": [{"id": "a"}, {"id": "a"}]},
        ),
        "$.object.definition.choices[1].id",
    ),
    (
        "correctResponsesPattern not strings",
        _set(
            "object.definition",
            {"interactionType": "choice", "correctResponsesPattern": [1]},
        ),
        "$.object.definition.correctResponsesPattern[0]",
    ),
    (
        "definition extension key not IRI",
        _set("object.definition.extensions", {"grade": ["5"]}),
        "$.object.definition.extensions.grade",
    ),
    (
        "statement ref id not uuid",
        _set("object", {"objectType": "StatementRef", "id": "x"}),
        "$.object.id",
    ),
    (
        "substatement with id",
        _set(
            "object",
            {
                "objectType": "SubStatement",
                "id": "9e9b4e0a-6d7b-4c2a-9f3f-0e2a5c1d7b11",
                "actor": {"mbox": "mailto:a@example.jp"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
                "object": {"id": "https://example.jp/a"},
            },
        ),
        "$.object.id",
    ),
    (
        "nested substatement",
        _set(
            "object",
            {
                "objectType": "SubStatement",
                "actor": {"mbox": "mailto:a@example.jp"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
                "object": {
                    "objectType": "SubStatement",
                    "actor": {"mbox": "mailto:a@example.jp"},
                    "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
                    "object": {"id": "https://example.jp/a"},
                },
            },
        ),
        "$.object.object.objectType",
    ),
    ("score scaled above 1", _set("result", {"score": {"scaled": 1.5}}), "$.result.score.scaled"),
    ("score scaled below -1", _set("result", {"score": {"scaled": -2}}), "$.result.score.scaled"),
    (
        "raw above max",
        _set("result", {"score": {"raw": 11, "min": 0, "max": 10}}),
        "$.result.score.raw",
    ),
    (
        "raw below min",
        _set("result", {"score": {"raw": -1, "min": 0, "max": 10}}),
        "$.result.score.raw",
    ),
    ("min not below max", _set("result", {"score": {"min": 5, "max": 5}}), "$.result.score.max"),
    ("score not a number", _set("result", {"score": {"raw": "5"}}), "$.result.score.raw"),
    ("score boolean", _set("result", {"score": {"raw": True}}), "$.result.score.raw"),
    ("success not boolean", _set("result", {"success": "true"}), "$.result.success"),
    ("completion not boolean", _set("result", {"completion": 1}), "$.result.completion"),
    ("duration not ISO 8601", _set("result", {"duration": "90 minutes"}), "$.result.duration"),
    ("duration empty P", _set("result", {"duration": "P"}), "$.result.duration"),
    ("result unknown key", _set("result", {"grade": "A"}), "$.result.grade"),
    ("registration not uuid", _set("context.registration", "r1"), "$.context.registration"),
    ("instructor invalid", _set("context.instructor", {"name": "x"}), "$.context.instructor"),
    (
        "team not a group",
        _set("context.team", {"mbox": "mailto:a@example.jp"}),
        "$.context.team.objectType",
    ),
    (
        "context activity without id",
        _set("context.contextActivities", {"parent": [{"definition": {}}]}),
        "$.context.contextActivities.parent[0].id",
    ),
    (
        "context activity key unknown",
        _set("context.contextActivities", {"sibling": []}),
        "$.context.contextActivities.sibling",
    ),
    (
        "context activities a string",
        _set("context.contextActivities", {"parent": "https://example.jp/a"}),
        "$.context.contextActivities.parent",
    ),
    ("context language bad", _set("context.language", "japanese!"), "$.context.language"),
    (
        "context statement not a ref",
        _set("context.statement", {"objectType": "Activity", "id": "x"}),
        "$.context.statement.objectType",
    ),
    (
        "context extension key not IRI",
        _set("context.extensions", {"due": "x"}),
        "$.context.extensions.due",
    ),
    (
        "platform with an Agent object",
        _set("object", {"objectType": "Agent", "mbox": "mailto:a@example.jp"}),
        "$.context.platform",
    ),
    (
        "revision with a StatementRef object",
        _set(
            "object",
            {"objectType": "StatementRef", "id": "9e9b4e0a-6d7b-4c2a-9f3f-0e2a5c1d7b11"},
        ),
        "$.context.platform",
    ),
    ("timestamp -00:00", _set("timestamp", "2025-06-01T09:12:00-00:00"), "$.timestamp"),
    ("timestamp -0000", _set("timestamp", "2025-06-01T09:12:00-0000"), "$.timestamp"),
    ("timestamp -00", _set("timestamp", "2025-06-01T09:12:00-00"), "$.timestamp"),
    ("timestamp not a date", _set("timestamp", "yesterday"), "$.timestamp"),
    ("timestamp month 13", _set("timestamp", "2025-13-01T09:12:00Z"), "$.timestamp"),
    ("version 1.1.0", _set("version", "1.1.0"), "$.version"),
    ("version 0.9.5", _set("version", "0.9.5"), "$.version"),
    ("authority invalid", _set("authority", {"name": "x"}), "$.authority"),
    (
        "voiding statement with an Activity",
        _set("verb", {"id": "http://adlnet.gov/expapi/verbs/voided"}),
        "$.object",
    ),
    (
        "attachment missing sha2",
        _set(
            "attachments",
            [
                {
                    "usageType": "http://adlnet.gov/expapi/attachments/signature",
                    "display": {"en": "s"},
                    "contentType": "application/octet-stream",
                    "length": 1,
                }
            ],
        ),
        "$.attachments[0].sha2",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in INVALID], ids=[n for n, _, _ in INVALID]
)
def test_invalid_statement_reports_its_path(mutate: Mutation, expected: str) -> None:
    s = copy.deepcopy(statement())
    mutate(s)
    found = paths(s)
    assert expected in found, found


def test_context_agents_are_2_0_only() -> None:
    member = {
        "objectType": "contextAgent",
        "agent": {"mbox": "mailto:t@example.jp"},
        "relevantTypes": ["https://example.jp/types/teacher"],
    }
    s = statement()
    s["context"]["contextAgents"] = [member]
    assert "$.context.contextAgents" in paths(s, "1.0.3")
    assert paths(s, "2.0.0") == []
    s["context"]["contextAgents"] = [{**member, "relevantTypes": []}]
    assert paths(s, "2.0.0") == ["$.context.contextAgents[0].relevantTypes"]
    s["context"]["contextAgents"] = [{**member, "objectType": "Agent"}]
    assert paths(s, "2.0.0") == ["$.context.contextAgents[0].objectType"]
    s["context"]["contextGroups"] = [
        {"objectType": "contextGroup", "group": {"mbox": "mailto:g@example.jp"}}
    ]
    del s["context"]["contextAgents"]
    assert paths(s, "2.0.0") == ["$.context.contextGroups[0].group.objectType"]


def test_every_problem_is_reported() -> None:
    s = statement(id="x", timestamp="nope")
    s["verb"]["id"] = "launched"
    assert set(paths(s)) == {"$.id", "$.timestamp", "$.verb.id"}


def test_valid_variants() -> None:
    single_parent = statement()
    single_parent["context"]["contextActivities"] = {"parent": {"id": "https://example.jp/p"}}
    group = statement(
        actor={
            "objectType": "Group",
            "name": "3年1組",
            "member": [{"account": {"homePage": "https://portal.example.jp", "name": "u1"}}],
        }
    )
    identified = statement(actor={"objectType": "Group", "mbox": "mailto:class@example.jp"})
    scored = statement(
        result={
            "score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10},
            "success": True,
            "completion": True,
            "duration": "PT1H30M",
            "response": "b",
        }
    )
    interaction = statement()
    interaction["object"]["definition"] = {
        "interactionType": "matching",
        "source": [{"id": "a", "description": {"ja-JP": "あ"}}],
        "target": [{"id": "1"}],
        "correctResponsesPattern": ["a[.]1"],
    }
    for s in (single_parent, group, identified, scored, interaction):
        assert paths(s) == []
    assert paths(statement(version="1.0.0")) == []
    assert paths(statement(timestamp="2025-06-01T00:12:00.123Z")) == []
    assert paths(statement(timestamp="2025-06-01T09:12:00+0900")) == []


def test_duplicate_ids_in_a_batch() -> None:
    sid = "9e9b4e0a-6d7b-4c2a-9f3f-0e2a5c1d7b11"
    problems = validate_statements([statement(id=sid), statement(id=sid.upper())], "1.0.3")
    assert [p.path for p in problems] == ["$[1].id"]


def test_language_tags() -> None:
    for good in ("en", "ja-JP", "en-US", "zh-Hant-TW", "x-private", "es-419", "zh-cmn-Hans-CN"):
        assert is_language_tag(good), good
    for bad in ("", "english language", "ja_JP", "123", "a-"):
        assert not is_language_tag(bad), bad


def test_timestamps() -> None:
    instant = parse_timestamp("2025-06-01T09:12:00+09:00")
    assert instant is not None
    assert instant.isoformat() == "2025-06-01T00:12:00+00:00"
    assert timestamp_to_utc("2025-06-01T09:12:00.5+09:00") == "2025-06-01T00:12:00.500Z"
    assert parse_timestamp("2025-06-01T09:12:00+24:00") is None


def test_canonical_language_choice() -> None:
    pick = first_language({"ja": 1.0, "en": 0.5})
    assert pick({"en-US": "a", "ja-JP": "b"}) == {"ja-JP": "b"}
    assert first_language({"fr": 1.0})({"en-US": "a", "ja-JP": "b"}) == {"en-US": "a"}


def test_authority_groups_are_anonymous_pairs() -> None:
    app = {"account": {"homePage": "https://portal.example.jp", "name": "tool"}}
    user = {"mbox": "mailto:u@example.jp"}
    assert paths(statement(authority={"objectType": "Group", "member": [app, user]})) == []
    assert "$.authority.member" in paths(statement(authority={"objectType": "Group",
                                                              "member": [app]}))  # fmt: skip
    identified = {"objectType": "Group", "mbox": "mailto:g@example.jp", "member": [app, user]}
    assert "$.authority" in paths(statement(authority=identified))


def test_non_string_interaction_type_is_a_problem_not_a_crash() -> None:
    s = statement()
    s["object"]["definition"] = {"interactionType": ["choice"], "choices": [{"id": "a"}]}
    assert "$.object.definition.interactionType" in paths(s)
