"""The clauses that compare facts and expressions, compiled: ``fact op value`` and
``expr op value``.

Each kind is written once, with its two emitters: ``explain`` answers one profile
with its reasons; ``column`` gives the node answering a column table
(``app.domain.batch``) from the same resolved path, operator and bound: ``Equals``
for words and yes/no, ``Compare`` for numbers (exact, see ``numbers.compare``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np

from app.catalog.schema import CompareRule, FactRule
from app.domain.batch.columns import FALSE_CODE, TRUE_CODE, Spec
from app.domain.batch.compare import compare as compare_columns
from app.domain.batch.compare import compare_const
from app.domain.batch.context import Context, Truth
from app.domain.batch.exprs import ExprNode
from app.domain.batch.leaves import Leaf as ColumnLeaf
from app.domain.batch.leaves import Unknowable
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import Op, both, either
from app.domain.expressions import Const, Fact, Params, Value, _Ratio, compile_expr
from app.domain.facts import MISSING, UNSEEN, Facts, lookup, year_path
from app.domain.leaves import _NUMERIC, _ORDER, _SEEN_MAX, Leaf, compare, resolve
from app.domain.money import as_decimal, plausible
from app.domain.results import Bilingual, ClauseResult, Tri
from app.domain.rules import Kept, RuleOutcome, new_outcome
from app.domain.text import OP_SYMBOL, show


class FactClause(Leaf):
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
        path, op, expected = self.path, self.op, self.expected
        if op in ("in", "not_in"):
            return Unknowable(path, "cat") if self.never else Equals(path, op, expected)
        if op in ("eq", "ne"):
            return Equals(path, op, [expected])
        if self.bound is None:
            return Unknowable(path, "num")
        return Compare(Fact(path), op, Const(self.bound, str(self.bound)))  # type: ignore[arg-type]

    def explain(self, facts: Facts) -> RuleOutcome:
        # ``facts.at`` inlined: the clause most answers are made of, ~370 per answer.
        path, values = self.path, facts.cache.values
        actual = values.get(path, UNSEEN)
        if actual is UNSEEN:
            actual = values[path] = lookup(facts.profile, path)
        facts.read[path] = None if actual is MISSING else actual
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
        numbers = facts.cache.numbers
        number = numbers.get(path)
        if number is None:
            parsed = as_decimal(actual)
            number = numbers[path] = MISSING if parsed is None else parsed
        return self._explain(actual, None if number is MISSING else number)  # type: ignore[arg-type]

    reads_only = True

    def touch(self, facts: Facts) -> None:
        facts.at(self.path)  # (what ``explain`` reads, inlined there)

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
        return new_outcome(RuleOutcome, (result.truth, (result,), (), ()))


class CompareClause(Leaf):
    """``expr op value`` over expressions."""

    __slots__ = ("left", "op", "paths", "right", "symbol")
    reads_only = True

    def __init__(self, node: CompareRule, clause: str, params: Params, fy: int) -> None:
        self.left, self.right = (
            compile_expr(node.expr, params, fy),
            compile_expr(node.value, params, fy),
        )
        #: What explaining it reads, in order: an expression reads every one of its
        #: leaves, whatever their values (``app.domain.expressions``).
        self.paths = [path for path, _ in (*self.left.leaves, *self.right.leaves)]
        self.op, self.symbol = node.op, OP_SYMBOL[node.op]
        said = f"{self.left.label} {self.symbol} {self.right.label}"
        super().__init__(node, clause, Bilingual(said, said), [])

    def column(self) -> RuleNode:
        return Compare(self.left.column(), self.op, self.right.column())

    def touch(self, facts: Facts) -> None:
        at = facts.at
        for path in self.paths:
            at(path)

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
        return new_outcome(RuleOutcome, (outcome.truth, (result,), outcome.missing, ()))

    def _values(self, left: Value, right: Value) -> RuleOutcome:
        undefined = left.undefined or right.undefined
        if undefined:
            return self.settled(
                Tri.FALSE, f"(无法计算:{undefined})", f" (cannot be computed: {undefined})"
            )
        if left.number is None or right.number is None:
            return self.asks(list(dict.fromkeys([*left.missing, *right.missing])))
        number, limit, order = left.number, right.number, _ORDER.get(self.op)
        if order is not None and plausible(number) and plausible(limit):
            verdict: bool | None = order(number, limit)  # (``compare`` of two numbers)
        else:
            verdict = compare(number, self.op, limit)
        shown, bound, s = show(number), show(limit), self.symbol
        return self.settled(
            Tri.of(bool(verdict)),
            f"(实际 {shown},要求 {s} {bound})",
            f" (actual {shown}, required {s} {bound})",
            left.number,
            right.number,
            self.op,
        )


class Equals(ColumnLeaf):
    """``fact eq|ne|in|not_in value`` over columns, with ``equal``'s notion of equal."""

    def __init__(self, path: str, op: str, expected: list[Any]) -> None:
        self.own, self.path, self.negate = (path,), path, op in ("ne", "not_in")
        self.bools = {v for v in expected if isinstance(v, bool)}
        others = [v for v in expected if not isinstance(v, bool)]
        self.numbers = [d for v in others if (d := as_decimal(v)) is not None]
        self.words = sorted({str(v) for v in others if as_decimal(v) is None})
        self.key = ("eq", path, self.negate, tuple(sorted(self.bools)))
        self.key += (tuple(self.words), tuple(sorted(str(d) for d in self.numbers)))

    def specs(self) -> Iterator[Spec]:
        yield (self.path, "cat")
        if self.numbers:
            yield (self.path, "num")

    def _truth(self, ctx: Context) -> Truth:
        cat = ctx.table.cat_column(self.path)
        codes = cat.codes
        hit = np.zeros(ctx.n, dtype=bool)
        for word in self.words:
            if (code := cat.code(word)) is not None:
                hit |= codes == code
        for flag in self.bools:
            hit |= codes == (TRUE_CODE if flag else FALSE_CODE)
        unsure = None
        if self.numbers:
            num = ctx.table.num_column(self.path)
            unsure = num.inexact
            for number in self.numbers:
                hit |= num.known & compare_const(num.value, num.scale, "eq", number)
        if self.negate:
            hit = ~hit
        present = cat.known
        return Truth(present & hit, present & ~hit, unsure)

    def unknown_columns(self) -> list[Spec] | None:
        return [(self.path, "cat")]


class Compare(ColumnLeaf):
    """``fact op number`` or ``expr op expr``: exact, see ``numbers.compare``."""

    def __init__(self, left: ExprNode, op: Op, right: ExprNode) -> None:
        self.left, self.op, self.right = left, op, right
        self.key = ("compare", left.key, op, right.key)
        # Undefined (a ratio over zero) is false whatever else is unknown.
        self.columns_when_not_true = not (left.may_be_undefined or right.may_be_undefined)
        self.cost = 1 if {type(left), type(right)} <= {Fact, Const} else 6

    def specs(self) -> Iterator[Spec]:
        yield from self.left.leaves
        yield from self.right.leaves

    def paths(self) -> Iterator[str]:
        yield from (path for path, _ in self.specs())

    def _truth(self, ctx: Context) -> Truth:
        left, right = self.left.eval(ctx), self.right.eval(ctx)
        verdict, unsure = compare_columns(left, right, self.op)
        known = ctx.full(True if (k := both(left.known, right.known)) is None else k)
        verdict = ctx.full(verdict)
        t = known & verdict
        f = known & ~verdict
        undef = either(left.undef, right.undef)
        if undef is not None:
            f |= undef
        return Truth(t, f, either(either(unsure, left.unsure), right.unsure))

    def unknown_columns(self) -> list[Spec] | None:
        return list(self.specs())
