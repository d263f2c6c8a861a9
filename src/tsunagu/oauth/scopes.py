"""Every OAuth 2.0 scope a Tsunagu client can be granted, in one table.

A later service (LTI Advantage, the LRS) adds its scopes to :data:`SCOPES`; the CLI, the token
endpoint and the OpenAPI document all read this table, so nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

#: OneRoster 1.2 Rostering Service scopes (OneRoster 1.2 REST binding, security section; the
#: official OpenAPI file lists them under ``components.securitySchemes.OAuth2CC``).
ROSTER_CORE_READONLY = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
ROSTER_READONLY = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"


@dataclass(frozen=True)
class ScopeInfo:
    uri: str
    #: Short name accepted on the command line (``roster.readonly``).
    alias: str
    description: str


SCOPES: tuple[ScopeInfo, ...] = (
    ScopeInfo(
        uri=ROSTER_CORE_READONLY,
        alias="roster-core.readonly",
        description=(
            "OneRoster 1.2: the core read operations (every getAll* and get* of orgs, schools, "
            "academic sessions, terms, grading periods, courses, classes, users, students, "
            "teachers and enrollments)."
        ),
    ),
    ScopeInfo(
        uri=ROSTER_READONLY,
        alias="roster.readonly",
        description=(
            "OneRoster 1.2: every rostering read operation, including the nested ones "
            "(students of a class, classes of a user, …). Demographics are not served."
        ),
    ),
)


class UnknownScopeError(ValueError):
    """A scope name that is neither a registered URI nor its alias."""


def scope_descriptions() -> dict[str, str]:
    """URI -> description, for the OpenAPI security scheme."""
    return {scope.uri: scope.description for scope in SCOPES}


def resolve_scope(name: str) -> str:
    """The scope URI for ``name``, which may be the URI itself or its short alias."""
    name = name.strip()
    for scope in SCOPES:
        if name in (scope.uri, scope.alias):
            return scope.uri
    allowed = ", ".join(s.alias for s in SCOPES)
    raise UnknownScopeError(f"unknown scope '{name}'; allowed: {allowed} (or their full URIs)")


def short_name(uri: str) -> str:
    """The alias of a registered scope URI (for tables), or the URI itself."""
    return next((scope.alias for scope in SCOPES if scope.uri == uri), uri)


def is_known_uri(uri: str) -> bool:
    return any(scope.uri == uri for scope in SCOPES)
