"""Award formulas over columns: what every formula's column node shares (the compiled
formulas of ``app.domain.formulas`` are their own nodes) and the tax estimate's node.

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
from typing import Any

import numpy as np

from app.domain.batch.columns import Bools, Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.exprs import ExprNode, leaf_bits
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import (
    Fixed,
    Num,
    approx_multiply,
    constant,
    either,
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


class TaxEstimate(FormulaNode):
    """base × share × rate, the share and the rate of the first option that holds.

    A ``share_when`` with a base of its own is left to the per-profile engine.
    """

    basis: AmountBasis = "estimate"

    def __init__(
        self,
        base: ExprNode,
        share: Decimal,
        default: Decimal,
        shares: list[tuple[RuleNode, Decimal]],
        options: list[tuple[RuleNode, Decimal]],
    ) -> None:
        self.base, self.share, self.default = base, share, default
        self.shares, self.options = shares, options
        self.parts = (self.base,)

    def _all_options(self) -> Iterator[RuleNode]:
        for option, _ in (*self.shares, *self.options):
            yield option

    def specs(self) -> Iterator[Spec]:
        yield from self.leaves()
        for option in self._all_options():
            yield from option.specs()

    def paths(self) -> Iterator[str]:
        yield from (path for path, _ in self.leaves())
        for option in self._all_options():
            yield from option.paths()

    @staticmethod
    def _choice(
        ctx: Context, options: list[tuple[RuleNode, Decimal]]
    ) -> tuple[list[Bools], Any, Bools | None]:
        """Rows taking each option, the option each row is stuck on (-1: none)."""
        pending = np.ones(ctx.n, dtype=bool)
        stuck = np.full(ctx.n, -1, dtype=np.int16)
        chosen, unsure = [], None
        for i, (option, _) in enumerate(options):
            truth = option.truth(ctx)
            unknown = pending & truth.u
            stuck[unknown] = i
            chosen.append(pending & truth.t)
            pending &= ~(unknown | truth.t)
            unsure = either(unsure, truth.unsure)
        return chosen, stuck, unsure

    def _choices(self, ctx: Context) -> Any:
        """The share choice and the rate choice, settled once over all rows."""

        def settle() -> Any:
            return self._choice(ctx, self.shares), self._choice(ctx, self.options)

        return ctx.cached(("tax-choice", id(self)), settle)

    def evaluate(self, ctx: Context) -> FormulaResult:
        if ctx.parent is not None and ctx.rows is not None:
            # The options were settled over all rows already (for ``known``): take them.
            parent, rows = ctx.parent, ctx.rows
            full = self._choices(parent)
            picked = [
                ([c[rows] for c in chosen], None if unsure is None else unsure[rows])
                for chosen, _, unsure in full
            ]
        else:
            picked = [(chosen, unsure) for chosen, _, unsure in self._choices(ctx)]
        (share_chosen, share_unsure), (rate_chosen, rate_unsure) = picked
        base = self.base.eval(ctx)
        share = choose(ctx, share_chosen, [s for _, s in self.shares], self.share)
        rate = choose(ctx, rate_chosen, [r for _, r in self.options], self.default)
        # ``max(amount, 0)`` of the engine: the clamp below zero happens with the caps.
        amount = product([base, share, rate])
        return FormulaResult(amount, no_amount(amount), None, either(share_unsure, rate_unsure))

    def known(self, ctx: Context) -> tuple[Bools, Bools | None]:
        (_, share_stuck, share_unsure), (_, rate_stuck, rate_unsure) = self._choices(ctx)
        known = self.settled(ctx) & (share_stuck < 0) & (rate_stuck < 0)
        return known, either(share_unsure, rate_unsure)

    def missing(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        (_, share_stuck, _), (_, rate_stuck, _) = self._choices(ctx)
        bits = leaf_bits(ctx, self.leaves(), rows, index)
        for stuck, options in ((share_stuck, self.shares), (rate_stuck, self.options)):
            at = stuck[rows]
            for i, (option, _) in enumerate(options):
                here = at == i
                if here.any():
                    part = index.none(len(rows))
                    part[here] = option.missing(ctx, rows[here], index)
                    bits |= part
        return bits


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
