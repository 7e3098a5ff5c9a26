"""What every leaf clause's column node shares, and the column nodes of the leaves of
``app.domain.leaves`` (the clauses reading dates, recognitions and series are their own
column nodes: ``app.domain.dated``, ``app.domain.recognitions``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from app.domain.batch.columns import FALSE_CODE, TRUE_CODE, Spec
from app.domain.batch.compare import compare, compare_const
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth
from app.domain.batch.exprs import Const, ExprNode, Fact
from app.domain.batch.nodes import RuleNode, absent_bits
from app.domain.batch.numbers import Op, both, either
from app.domain.money import as_decimal

#: The prefix that marks a finding among a policy's missing-fact paths: an unknown
#: finding is named with them, then listed apart as a finding a reviewer must record.
FINDING = "finding:"


class Leaf(RuleNode):
    """A clause; when unknown its missing facts are its paths (``own``) it lacks."""

    own: tuple[str, ...] = ()
    columns_when_not_false = True
    columns_when_not_true = True

    def paths(self) -> Iterator[str]:
        yield from self.own

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        columns = self.unknown_columns()
        if columns is not None:
            return absent_bits(ctx, columns, rows, index)
        bits = index.none(len(rows))
        for path in self.own:
            bits |= index.bit(path)
        return bits


class Unknowable(Leaf):
    """A clause that no value settles (a catalog value of the wrong type): unknown."""

    def __init__(self, path: str, view: str) -> None:
        self.own, self.view = (path,), view
        self.key = ("unknowable", path)

    def specs(self) -> Iterator[Spec]:
        yield from ()

    def _truth(self, ctx: Context) -> Truth:
        none = np.zeros(ctx.n, dtype=bool)
        return Truth(none, none)


class Equals(Leaf):
    """``fact eq|ne|in|not_in value`` with ``app.domain.leaves.equal``'s notion of equal."""

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


class Compare(Leaf):
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
        verdict, unsure = compare(left, right, self.op)
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
