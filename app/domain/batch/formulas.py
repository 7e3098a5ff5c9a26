"""Award formulas over columns: what every formula's column node shares (the compiled
formulas of ``app.domain.formulas`` and ``app.domain.tax_estimate`` are their own
nodes).

``known`` says, for every row, that the formula names no missing fact. ``evaluate``
yields the uncapped amount as an exact ``Fixed`` (or an ``Approx`` whose fen rounding
is checked later), rows without an amount (an undefined base) and rows where nothing
is due (a score below every tier); the engine calls it only for the rows that reach
the formula (eligible, formula known), on a ``Context.subset``. The rate of a share is
taken for the first subsidy year: rows with an award history go to the per-profile
engine anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from app.domain.batch.columns import Bools, Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.exprs import ExprNode, leaf_bits
from app.domain.batch.numbers import (
    Fixed,
    Num,
    approx_multiply,
    constant,
    multiply,
    rescale,
)
from app.domain.results import AmountBasis

#: The subsidy year of an enterprise with no award history.
FIRST_YEAR = 1


@dataclass(frozen=True, eq=False)
class FormulaResult:
    amount: Num | None = None
    no_amount: Bools | None = None
    nothing_due: Bools | None = None
    unsure: Bools | None = None


class FormulaNode:
    basis: AmountBasis = "computed"
    parts: tuple[ExprNode, ...] = ()

    def evaluate(self, ctx: Context) -> FormulaResult:
        return FormulaResult()

    def known(self, ctx: Context) -> tuple[Bools, Bools | None]:
        """Rows where the formula names no missing fact, and rows unsure of that."""
        return self.settled(ctx), None

    def leaves(self) -> list[Spec]:
        return [leaf for p in self.parts for leaf in p.leaves]

    def specs(self) -> Iterator[Spec]:
        yield from self.leaves()

    def paths(self) -> Iterator[str]:
        yield from (path for path, _ in self.specs())

    def missing(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        return leaf_bits(ctx, self.leaves(), rows, index)

    def settled(self, ctx: Context) -> Bools:
        """Rows where every consulted expression names no missing fact."""
        known = np.ones(ctx.n, dtype=bool)
        for path, view in dict.fromkeys(self.leaves()):
            col = ctx.table.num_column(path) if view == "num" else ctx.table.date_column(path)
            known &= col.known
        return known


def choose(
    ctx: Context, conditions: list[Bools], amounts: list[Decimal], default: Decimal
) -> Fixed:
    """Per row, the amount of the first condition that holds (exact, common scale)."""
    k = max(constant(a).k for a in [*amounts, default])
    values = [rescale(constant(a), k) for a in [*amounts, default]]
    if not conditions:
        return values[-1]
    picked = np.select(conditions, [v.v for v in values[:-1]], default=values[-1].v)
    return Fixed(None, None, None, picked.astype(np.int64), k, max(v.bound for v in values))


def product(values: list[Num]) -> Num:
    if all(isinstance(v, Fixed) for v in values):
        out = values[0]
        for v in values[1:]:
            assert isinstance(out, Fixed) and isinstance(v, Fixed)
            out = multiply(out, v)
        return out
    return approx_multiply(values)


def no_amount(amount: Num) -> Bools | None:
    return None if amount.known is None else ~amount.known
