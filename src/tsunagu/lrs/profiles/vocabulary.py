"""The Japan xAPI profile vocabulary, loaded from the JSON files in ``data/``.

The profiles (ICT CONNECT 21 xAPI SWG drafts, xapi-notes.md §1) are published as Markdown only,
so Tsunagu keeps its own transcription as data: ``core.json`` (concepts, verb aliases, the common
rules of §2.3 共通記述規則) and one file per domain profile (LMS, Assessment, eBook, Group-LST)
with its statement templates and their rules, in the shape of xAPI Profiles 1.0 §9 "Statement
Templates" (determining properties + rules with ``location`` / ``presence`` / ``any``).

Two IRI generations are in the field (xapi-notes.md §1.4): ``japan-xapi`` (Feb 2026) and
``xapi-japan-profiles`` (May 2026). Matching recognises both (and the aliases of §1.7); the portal
writes the one ``Settings.lrs_profile_namespace`` names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

Generation = Literal["japan-xapi", "xapi-japan-profiles"]
GENERATIONS: tuple[Generation, ...] = ("japan-xapi", "xapi-japan-profiles")
DOMAIN_FILES = ("lms", "assessment", "ebook", "group-lst")

Presence = Literal["included", "excluded", "recommended"] | None
#: A rule's severity: an ``error`` breaks the template (strict mode rejects it); ``advice`` is a
#: missing *recommended* item (reported, never rejected).
Severity = Literal["error", "advice"]


@dataclass(frozen=True)
class Text:
    ja: str
    en: str


@dataclass(frozen=True)
class Concept:
    key: str  # "@grade"
    kind: str  # extension | activity-type
    label: Text
    iris: dict[str, str]  # generation -> IRI
    aliases: tuple[str, ...]
    #: Every IRI that stands for this concept (all generations, then aliases).
    all_iris: tuple[str, ...]

    def iri(self, generation: Generation) -> str:
        """The IRI to write: the generation's own, else the one generation that defines it."""
        return self.iris.get(generation) or next(iter(self.iris.values()))


# One step of a rule location: ("key", name) | ("all", "") | ("concept", "@key").
Step = tuple[str, str]
_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\['([^']*)'\]|\[(\*)\]|\[(@[\w-]+)\]")


def parse_location(location: str) -> tuple[Step, ...]:
    """The JSONPath subset the rules use: ``$.a.b``, ``['ja-JP']``, ``[*]``, ``[@concept]``."""
    if not location.startswith("$"):
        raise ValueError(f"rule location must start with $: {location}")
    steps: list[Step] = []
    position = 1
    while position < len(location):
        m = _STEP.match(location, position)
        if m is None:
            raise ValueError(f"unsupported rule location syntax at {position}: {location}")
        name, quoted, star, concept = m.groups()
        if star:
            steps.append(("all", ""))
        elif concept:
            steps.append(("concept", concept))
        else:
            steps.append(("key", name if name is not None else quoted))
        position = m.end()
    return tuple(steps)


@dataclass(frozen=True, eq=False)  # identity hash: the matcher caches per rule
class Rule:
    id: str  # stable: "<domain>.<template>.<rule>" or "common.<rule>"
    location: str
    steps: tuple[Step, ...]
    presence: Presence
    label: Text
    any: frozenset[str] = frozenset()
    schema: str | None = None
    #: The keys of a location made of plain keys, optionally ending in one concept (most
    #: rules): walked without the general location machinery.
    keys: tuple[str, ...] | None = None
    #: The IRIs of that final concept, if the location ends in one.
    tail_iris: tuple[str, ...] | None = None

    @property
    def severity(self) -> Severity:
        return "advice" if self.presence == "recommended" else "error"


@dataclass(frozen=True)
class Template:
    id: str  # stable local id: "<domain>.<name>", e.g. "lms.launched"
    domain: str
    name: str
    label: Text
    verbs: tuple[str, ...]  # normalised verb IRIs (any of them determines the template)
    object_type: str | None  # a concept key or an IRI; None: any object type
    rules: tuple[Rule, ...]
    iris: dict[str, str]  # generation -> template IRI


@dataclass(frozen=True)
class Profile:
    domain: str
    label: Text
    iris: dict[str, str]
    aliases: tuple[str, ...]
    templates: tuple[Template, ...]

    def iri(self, generation: Generation) -> str:
        return self.iris[generation]


@dataclass(frozen=True, eq=False)  # identity hash: one per process, cached lookups key on it
class Vocabulary:
    concepts: dict[str, Concept]
    profiles: dict[str, Profile]
    common_rules: tuple[Rule, ...]
    verb_aliases: dict[str, str]
    verb_display: dict[str, dict[str, str]]
    profile_activity_type: str
    #: Every IRI of a concept (all generations, aliases) -> its key.
    concept_by_iri: dict[str, str]
    #: Every IRI of a profile (all generations, aliases) -> its domain.
    domain_by_iri: dict[str, str]

    def verb(self, iri: str) -> str:
        return self.verb_aliases.get(iri, iri)

    def concept_of(self, iri: str) -> str:
        """The concept key an IRI stands for, or the IRI itself when it is no Japan concept."""
        return self.concept_by_iri.get(iri, iri)

    @property
    def templates(self) -> dict[str, Template]:
        return {t.id: t for p in self.profiles.values() for t in p.templates}

    @property
    def rules(self) -> dict[str, Rule]:
        found = {r.id: r for r in self.common_rules}
        for template in self.templates.values():
            found.update((r.id, r) for r in template.rules)
        return found


def _text(raw: dict[str, str]) -> Text:
    return Text(ja=raw["ja"], en=raw["en"])


def _rule(raw: dict[str, Any], prefix: str, concepts: dict[str, Concept]) -> Rule:
    steps = parse_location(raw["location"])
    tail_iris = None
    head = steps
    if steps and steps[-1][0] == "concept":
        head = steps[:-1]
        concept = concepts.get(steps[-1][1])
        if concept is None:
            raise ValueError(f"{prefix}.{raw['id']}: unknown concept {steps[-1][1]}")
        tail_iris = concept.all_iris
    plain = all(kind == "key" for kind, _ in head)
    return Rule(
        id=f"{prefix}.{raw['id']}",
        location=raw["location"],
        steps=steps,
        keys=tuple(name for _, name in head) if plain else None,
        tail_iris=tail_iris if plain else None,
        presence=raw.get("presence"),
        label=_text(raw["label"]),
        any=frozenset(raw.get("any", ())),
        schema=raw.get("schema"),
    )


def _read(name: str) -> dict[str, Any]:
    text = resources.files("tsunagu.lrs.profiles").joinpath("data", f"{name}.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def load_vocabulary() -> Vocabulary:
    """The transcribed profiles (read once per process)."""
    core = _read("core")
    concepts = {
        key: Concept(
            key=key,
            kind=raw["kind"],
            label=_text(raw["label"]),
            iris=dict(raw["iris"]),
            aliases=tuple(raw.get("aliases", ())),
            all_iris=(*raw["iris"].values(), *raw.get("aliases", ())),
        )
        for key, raw in core["concepts"].items()
    }
    verb_aliases = {k: v for k, v in core["verb_aliases"].items() if not k.startswith("_")}
    concept_by_iri = {iri: c.key for c in concepts.values() for iri in c.all_iris}
    profiles: dict[str, Profile] = {}
    domain_by_iri: dict[str, str] = {}
    for name in DOMAIN_FILES:
        raw = _read(name)
        domain = raw["domain"]
        templates = []
        for t in raw["templates"]:
            template_id = f"{domain}.{t['name']}"
            object_type = t.get("object_type")
            if (
                object_type is not None
                and object_type.startswith("@")
                and object_type not in concepts
            ):
                raise ValueError(f"{template_id}: unknown concept {object_type}")
            templates.append(
                Template(
                    id=template_id,
                    domain=domain,
                    name=t["name"],
                    label=_text(t["label"]),
                    verbs=tuple(verb_aliases.get(v, v) for v in t["verbs"]),
                    object_type=object_type,
                    rules=tuple(_rule(r, template_id, concepts) for r in t["rules"]),
                    iris={
                        g: pattern.format(name=t["name"])
                        for g, pattern in raw["template_iris"].items()
                    },
                )
            )
        profile = Profile(
            domain=domain,
            label=_text(raw["label"]),
            iris=dict(raw["iris"]),
            aliases=tuple(raw.get("aliases", ())),
            templates=tuple(templates),
        )
        profiles[domain] = profile
        for iri in (*profile.iris.values(), *profile.aliases):
            domain_by_iri[iri] = domain
    common = tuple(_rule(r, "common", concepts) for r in core["common_rules"])
    vocabulary = Vocabulary(
        concepts=concepts,
        profiles=profiles,
        common_rules=common,
        verb_aliases=verb_aliases,
        verb_display={k: v for k, v in core["verbs"].items() if not k.startswith("_")},
        profile_activity_type=core["profile_activity_type"],
        concept_by_iri=concept_by_iri,
        domain_by_iri=domain_by_iri,
    )
    for rule in vocabulary.rules.values():
        for kind, value in rule.steps:
            if kind == "concept" and value not in concepts:
                raise ValueError(f"{rule.id}: unknown concept {value}")
    return vocabulary
