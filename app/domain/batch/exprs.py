"""Catalog expressions over columns, as vectorised numbers (see ``numbers``).

A compiled expression of ``app.domain.expressions`` emits its node here (``column()``);
each node computes over columns what its plan computes for one profile: same known, unknown and
undefined rows, the same value. An expression's missing facts are always the paths
of its leaves that the row does not give (every ``Value`` there unions its parts'),
so a node only needs to list its leaves.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from app.domain.batch.columns import Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.numbers import (
    Approx,
    Fixed,
    Num,
    Unsupported,
    add,
    approx_multiply,
    both,
    constant,
    either,
    multiply,
    ratio,
    rescale,
)


class ExprNode(ABC):
    key: Hashable
    leaves: tuple[Spec, ...] = ()
    #: Whether some row can make it undefined (a ratio, a growth over a zero base).
    may_be_undefined = False

    def eval(self, ctx: Context) -> Num:
        result: Num = ctx.cached(("expr", self.key), lambda: self._eval(ctx))
        return result

    @abstractmethod
    def _eval(self, ctx: Context) -> Num:
        """Each kind of node computes its own verdict (or value) over the rows."""


def leaf_bits(ctx: Context, leaves: Sequence[Spec], rows: Rows, index: PathIndex) -> Bits:
    """Missing-fact bits of ``rows``: the leaves they do not give."""
    bits = index.none(len(rows))
    for path, view in dict.fromkeys(leaves):
        column = ctx.table.num_column(path) if view == "num" else ctx.table.date_column(path)
        bits |= np.multiply(~column.known[rows], index.bit(path), dtype=index.dtype)
    return bits


class Const(ExprNode):
    def __init__(self, value: Decimal) -> None:
        self.value = constant(value)
        self.key = ("const", str(value))

    def _eval(self, ctx: Context) -> Num:
        return self.value


class Fact(ExprNode):
    def __init__(self, path: str) -> None:
        self.path = path
        self.key = ("fact", path)
        self.leaves = ((path, "num"),)

    def _eval(self, ctx: Context) -> Num:
        col = ctx.table.num_column(self.path)
        return Fixed(col.known, None, col.inexact, col.value, col.scale, col.maxabs, col.nonneg)


class Sum(ExprNode):
    def __init__(self, parts: list[Fact]) -> None:
        self.parts = parts
        self.key = ("sum", *(p.path for p in parts))
        self.leaves = tuple(leaf for p in parts for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        parts = [p.eval(ctx) for p in self.parts]
        return add([p for p in parts if isinstance(p, Fixed)])


class Growth(ExprNode):
    """Average yearly growth: undefined when a base year is not positive."""

    def __init__(self, series: list[Fact]) -> None:
        self.series = series
        self.key = ("growth", *(p.path for p in series))
        self.may_be_undefined = True
        self.leaves = tuple(leaf for p in series for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        series = [p.eval(ctx) for p in self.series]
        assert all(isinstance(p, Fixed) for p in series)
        k = max(p.k for p in series if isinstance(p, Fixed))
        fixed = [rescale(p, k) for p in series if isinstance(p, Fixed)]
        known: Any = None
        unsure: Any = None
        positive: Any = True
        for p in fixed:
            known, unsure = both(known, p.known), either(unsure, p.unsure)
        for p in fixed[:-1]:
            positive = positive & (np.asarray(p.v) > 0)
        known_all = ctx.full(True if known is None else known)
        rates = []
        for earlier, later in itertools.pairwise(fixed):
            diff = add([later, _negate(earlier)])
            unsure = either(unsure, diff.unsure)
            base = np.where(positive, np.asarray(earlier.v, dtype=np.float64), 1.0)
            rates.append(np.where(positive, np.asarray(diff.v, dtype=np.float64) / base, 0.0))
        x = sum(rates) / len(rates)
        spread = sum(np.abs(r) for r in rates) / len(rates)
        return Approx(
            known_all & positive,
            known_all & ~positive,
            unsure,
            x,
            spread * 1e-14 + np.abs(x) * 1e-15,
        )


def _negate(a: Fixed) -> Fixed:
    return Fixed(a.known, a.undef, a.unsure, -np.asarray(a.v, dtype=np.int64), a.k, a.bound)


class Months(ExprNode):
    """Months of the fiscal year from a date on (12 before it, 0 after it)."""

    def __init__(self, path: str, fiscal_year: int) -> None:
        self.path, self.fiscal_year = path, fiscal_year
        self.key = ("months", path, fiscal_year)
        self.leaves = ((path, "date"),)

    def _eval(self, ctx: Context) -> Num:
        col = ctx.table.date_column(self.path)
        year = col.year
        fy = self.fiscal_year
        months = np.where(year < fy, 12, np.where(year > fy, 0, 13 - col.month.astype(np.int64)))
        return Fixed(col.known, None, None, months.astype(np.int64), 0, 12, True)


class RatioNode(ExprNode):
    def __init__(self, num: ExprNode, den: ExprNode) -> None:
        self.num, self.den = num, den
        self.key = ("ratio", num.key, den.key)
        self.may_be_undefined = True
        self.leaves = num.leaves + den.leaves

    def _eval(self, ctx: Context) -> Num:
        return ratio(self.num.eval(ctx), self.den.eval(ctx))


class Product(ExprNode):
    def __init__(self, parts: list[ExprNode]) -> None:
        self.parts = parts
        self.key = ("product", *(p.key for p in parts))
        self.may_be_undefined = any(p.may_be_undefined for p in parts)
        self.leaves = tuple(leaf for p in parts for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        values = [p.eval(ctx) for p in self.parts]
        if all(isinstance(v, Fixed) for v in values):
            out = values[0]
            for v in values[1:]:
                assert isinstance(out, Fixed) and isinstance(v, Fixed)
                out = multiply(out, v)
            return out
        return approx_multiply(values)


class Added(ExprNode):
    """a + b + … (``sum``) or a − b (``difference``), exact over exact parts.

    Parts that are approximations (a ratio, a growth) are left to the per-profile engine.
    """

    def __init__(self, parts: list[ExprNode], negate_rest: bool) -> None:
        self.parts, self.negate_rest = parts, negate_rest
        self.key = ("added", negate_rest, *(p.key for p in parts))
        self.may_be_undefined = any(p.may_be_undefined for p in parts)
        self.leaves = tuple(leaf for p in parts for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        values = [p.eval(ctx) for p in self.parts]
        fixed = [v for v in values if isinstance(v, Fixed) and v.undef is None]
        if len(fixed) != len(values):
            raise Unsupported("a sum over approximate or undefined parts")
        if self.negate_rest:
            fixed = [fixed[0], *(_negate(v) for v in fixed[1:])]
        return add(fixed)
