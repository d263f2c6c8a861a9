"""The ``filter`` query parameter of the OneRoster 1.2 REST binding, parsed into predicates.

Grammar (OneRoster 1.2 REST binding, "Filtering"; its examples and public implementations)::

    filter     := predicate [ ws ("AND" | "OR") ws predicate ]
    predicate  := field ws? operator ws? "'" value "'"
    field      := name ("." name)*            e.g. familyName, course.sourcedId, roles.role
    operator   := "=" | "!=" | ">" | ">=" | "<" | "<=" | "~"      ("~" means contains)

At most two predicates, joined by AND or OR. A quote inside a value is written twice (``''``), as
in SQL; the binding defines no escape, and this one cannot clash with a valid filter. This module
only parses; :mod:`tsunagu.roster.rest.queries` turns predicates into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Operator = Literal["=", "!=", ">", ">=", "<", "<=", "~"]
#: Longest first, so ">=" is not read as ">" followed by "=".
OPERATORS: tuple[Operator, ...] = ("!=", ">=", "<=", "=", ">", "<", "~")
MAX_FILTER_LENGTH = 2000

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CONJUNCTION = re.compile(r"\s+(AND|OR)\s+", re.IGNORECASE)


class FilterSyntaxError(ValueError):
    """The filter text does not follow the grammar; the message says where."""


@dataclass(frozen=True)
class Predicate:
    field: str
    op: Operator
    value: str


@dataclass(frozen=True)
class FilterExpression:
    predicates: tuple[Predicate, ...]
    #: ``None`` for a single predicate.
    conjunction: Literal["AND", "OR"] | None = None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def _fail(self, what: str) -> FilterSyntaxError:
        return FilterSyntaxError(f"{what} at position {self.pos + 1} of the filter")

    def predicate(self) -> Predicate:
        self._skip_spaces()
        match = _FIELD.match(self.text, self.pos)
        if match is None:
            raise self._fail("expected a field name")
        field = match.group(0)
        self.pos = match.end()
        self._skip_spaces()
        op = next((o for o in OPERATORS if self.text.startswith(o, self.pos)), None)
        if op is None:
            raise self._fail(f"expected an operator (one of {' '.join(OPERATORS)}) after '{field}'")
        self.pos += len(op)
        self._skip_spaces()
        return Predicate(field=field, op=op, value=self._quoted())

    def _quoted(self) -> str:
        if not self.text.startswith("'", self.pos):
            raise self._fail("expected a value in single quotes")
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "'":
                if self.text.startswith("''", self.pos):
                    chars.append("'")
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(chars)
            chars.append(ch)
            self.pos += 1
        raise self._fail("unterminated quoted value")

    def conjunction(self) -> Literal["AND", "OR"] | None:
        if self.pos >= len(self.text.rstrip(" \t")):
            self.pos = len(self.text)
            return None
        match = _CONJUNCTION.match(self.text, self.pos)
        if match is None:
            raise self._fail("expected ' AND ' or ' OR ' between predicates")
        self.pos = match.end()
        return "AND" if match.group(1).upper() == "AND" else "OR"


def parse_filter(text: str) -> FilterExpression:
    """Parse a filter; raise :class:`FilterSyntaxError` if it is malformed."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterSyntaxError(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    if not text.strip():
        raise FilterSyntaxError("the filter is empty")
    parser = _Parser(text)
    first = parser.predicate()
    conjunction = parser.conjunction()
    if conjunction is None:
        return FilterExpression(predicates=(first,))
    second = parser.predicate()
    more = parser.conjunction()
    if more is not None:
        if more != conjunction:
            raise FilterSyntaxError("AND and OR cannot be combined in one filter")
        raise FilterSyntaxError("a filter has at most two predicates")
    return FilterExpression(predicates=(first, second), conjunction=conjunction)
