"""The leaf clauses of a rule tree, compiled: what they test, resolved once.

Each leaf keeps its label (the catalog's words, or the text built from its path and
bound) and, where a missing fact settles nothing, its whole unknown outcome; for a
profile it reads its facts and adds only the detail that depends on them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
from app.domain.expressions import Params, Value, _Ratio, compile_expr, constant
from app.domain.facts import MISSING, Facts, year_path
from app.domain.money import as_decimal
from app.domain.results import Bilingual, ClauseResult, Tri
from app.domain.rules import Kept, RuleOutcome, RulePlan, label_of
from app.domain.text import OP_SYMBOL, show, unknown_detail

if TYPE_CHECKING:
    from app.domain.batch.nodes import RuleNode

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
    __slots__ = ("label", "unknown")

    def __init__(self, node: Rule, clause: str, fallback: Bilingual, paths: list[str]) -> None:
        self.clause, self.label = clause, label_of(node, fallback)
        #: The outcome when one of ``paths`` is missing (or no value settles the clause).
        self.unknown: RuleOutcome = Kept(*self.asks(paths))

    def asks(self, missing: list[str]) -> RuleOutcome:
        paths = tuple(missing)
        text = self.label + unknown_detail(missing)
        return RuleOutcome(
            Tri.UNKNOWN, (ClauseResult(self.clause, Tri.UNKNOWN, text, paths),), paths
        )

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
        return RuleOutcome(
            truth, (ClauseResult(self.clause, truth, text, (), actual, required, op),), ()
        )


class _Fact(Leaf):
    """``fact op value``."""

    __slots__ = ("bound", "expected", "never", "op", "path", "seen", "words")

    def __init__(self, node: FactRule, clause: str, params: Params, fy: int) -> None:
        path, expected = year_path(node.fact, fy), resolve(node.value, params)
        symbol = OP_SYMBOL[node.op]
        fallback = Bilingual(
            f"{path} {symbol} {show(expected)}", f"{path} {symbol} {show(expected)}"
        )
        super().__init__(node, clause, fallback if node.text is None else Bilingual("", ""), [path])
        self.path, self.op, self.expected = path, node.op, expected
        self.bound = as_decimal(expected)
        listed = expected if isinstance(expected, list) else [expected]
        # Words only: membership is a set lookup for a word (``equal``'s common case).
        words = all(isinstance(e, str) for e in listed)
        self.words = (
            frozenset(listed) if words and node.op in ("eq", "ne", "in", "not_in") else None
        )
        self.never = node.op in ("in", "not_in") and not isinstance(expected, list)
        #: Outcomes by the word (or yes/no) the profile gives: they depend on nothing else.
        self.seen: dict[str | bool, RuleOutcome] = {}

    def column(self) -> RuleNode:
        from app.domain.batch.exprs import Const, Fact
        from app.domain.batch.leaves import Compare, Equals, Unknowable

        path, op, expected = self.path, self.op, self.expected
        if op in ("in", "not_in"):
            return Unknowable(path, "cat") if self.never else Equals(path, op, expected)
        if op in ("eq", "ne"):
            return Equals(path, op, [expected])
        if self.bound is None:
            return Unknowable(path, "num")
        return Compare(Fact(path), op, Const(self.bound))  # type: ignore[arg-type]

    def explain(self, facts: Facts) -> RuleOutcome:
        actual = facts.at(self.path)
        if actual is MISSING or self.never:
            return self.unknown
        if type(actual) is str or type(actual) is bool:
            # Vocabulary (a city, an industry, a yes/no): few values, each answered once.
            seen = self.seen.get(actual)
            if seen is None:
                seen = self._explain(actual, as_decimal(actual))
                if len(self.seen) < _SEEN_MAX:
                    seen = self.seen[actual] = Kept(*seen)
            return seen
        number = facts.number_at(self.path)
        return self._explain(actual, None if number is MISSING else number)  # type: ignore[arg-type]

    def _explain(self, actual: Any, number: Decimal | None) -> RuleOutcome:
        op, bound = self.op, self.bound
        verdict: bool | None
        if op in _ORDER:
            verdict = None if number is None or bound is None else _ORDER[op](number, bound)
        elif self.words is not None and type(actual) is str and not _NUMERIC.match(actual):
            verdict = (actual in self.words) is (op in ("eq", "in"))
        else:
            verdict = compare(actual, op, self.expected)
        if verdict is None:
            # A value of the wrong type for this clause settles nothing: ask for it again.
            return self.unknown
        shown = show(actual)
        text = Bilingual(f"{self.label.zh}(实际:{shown})", f"{self.label.en} (actual: {shown})")
        if not verdict and number is not None and bound is not None and op in _ORDER:
            result = ClauseResult(
                self.clause, Tri.FALSE, text, (), number, bound, op, bound - number, self.path
            )
        else:
            result = ClauseResult(self.clause, Tri.of(verdict), text, (), number, bound, op)
        return RuleOutcome(result.truth, (result,), ())


class _Compare(Leaf):
    """``expr op value`` over expressions."""

    __slots__ = ("left", "op", "right", "symbol")

    def __init__(self, node: CompareRule, clause: str, params: Params, fy: int) -> None:
        self.left, self.right = (
            compile_expr(node.expr, params, fy),
            compile_expr(node.value, params, fy),
        )
        self.op, self.symbol = node.op, OP_SYMBOL[node.op]
        said = f"{self.left.label} {self.symbol} {self.right.label}"
        super().__init__(node, clause, Bilingual(said, said), [])

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import Compare

        return Compare(self.left.column(), self.op, self.right.column())

    def explain(self, facts: Facts) -> RuleOutcome:
        left, right = self.left.value(facts), self.right.value(facts)
        outcome = self._values(left, right)
        if outcome.truth is not Tri.FALSE or right.number is None or left.number is None:
            return outcome
        if isinstance(self.left, _Ratio):
            # A share falls short: say how much more of the numerator would meet it.
            num, den = self.left.num.value(facts), self.left.den.value(facts)
            if num.number is None or den.number is None:
                return outcome
            distance, of = right.number * den.number - num.number, num.label
        else:
            distance, of = right.number - left.number, left.label
        first = outcome.clauses[0]
        result = ClauseResult(
            first.clause, first.truth, first.text, first.missing, first.actual,
            first.required, first.op, distance, of,
        )  # fmt: skip
        return RuleOutcome(outcome.truth, (result,), outcome.missing)

    def _values(self, left: Value, right: Value) -> RuleOutcome:
        undefined = left.undefined or right.undefined
        if undefined:
            return self.settled(
                Tri.FALSE, f"(无法计算:{undefined})", f" (cannot be computed: {undefined})"
            )
        if left.number is None or right.number is None:
            return self.asks(list(dict.fromkeys([*left.missing, *right.missing])))
        verdict = compare(left.number, self.op, right.number)
        shown, bound, s = show(left.number), show(right.number), self.symbol
        return self.settled(
            Tri.of(bool(verdict)),
            f"(实际 {shown},要求 {s} {bound})",
            f" (actual {shown}, required {s} {bound})",
            left.number,
            right.number,
            self.op,
        )


def compile_leaf(rule: Rule, params: Params, fy: int, clause: str) -> RulePlan:
    from app.domain.dated import DateWithin, DaysBeforeApplication, FirstTimeAbove, YearsSince
    from app.domain.recognitions import Finding, Recognition

    if isinstance(rule, FactRule):
        return _Fact(rule, clause, params, fy)
    if isinstance(rule, CompareRule):
        return _Compare(rule, clause, params, fy)
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
