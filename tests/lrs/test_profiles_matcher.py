"""The Japan xAPI profile matcher: each template matches, each rule can fail, both namespaces."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tsunagu.lrs.profiles import load_vocabulary, match_statement
from tsunagu.lrs.profiles.matcher import NOT_CLAIMED, Match
from tsunagu.lrs.profiles.vocabulary import GENERATIONS, Generation

LEARNER = "3f1d8a5e-2c4b-4e7a-9b1c-0d2e3f4a5b6c"
FEB_LMS = "https://w3id.org/japan-xapi/profiles/lms"
MAY_LMS = "https://w3id.org/xapi-japan-profiles/lms/v1.0.0"
FEB_ASSESSMENT = "https://w3id.org/japan-xapi/profiles/assessment"
ANSWERED = "http://adlnet.gov/expapi/verbs/answered"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
SCORE = {"score": {"scaled": 0.7, "raw": 7, "max": 10}}
PARENT = {"contextActivities": {"parent": [{"id": "https://books.example.jp/b/1"}]}}

#: What each template needs beyond verb and object type to break no error rule.
EXTRA: dict[str, dict[str, Any]] = {
    "assessment.answered": {"result": SCORE},
    "assessment.completed": {"result": SCORE},
    "ebook.bookmarked": {"context": PARENT},
    "ebook.annotated": {"context": PARENT},
    "ebook.delete": {"context": PARENT},
}


def build(
    profile: str | None = FEB_LMS,
    verb: str = "http://adlnet.gov/expapi/verbs/launched",
    object_type: str = "http://id.tincanapi.com/activitytype/school-assignment",
    **extra: Any,
) -> dict[str, Any]:
    """A statement following the common rules (eportal-standard.md §5.4), claiming ``profile``."""
    statement: dict[str, Any] = {
        "id": "b8e0f6a4-3c1d-4e2f-9a7b-1c2d3e4f5a6b",
        "actor": {"objectType": "Agent", "account": {"homePage": "https://p.jp", "name": LEARNER}},
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": "https://p.jp/a/1",
            "definition": {"type": object_type, "name": {"ja-JP": "課題"}},
        },
        "context": {"platform": "つなぐ", "language": "ja-JP", "contextActivities": {}},
        "timestamp": "2026-04-15T09:23:00+09:00",
        "version": "1.0.3",
    }
    if profile is not None:
        statement["context"]["contextActivities"]["category"] = [{"id": profile}]
    for key, value in extra.items():
        if key == "context":
            for k, v in value.items():
                if k == "contextActivities":
                    statement["context"]["contextActivities"].update(v)
                else:
                    statement["context"][k] = v
        else:
            statement[key] = value
    return statement


def rules_of(match: Match) -> dict[str, str]:
    """rule id -> JSON path of the errors."""
    return {v.rule: v.path for v in match.errors}


def template_cases() -> list[tuple[str, Generation]]:
    return [(t, g) for t in sorted(load_vocabulary().templates) for g in GENERATIONS]


@pytest.mark.parametrize(("template_id", "generation"), template_cases())
def test_every_template_matches_its_example(template_id: str, generation: Generation) -> None:
    vocabulary = load_vocabulary()
    template = vocabulary.templates[template_id]
    object_type = template.object_type or "http://adlnet.gov/expapi/activities/assessment"
    if object_type.startswith("@"):
        object_type = vocabulary.concepts[object_type].iri(generation)
    profile = vocabulary.profiles[template.domain].iri(generation)
    statement = build(profile, template.verbs[0], object_type, **EXTRA.get(template_id, {}))
    match = match_statement(statement)
    assert match.template == template_id
    assert match.domain == template.domain
    assert match.generation == generation
    assert match.errors == ()


def test_vocabulary_is_complete_and_rule_ids_are_unique() -> None:
    vocabulary = load_vocabulary()
    assert {p: len(v.templates) for p, v in vocabulary.profiles.items()} == {
        "lms": 9,
        "assessment": 4,
        "ebook": 8,
        "group-lst": 6,
    }
    ids = [r.id for r in vocabulary.common_rules] + [
        r.id for t in vocabulary.templates.values() for r in t.rules
    ]
    assert len(ids) == len(set(ids))
    for rule in vocabulary.rules.values():
        assert rule.label.ja
        assert rule.label.en


def test_a_statement_claiming_no_profile_is_not_judged() -> None:
    statement = build(None, actor={"mbox": "mailto:taro@example.jp"})
    assert match_statement(statement) == NOT_CLAIMED
    # Other vocabularies in the category are not Japan profiles either (§5.2 SIP line).
    assert match_statement(build("https://w3id.org/xapi/jpedudataspec/v/1")).domain is None


def test_claimed_profile_without_a_matching_template() -> None:
    match = match_statement(build(FEB_LMS, verb="http://adlnet.gov/expapi/verbs/answered"))
    assert match.domain == "lms"
    assert match.template is None
    assert rules_of(match) == {"lms.no-template": "$.verb.id"}
    assert "LMS" in match.errors[0].message_en
    assert "テンプレート" in match.errors[0].message_ja


def test_the_claimed_profile_decides_between_domains() -> None:
    lms = match_statement(build(FEB_LMS, verb=COMPLETED))
    assert lms.template == "lms.completed"
    assert lms.errors == ()
    assessment = match_statement(build(FEB_ASSESSMENT, verb=COMPLETED))
    assert assessment.template == "assessment.completed"
    assert rules_of(assessment) == {
        "assessment.completed.score-scaled": "$.result.score.scaled",
        "assessment.completed.score-raw": "$.result.score.raw",
        "assessment.completed.score-max": "$.result.score.max",
    }


# --- common rules (§2.3 共通記述規則) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "rule", "path"),
    [
        (
            {
                "actor": {
                    "objectType": "Group",
                    "account": {"homePage": "https://p.jp", "name": LEARNER},
                }
            },
            "common.actor-object-type",
            "$.actor.objectType",
        ),
        (
            {
                "actor": {
                    "objectType": "Agent",
                    "account": {"homePage": "https://p.jp", "name": "taro"},
                }
            },
            "common.actor-account-name",
            "$.actor.account.name",
        ),
        (
            {"actor": {"objectType": "Agent", "account": {"name": LEARNER}}},
            "common.actor-account-home-page",
            "$.actor.account.homePage",
        ),
        (
            {
                "verb": {
                    "id": "http://adlnet.gov/expapi/verbs/launched",
                    "display": {"ja-JP": "開始"},
                }
            },
            "common.verb-display-en",
            "$.verb.display.en",
        ),
        (
            {"object": {"id": "https://p.jp/a/1", "definition": {"type": "http://x.jp/t"}}},
            "common.object-type",
            "$.object.objectType",
        ),
        (
            {"object": {"objectType": "Activity", "id": "https://p.jp/a/1"}},
            "common.object-definition-type",
            "$.object.definition.type",
        ),
    ],
)
def test_common_rule_violations(change: dict[str, Any], rule: str, path: str) -> None:
    statement = {**build(), **change}
    match = match_statement(statement)
    assert match.template == "lms.launched"  # still the template, with the broken rule named
    assert rules_of(match).get(rule) == path


def test_mbox_actor_breaks_three_rules() -> None:
    match = match_statement(build(actor={"objectType": "Agent", "mbox": "mailto:a@example.jp"}))
    assert rules_of(match) == {
        "common.actor-no-mbox": "$.actor.mbox",
        "common.actor-account-home-page": "$.actor.account.homePage",
        "common.actor-account-name": "$.actor.account.name",
    }
    errors = {v.rule: v for v in match.errors}
    assert "個人情報" in errors["common.actor-no-mbox"].message_ja
    assert "must not be present" in errors["common.actor-no-mbox"].message_en


def test_missing_platform_and_language() -> None:
    statement = build()
    del statement["context"]["platform"]
    del statement["context"]["language"]
    assert rules_of(match_statement(statement)) == {
        "common.context-platform": "$.context.platform",
        "common.context-language": "$.context.language",
    }


def test_missing_japanese_name_is_advice_only() -> None:
    statement = build()
    statement["object"]["definition"]["name"] = {"en": "Assignment"}
    match = match_statement(statement)
    assert match.errors == ()
    assert [(v.rule, v.path) for v in match.advice] == [
        ("common.object-name-ja", "$.object.definition.name['ja-JP']")
    ]


def test_core_extension_schemas() -> None:
    grade = "https://w3id.org/japan-xapi/extensions/grade"
    unit = "https://w3id.org/japan-xapi/extensions/unit"
    statement = build()
    statement["object"]["definition"]["extensions"] = {grade: "小学校第5学年", unit: "分数"}
    match = match_statement(statement)
    # grade must be an array of strings; unit may be a string (older draft) or an array (§1.7).
    assert rules_of(match) == {
        "common.extension-grade": f"$.object.definition.extensions['{grade}']"
    }
    assert "array of strings" in match.errors[0].message_en


@pytest.mark.parametrize(
    ("iri", "value", "ok"),
    [
        ("https://w3id.org/japan-xapi/extensions/due-date", "2026-06-07T23:59:59+09:00", True),
        ("https://w3id.org/japan-xapi/extensions/due-date", "来週", False),
        (
            "https://w3id.org/xapi-japan-profiles/lms/extensions/due-date",
            {"start": "2026-06-01T00:00:00+09:00", "end": "2026-06-07T23:59:59+09:00"},
            True,
        ),
        (
            "https://w3id.org/xapi-japan-profiles/lms/extensions/due-date",
            {"end": "2026-06-07T23:59:59+09:00"},
            False,
        ),
    ],
)
def test_due_date_in_both_generations(iri: str, value: Any, ok: bool) -> None:
    statement = build(
        verb="https://w3id.org/xapi/adl/verbs/created", context={"extensions": {iri: value}}
    )
    match = match_statement(statement)
    assert match.template == "lms.created"
    if ok:
        assert match.violations == ()  # the recommended due date is there too
    else:
        assert rules_of(match) == {
            "common.context-extension-due-date": f"$.context.extensions['{iri}']"
        }


# --- template rules ----------------------------------------------------------------------------


def test_assessment_answered_rules() -> None:
    good = build(
        FEB_ASSESSMENT,
        verb=ANSWERED,
        result={"score": {"scaled": 0.5, "raw": 6, "min": 2, "max": 10}},
    )
    match = match_statement(good)
    assert match.template == "assessment.answered"
    assert match.errors == ()
    assert {v.rule for v in match.advice} == {
        "assessment.answered.response",
        "assessment.answered.duration",
        "assessment.answered.grouping",
    }
    missing_raw = build(FEB_ASSESSMENT, verb=ANSWERED, result={"score": {"scaled": 0.5, "max": 10}})
    assert rules_of(match_statement(missing_raw)) == {
        "assessment.answered.score-raw": "$.result.score.raw"
    }
    inconsistent = build(
        FEB_ASSESSMENT, verb=ANSWERED, result={"score": {"scaled": 0.9, "raw": 5, "max": 10}}
    )
    assert rules_of(match_statement(inconsistent)) == {
        "assessment.answered.score-consistent": "$.result.score"
    }
    order = "https://w3id.org/japan-xapi/extensions/question-order"
    bad_order = build(FEB_ASSESSMENT, verb=ANSWERED, result=SCORE)
    bad_order["object"]["definition"]["extensions"] = {order: "3"}
    assert rules_of(match_statement(bad_order)) == {
        "assessment.answered.question-order": f"$.object.definition.extensions['{order}']"
    }


def test_assessment_enumerations() -> None:
    kind = "https://w3id.org/japan-xapi/extensions/assessment-type"
    attempted = build(
        FEB_ASSESSMENT,
        verb="http://adlnet.gov/expapi/verbs/attempted",
        context={"extensions": {kind: "weekly"}},
    )
    match = match_statement(attempted)
    assert rules_of(match) == {
        "assessment.attempted.assessment-type": f"$.context.extensions['{kind}']"
    }
    assert "weekly" in match.errors[0].message_en
    content = "https://w3id.org/japan-xapi/extensions/content-type"
    viewed = build(FEB_ASSESSMENT, verb="http://id.tincanapi.com/verb/viewed")
    viewed["object"]["definition"]["extensions"] = {content: "answer"}
    assert rules_of(match_statement(viewed)) == {
        "assessment.viewed.content-type": f"$.object.definition.extensions['{content}']"
    }
    viewed["object"]["definition"]["extensions"] = {content: "hint"}
    assert match_statement(viewed).errors == ()


def test_ebook_rules_and_feb_vocabulary_on_may_templates() -> None:
    may = "https://w3id.org/xapi-japan-profiles/ebook/v1.0.0"
    no_parent = build(may, verb="https://w3id.org/xapi/adb/verbs/bookmarked")
    assert rules_of(match_statement(no_parent)) == {
        "ebook.bookmarked.parent": "$.context.contextActivities.parent[*].id"
    }
    tool = "https://w3id.org/xapi-japan-profiles/ebook/extensions/annotationTool"
    annotated = build(
        may,
        verb="https://w3id.org/xapi/adb/verbs/annotated",
        context={**PARENT, "extensions": {tool: "crayon"}},
    )
    assert rules_of(match_statement(annotated)) == {
        "ebook.annotated.annotation-tool": f"$.context.extensions['{tool}']"
    }
    # Feb forms: activitystrea.ms /schema/1.0/ verb and type, ADL ebook extension IRIs.
    feb_open = build(
        "https://w3id.org/japan-xapi/profiles/ebook",
        verb="http://activitystrea.ms/schema/1.0/open",
        object_type="http://activitystrea.ms/schema/1.0/book",
    )
    assert match_statement(feb_open).template == "ebook.opened"
    method = "https://w3id.org/xapi/ebook/extensions/navigationMethod"
    paged = build(
        may,
        verb="http://id.tincanapi.com/verb/viewed",
        object_type="https://w3id.org/xapi-japan-profiles/ebook/activitytypes/page",
        context={"extensions": {method: "scroll"}},
    )
    assert rules_of(match_statement(paged)) == {
        "ebook.viewed.navigation-method": f"$.context.extensions['{method}']"
    }
    # Object type decides: a viewer launch is not a page view.
    wrong_type = build(
        may,
        verb="http://id.tincanapi.com/verb/viewed",
        object_type="https://w3id.org/xapi-japan-profiles/ebook/activitytypes/viewer",
    )
    assert match_statement(wrong_type).template is None


def test_group_lst_verb_slips_and_object_types() -> None:
    profile = "https://w3id.org/japan-xapi/profiles/group-lst"
    tool = build(
        profile,
        verb="https://w3id.org/xapi/adl/verbs/launched",
        object_type="https://w3id.org/japan-xapi/activity-types/group-lst/tool",
    )
    assert match_statement(tool).template == "group-lst.launched-tool"
    slide = build(profile, object_type="http://id.tincanapi.com/activitytype/slide")
    assert match_statement(slide).template == "group-lst.launched-content"
    thread = build(
        profile,
        verb="http://activitystrea.ms/create",
        object_type="http://id.tincanapi.com/activitytype/discussion",
    )
    assert match_statement(thread).template == "group-lst.created-thread"


def test_lms_light_rules() -> None:
    responded = build(verb="http://adlnet.gov/expapi/verbs/responded", result={"response": 5})
    assert rules_of(match_statement(responded)) == {"lms.responded.response": "$.result.response"}
    range_iri = "https://w3id.org/xapi-japan-profiles/lms/extensions/range"
    shared = build(
        MAY_LMS,
        verb="http://adlnet.gov/expapi/verbs/shared",
        context={"extensions": {range_iri: {"school": []}}},
    )
    assert rules_of(match_statement(shared)) == {
        "lms.shared.range": f"$.context.extensions['{range_iri}']"
    }


@pytest.mark.parametrize(
    "profile",
    [
        FEB_LMS,
        MAY_LMS,
        "https://w3id.org/xapi-japan-profiles/lms",  # unversioned May form (alias)
    ],
)
def test_namespace_variants_of_the_profile_iri(profile: str) -> None:
    match = match_statement(build(profile))
    assert (match.domain, match.template, match.errors) == ("lms", "lms.launched", ())


def test_single_category_object_and_input_left_alone() -> None:
    statement = build()
    statement["context"]["contextActivities"]["category"] = {"id": MAY_LMS}  # 1.0.3 allows one
    before = copy.deepcopy(statement)
    assert match_statement(statement).template == "lms.launched"
    assert statement == before


def test_garbage_shapes_never_raise() -> None:
    for statement in (
        {**build(verb="nope"), "actor": "x"},
        {**build(), "object": []},
        {**build(), "context": {"contextActivities": {"category": [None, 3, {"id": FEB_LMS}]}}},
        {**build(), "result": {"score": "high"}},
    ):
        match_statement(statement)


@pytest.mark.parametrize(
    ("profile", "generation"),
    [
        ("https://w3id.org/xapi-japan-profiles/lms", "xapi-japan-profiles"),
        ("https://w3id.org/japan-xapi/profiles/cbt", "japan-xapi"),  # the name before 2026-02-12
        ("https://w3id.org/xapi/ebook/v1", "japan-xapi"),  # the Feb eBook inScheme
    ],
)
def test_aliases_take_the_generation_of_their_namespace(profile: str, generation: str) -> None:
    assert match_statement(build(profile)).generation == generation
