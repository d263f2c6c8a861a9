"""Which Japan profile template a statement matches, and which of its rules it breaks.

Determining properties (xAPI Profiles 1.0 §9 "Statement Templates"; xapi-notes.md §1.7):

1. **Profile claim.** A statement claims a profile with a ``context.contextActivities.category``
   activity whose id is the profile IRI (either namespace generation, or an alias). A statement
   that claims no Japan profile matches no template and is never judged: the LRS accepts any
   profile (eportal-standard.md §5.2), and the drafts say unscored answers should carry the
   category only once scored (xapi-notes.md §1.5).
2. **Verb** (aliases of §1.7 applied) and, where the template fixes one, the **object activity
   type** (either generation's IRI). Verbs such as ``viewed`` or ``completed`` appear in several
   domains; the claimed profile decides between them.
3. Among the candidates, the one with the fewest errors wins (then the more specific one, then
   the order of the data files).

Rules follow xAPI Profiles 1.0 §9.1 "Rules": ``included`` must be present, ``excluded`` absent,
``recommended`` missing is only advice; ``any`` restricts values; ``schema`` names one of the
checks below. Properties the LRS fills in itself (``id``, ``timestamp``, ``version``) are not
judged: the matcher runs on the statement as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from tsunagu.lrs.profiles.vocabulary import (
    Generation,
    Rule,
    Severity,
    Step,
    Template,
    Vocabulary,
    load_vocabulary,
)
from tsunagu.lrs.validation import is_uuid, parse_timestamp

#: The rule ``<domain>.no-template``: a statement claims a profile but fits none of its templates.
NO_TEMPLATE = "no-template"


def no_template_rule(domain: str) -> str:
    return f"{domain}.{NO_TEMPLATE}"


@dataclass(frozen=True)
class Violation:
    rule: str
    path: str
    severity: Severity
    message_ja: str
    message_en: str

    @property
    def message(self) -> str:
        return f"{self.message_en} / {self.message_ja}"

    def as_json(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "path": self.path,
            "severity": self.severity,
            "message_ja": self.message_ja,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class Match:
    """The outcome for one statement. ``domain`` is None when it claims no Japan profile."""

    domain: str | None = None
    generation: Generation | None = None
    template: str | None = None
    violations: tuple[Violation, ...] = ()

    # Computed once (the store path asks for both); cached_property writes the instance
    # __dict__ directly, which a frozen dataclass allows.
    @cached_property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "error")

    @cached_property
    def advice(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "advice")


NOT_CLAIMED = Match()

# --- schemas ---------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_string_array(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_date_time(value: Any) -> bool:
    return isinstance(value, str) and parse_timestamp(value) is not None


def _is_due_date(value: Any) -> bool:
    # Feb core: an ISO 8601 date-time string; May LMS: {start, end}, both date-times (§1.7).
    if isinstance(value, dict):
        return _is_date_time(value.get("start")) and _is_date_time(value.get("end"))
    return _is_date_time(value)


def _is_consistent_score(value: Any) -> bool:
    """scaled = (raw - min) / (max - min), min defaulting to 0 (xapi-notes.md §1.5), to the 7
    decimals SCORM allows."""
    if not isinstance(value, dict):
        return False
    scaled, raw, top = value.get("scaled"), value.get("raw"), value.get("max")
    low = value.get("min", 0)
    if not all(_is_number(v) for v in (scaled, raw, top, low)) or top == low:
        return True  # nothing to compare (presence rules report what is missing)
    return bool(abs(scaled - (raw - low) / (top - low)) <= 1e-6)


SCHEMAS: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    "string": (lambda v: isinstance(v, str), "文字列", "a string"),
    "boolean": (lambda v: isinstance(v, bool), "真偽値", "a boolean"),
    "integer": (
        lambda v: isinstance(v, int) and not isinstance(v, bool),
        "整数",
        "an integer",
    ),
    "number": (_is_number, "数値", "a number"),
    "uuid": (is_uuid, "UUID", "a UUID"),
    "string-array": (_is_string_array, "文字列の配列", "an array of strings"),
    "string-or-string-array": (
        lambda v: isinstance(v, str) or _is_string_array(v),
        "文字列または文字列の配列",
        "a string or an array of strings",
    ),
    "array": (lambda v: isinstance(v, list), "配列", "an array"),
    "due-date": (
        _is_due_date,
        "日時、または start と end の日時を持つオブジェクト",
        "a date-time, or an object with start and end date-times",
    ),
    "score": (_is_consistent_score, "得点と矛盾しない値", "consistent with raw, min and max"),
}

# --- locations -------------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _child_path(path: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}['{key}']"


PathPart = str | int


def render_path(parts: tuple[PathPart, ...]) -> str:
    """``$.a['b c'][0]`` from the keys and indexes walked (rendered only for violations)."""
    path = "$"
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _child_path(path, part)
    return path


def find(
    statement: Any, steps: tuple[Step, ...], vocabulary: Vocabulary
) -> list[tuple[tuple[PathPart, ...], Any]]:
    """Every (path parts, value) a rule location selects in a statement."""
    found: list[tuple[tuple[PathPart, ...], Any]] = [((), statement)]
    for kind, name in steps:
        following: list[tuple[tuple[PathPart, ...], Any]] = []
        for parts, value in found:
            if kind == "all":
                if isinstance(value, list):
                    following.extend(((*parts, i), v) for i, v in enumerate(value))
            elif not isinstance(value, dict):
                continue
            elif kind == "key":
                if name in value:
                    following.append(((*parts, name), value[name]))
            else:  # a concept: whichever of its IRIs the statement uses
                for iri in vocabulary.concepts[name].all_iris:
                    if iri in value:
                        following.append(((*parts, iri), value[iri]))
                        break
        found = following
        if not found:
            break
    return found


def _missing_path(rule: Rule, vocabulary: Vocabulary, generation: Generation) -> str:
    path = "$"
    for kind, name in rule.steps:
        if kind == "all":
            path += "[*]"
        elif kind == "key":
            path = _child_path(path, name)
        else:
            path = _child_path(path, vocabulary.concepts[name].iri(generation))
    return path


@cache
def _missing(rule: Rule, vocabulary: Vocabulary, generation: Generation) -> tuple[Violation, ...]:
    """The violation of an absent item, built once per rule and generation (it never varies)."""
    label = rule.label
    path = _missing_path(rule, vocabulary, generation)
    if rule.presence == "included":
        return (
            Violation(
                rule.id,
                path,
                "error",
                f"{label.ja}がありません（プロファイルで必須）",
                f"{label.en} is missing (the profile requires it)",
            ),
        )
    if rule.presence == "recommended":
        return (
            Violation(
                rule.id,
                path,
                "advice",
                f"{label.ja}がありません（プロファイルで推奨）",
                f"{label.en} is missing (the profile recommends it)",
            ),
        )
    return ()


#: A rule ready to run for one generation: (rule, plain keys, final concept IRIs, the
#: violations when absent, whether presence is all there is to check).
_Compiled = tuple[Rule, tuple[str, ...] | None, tuple[str, ...] | None, tuple[Violation, ...], bool]


@cache
def _compile(rule: Rule, vocabulary: Vocabulary, generation: Generation) -> _Compiled:
    simple = rule.presence != "excluded" and not rule.any and rule.schema is None
    missing = _missing(rule, vocabulary, generation)
    return (rule, rule.keys, rule.tail_iris, missing, simple)


def _run(statement: dict[str, Any], compiled: _Compiled, vocabulary: Vocabulary) -> Any:
    """The violations of one compiled rule (a tuple; the hot path of every stored statement)."""
    rule, keys, tail, missing, simple = compiled
    if keys is not None:  # most rules: a plain walk down dictionaries
        value: Any = statement
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return missing
            value = value[key]
        where: tuple[PathPart, ...] = keys
        if tail is not None:  # ends in a concept: whichever IRI of it is used
            if not isinstance(value, dict):
                return missing
            for iri in tail:
                if iri in value:
                    where, value = (*keys, iri), value[iri]
                    break
            else:
                return missing
        if simple:
            return ()
        found: list[tuple[tuple[PathPart, ...], Any]] = [(where, value)]
    else:
        found = find(statement, rule.steps, vocabulary)
        if not found:
            return missing
        if simple:
            return ()
    return _judge(rule, found, vocabulary)


def check_rule(
    statement: dict[str, Any], rule: Rule, vocabulary: Vocabulary, generation: Generation
) -> tuple[Violation, ...]:
    """The violations of one rule by a statement (reported paths in ``generation``'s IRIs)."""
    found: tuple[Violation, ...] = _run(
        statement, _compile(rule, vocabulary, generation), vocabulary
    )
    return found


def _judge(
    rule: Rule, found: list[tuple[tuple[PathPart, ...], Any]], vocabulary: Vocabulary
) -> tuple[Violation, ...]:
    """What is wrong with the values a rule's location selected (excluded, any, schema)."""
    label = rule.label
    if rule.presence == "excluded":
        return (
            Violation(
                rule.id,
                render_path(found[0][0]),
                "error",
                f"{label.ja}を含めてはいけません",
                f"{label.en} must not be present",
            ),
        )
    problems: list[Violation] = []
    for parts, value in found:
        if rule.any and not (isinstance(value, str) and vocabulary.concept_of(value) in rule.any):
            allowed = ", ".join(sorted(rule.any))
            shown = str(value)[:80]
            problems.append(
                Violation(
                    rule.id,
                    render_path(parts),
                    "error",
                    f"{label.ja}の値 {shown} はプロファイルで使えません（{allowed}）",
                    f"{label.en}: {shown} is not one the profile allows ({allowed})",
                )
            )
        elif rule.schema is not None:
            check, schema_ja, schema_en = SCHEMAS[rule.schema]
            if not check(value):
                problems.append(
                    Violation(
                        rule.id,
                        render_path(parts),
                        "error",
                        f"{label.ja}は{schema_ja}でなければなりません",
                        f"{label.en} must be {schema_en}",
                    )
                )
    return tuple(problems)


@cache
def _compiled_rules(
    vocabulary: Vocabulary, generation: Generation
) -> tuple[tuple[_Compiled, ...], dict[str, tuple[_Compiled, ...]]]:
    """Every rule compiled for a generation: the common ones, and each template's."""
    common = tuple(_compile(r, vocabulary, generation) for r in vocabulary.common_rules)
    templates = {
        t.id: tuple(_compile(r, vocabulary, generation) for r in t.rules)
        for t in vocabulary.templates.values()
    }
    return common, templates


_MISSING = object()


@cache
def _checker(
    vocabulary: Vocabulary, generation: Generation, template_id: str
) -> Callable[[dict[str, Any]], list[Violation]]:
    """One Python function checking the common rules and a template's rules, generated from
    the compiled rules (every statement claiming a profile runs it, so interpretation overhead
    per rule matters: this is several times faster than :func:`_run` in a loop). Locations of
    plain keys (and a final concept) are inlined; any other location goes through :func:`_run`.
    """
    common, templates = _compiled_rules(vocabulary, generation)
    rules = (*common, *templates[template_id])
    lines = ["def check(s):", "    out = []"]
    namespace: dict[str, Any] = {"_M": _MISSING, "_run": _run, "_judge": _judge, "_v": vocabulary}
    for i, (rule, keys, tail, missing, simple) in enumerate(rules):
        namespace[f"c{i}"] = rules[i]
        namespace[f"m{i}"] = missing
        namespace[f"r{i}"] = rule
        if keys is None:
            lines.append(f"    out.extend(_run(s, c{i}, _v))")
            continue
        if not missing and simple:
            continue  # absent is fine and present needs no check: nothing to do
        lines.append("    v = s")
        for key in keys:
            lines.append(f"    v = v.get({key!r}, _M) if isinstance(v, dict) else _M")
        where = f"{keys!r}"
        if tail is not None:
            namespace[f"t{i}"] = tail
            lines += [
                "    w = _M",
                "    if isinstance(v, dict):",
                f"        for iri in t{i}:",
                "            if iri in v:",
                f"                w = ({', '.join(repr(k) for k in keys)}, iri)",
                "                v = v[iri]",
                "                break",
                "    if w is _M:",
                "        v = _M",
            ]
            where = "w"
        lines.append("    if v is _M:")
        lines.append(f"        out.extend(m{i})" if missing else "        pass")
        if not simple:
            lines += ["    else:", f"        out.extend(_judge(r{i}, [({where}, v)], _v))"]
    lines.append("    return out")
    # Safe to exec: the source comes from the packaged profile data only (every key through
    # repr, every other value bound in the namespace), never from a statement or a request.
    exec(compile("\n".join(lines), f"<profile checker {template_id}>", "exec"), namespace)  # noqa: S102
    checker: Callable[[dict[str, Any]], list[Violation]] = namespace["check"]
    return checker


# --- matching --------------------------------------------------------------------------------


@cache
def _candidates_by_verb(vocabulary: Vocabulary) -> dict[tuple[str, str], tuple[Template, ...]]:
    index: dict[tuple[str, str], list[Template]] = {}
    for profile in vocabulary.profiles.values():
        for template in profile.templates:
            for verb in template.verbs:
                index.setdefault((profile.domain, verb), []).append(template)
    return {k: tuple(v) for k, v in index.items()}


@cache
def _generation_by_iri(vocabulary: Vocabulary) -> dict[str, Generation]:
    found: dict[str, Generation] = {}
    for profile in vocabulary.profiles.values():
        for generation, iri in profile.iris.items():
            found[iri] = generation  # type: ignore[assignment]
    return found


def claimed_profiles(
    statement: dict[str, Any], vocabulary: Vocabulary
) -> list[tuple[str, Generation]]:
    """(domain, generation) of every Japan profile the statement's category activities claim."""
    context = statement.get("context")
    if not isinstance(context, dict):
        return []
    activities = context.get("contextActivities")
    if not isinstance(activities, dict):
        return []
    category = activities.get("category")
    items = category if isinstance(category, list) else [category]
    claimed: list[tuple[str, Generation]] = []
    generations = _generation_by_iri(vocabulary)
    for item in items:
        if not isinstance(item, dict):
            continue
        iri = item.get("id")
        domain = vocabulary.domain_by_iri.get(iri) if isinstance(iri, str) else None
        if domain is not None and all(d != domain for d, _ in claimed):
            assert isinstance(iri, str)
            generation = generations.get(iri)
            if generation is None:  # an alias: May 2026 by its namespace, else Feb 2026
                generation = (
                    "xapi-japan-profiles" if "/xapi-japan-profiles/" in iri else "japan-xapi"
                )
            claimed.append((domain, generation))
    return claimed


def match_statement(statement: dict[str, Any], vocabulary: Vocabulary | None = None) -> Match:
    """The template a statement matches (or None) and the rules it breaks."""
    vocabulary = vocabulary or load_vocabulary()
    claimed = claimed_profiles(statement, vocabulary)
    if not claimed:
        return NOT_CLAIMED
    verb_part = statement.get("verb")
    verb_id = verb_part.get("id") if isinstance(verb_part, dict) else None
    verb = vocabulary.verb(verb_id) if isinstance(verb_id, str) else ""
    target = statement.get("object")
    definition = target.get("definition") if isinstance(target, dict) else None
    type_iri = definition.get("type") if isinstance(definition, dict) else None
    object_type = vocabulary.concept_of(type_iri) if isinstance(type_iri, str) else None

    index = _candidates_by_verb(vocabulary)
    candidates: list[tuple[Template, Generation]] = []
    for domain, generation in claimed:
        for template in index.get((domain, verb), ()):
            if template.object_type is None or template.object_type == object_type:
                candidates.append((template, generation))
    domain, generation = claimed[0]
    if not candidates:
        profile = vocabulary.profiles[domain]
        return Match(
            domain,
            generation,
            None,
            (
                Violation(
                    no_template_rule(domain),
                    "$.verb.id",
                    "error",
                    f"{profile.label.ja}プロファイルを宣言していますが、どのテンプレートにも"
                    f"一致しません（動詞 {verb}）",
                    f"claims the {profile.label.en} profile but matches none of its templates "
                    f"(verb {verb})",
                ),
            ),
        )
    if len(candidates) == 1:  # the usual case: nothing to rank
        template, template_generation = candidates[0]
        violations = _checker(vocabulary, template_generation, template.id)(statement)
        return Match(template.domain, template_generation, template.id, tuple(violations))
    best: tuple[tuple[int, int, int], Match] | None = None
    for order, (template, template_generation) in enumerate(candidates):
        violations = _checker(vocabulary, template_generation, template.id)(statement)
        errors = sum(1 for v in violations if v.severity == "error")
        rank = (errors, 0 if template.object_type is not None else 1, order)
        if best is None or rank < best[0]:
            best = (
                rank,
                Match(template.domain, template_generation, template.id, tuple(violations)),
            )
    assert best is not None
    return best[1]
