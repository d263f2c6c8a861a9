"""The drill units: a handful of arithmetic exercises, the same problems for everyone."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    id: str
    title: str
    operator: str
    low: int
    high: int


UNITS: dict[str, Unit] = {
    u.id: u
    for u in (
        Unit("add-1", "たし算（くり上がりなし）", "+", 1, 4),
        Unit("add-2", "たし算（くり上がりあり）", "+", 5, 9),
        Unit("sub-1", "ひき算（くり下がりなし）", "-", 1, 9),
        Unit("mul-1", "かけ算九九", "×", 2, 9),
    )
}
PROBLEMS_PER_UNIT = 5
POINTS_PER_PROBLEM = 2
SCORE_MAXIMUM = PROBLEMS_PER_UNIT * POINTS_PER_PROBLEM


def problems(unit: Unit) -> list[tuple[int, int, int]]:
    """(a, b, answer) for each problem, deterministic per unit."""
    rng = random.Random(unit.id)  # noqa: S311 (drill content, not security)
    out = []
    for _ in range(PROBLEMS_PER_UNIT):
        a, b = rng.randint(unit.low, unit.high), rng.randint(unit.low, unit.high)
        if unit.operator == "-":
            a = max(a, b) + b  # no negative answers in 小学校 ひき算
        answer = {"+": a + b, "-": a - b, "×": a * b}[unit.operator]
        out.append((a, b, answer))
    return out


def score(unit: Unit, answers: list[str]) -> int:
    total = 0
    for (_, _, answer), given in zip(problems(unit), answers, strict=False):
        if given.strip() == str(answer):
            total += POINTS_PER_PROBLEM
    return total
