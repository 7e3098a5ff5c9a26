"""The leaf clauses of a rule tree, compiled: what they test, resolved once.

Each leaf keeps its label (the catalog's words, or the text built from its path and
bound) and, where a missing fact settles nothing, its whole unknown outcome; for a
profile it reads its facts and adds only the detail that depends on them. Here: what
every leaf shares, and ``compile_leaf``; the kinds live in ``app.domain.comparisons``,
``app.domain.dated`` and ``app.domain.recognitions``, each with its column emitter.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from app.catalog.schema import (
    CompareRule,
    DateWithinRule,
    DaysBeforeApplicationRule,
    FactRule,
    FindingRule,
    FirstTimeAboveRule,
    RecognitionRule,
    Rule,
    YearsSinceRule,
)
from app.domain.expressions import Params, constant
from app.domain.money import as_decimal
from app.domain.results import Bilingual, ClauseResult, Tri
from app.domain.rules import Kept, RuleOutcome, RulePlan, label_of, new_outcome
from app.domain.text import show, unknown_detail

_NUMERIC = re.compile(r"^\s*[-+]?(\d|\.\d)")
_ORDER: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
#: Outcomes a clause remembers by the word read (a vocabulary is small; free text is not).
_SEEN_MAX = 64


def compare(actual: Any, op: str, expected: Any) -> bool | None:
    """Compare a fact with a catalog value; ``None`` when they cannot be compared."""
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            return None
        inside = any(equal(actual, e) for e in expected)
        return inside if op == "in" else not inside
    if op in ("eq", "ne"):
        same = equal(actual, expected)
        return same if op == "eq" else not same
    left, right = as_decimal(actual), as_decimal(expected)
    if left is None or right is None:
        return None
    return _ORDER[op](left, right)


def equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, str) and isinstance(expected, str) and not _NUMERIC.match(actual):
        # Vocabulary words: the common case, and parsing them as numbers is slow.
        return actual == expected
    left, right = as_decimal(actual), as_decimal(expected)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(expected)


def resolve(value: Any, params: Params) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return constant(value, params)
    if isinstance(value, list):
        return [resolve(v, params) for v in value]
    return value


def window_text(earliest: date | None, latest: date | None) -> Bilingual:
    if not (earliest or latest):
        return Bilingual("", "")
    return Bilingual(
        f",认定期间 {show(earliest) if earliest else '…'} 至 {show(latest) if latest else '…'}",
        f" granted {show(earliest) if earliest else '…'} to {show(latest) if latest else '…'}",
    )


class Leaf(RulePlan):
    __slots__ = ("asked", "label", "unknown")

    def __init__(self, node: Rule, clause: str, fallback: Bilingual, paths: list[str]) -> None:
        self.clause, self.label = clause, label_of(node, fallback)
        #: Outcomes by the facts found missing: they depend on nothing else, and a
        #: clause's facts are few, so so are the sets of them missing.
        self.asked: dict[tuple[str, ...], RuleOutcome] = {}
        #: The outcome when one of ``paths`` is missing (or no value settles the clause).
        self.unknown: RuleOutcome = self.asks(paths)

    def asks(self, missing: list[str]) -> RuleOutcome:
        """The unknown outcome naming the ``missing`` facts, kept for reuse."""
        paths = tuple(missing)
        outcome = self.asked.get(paths)
        if outcome is None:
            text = self.label + unknown_detail(missing)
            result = ClauseResult(self.clause, Tri.UNKNOWN, text, paths)
            outcome = new_outcome(Kept, (Tri.UNKNOWN, (result,), paths, ()))
            if len(self.asked) < _SEEN_MAX:
                self.asked[paths] = outcome
        return outcome

    def settled(
        self,
        truth: Tri,
        zh: str,
        en: str,
        actual: Decimal | None = None,
        required: Decimal | None = None,
        op: str | None = None,
    ) -> RuleOutcome:
        text = Bilingual(self.label.zh + zh, self.label.en + en)
        result = ClauseResult(self.clause, truth, text, (), actual, required, op)
        return new_outcome(RuleOutcome, (truth, (result,), (), ()))


def compile_leaf(rule: Rule, params: Params, fy: int, clause: str) -> RulePlan:
    from app.domain.comparisons import CompareClause, FactClause
    from app.domain.dated import DateWithin, DaysBeforeApplication, FirstTimeAbove, YearsSince
    from app.domain.recognitions import Finding, Recognition

    if isinstance(rule, FactRule):
        return FactClause(rule, clause, params, fy)
    if isinstance(rule, CompareRule):
        return CompareClause(rule, clause, params, fy)
    if isinstance(rule, RecognitionRule):
        return Recognition(rule, clause, fy)
    if isinstance(rule, FirstTimeAboveRule):
        return FirstTimeAbove(rule, clause, params, fy)
    if isinstance(rule, YearsSinceRule):
        return YearsSince(rule, clause, params, fy)
    if isinstance(rule, DateWithinRule):
        return DateWithin(rule, clause, fy)
    if isinstance(rule, FindingRule):
        return Finding(rule, clause)
    if isinstance(rule, DaysBeforeApplicationRule):
        return DaysBeforeApplication(rule, clause, params, fy)
    raise TypeError(f"unknown rule {rule!r}")
