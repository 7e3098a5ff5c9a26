"""Award formulas over columns: the nodes a compiled formula emits (``column()`` of the
plans in ``app.domain.formulas``, which hold the resolved constants and expressions).

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
from app.domain.batch.compare import compare
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.exprs import ExprNode, leaf_bits
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import (
    ONE,
    Fixed,
    Num,
    approx_multiply,
    constant,
    either,
    minimum,
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


class NoFigure(FormulaNode):
    """``set_by_reviewer`` and ``no_amount``: no figure, never a missing fact."""

    def __init__(self, basis: AmountBasis) -> None:
        self.basis = basis


class FixedAmount(FormulaNode):
    def __init__(self, amount: ExprNode) -> None:
        self.amount = amount

    def evaluate(self, ctx: Context) -> FormulaResult:
        return FormulaResult(self.amount.eval(ctx))


def _choose(
    ctx: Context, conditions: list[Bools], amounts: list[Decimal], default: Decimal
) -> Fixed:
    """Per row, the amount of the first condition that holds (exact, common scale)."""
    k = max(constant(a).k for a in [*amounts, default])
    values = [rescale(constant(a), k) for a in [*amounts, default]]
    if not conditions:
        return values[-1]
    picked = np.select(conditions, [v.v for v in values[:-1]], default=values[-1].v)
    return Fixed(None, None, None, picked.astype(np.int64), k, max(v.bound for v in values))


class Rate:
    """``formulas._Rate`` for the first subsidy year: a constant, or tiers of growth."""

    def __init__(
        self,
        by_year: dict[int, Decimal],
        growth: ExprNode | None,
        tiers: list[tuple[Decimal, Decimal]],
        default: Decimal,
    ) -> None:
        self.fixed: Decimal | None = None
        self.growth: ExprNode | None = None
        self.tiers: list[tuple[Decimal, Decimal]] = []
        if FIRST_YEAR in by_year:
            self.fixed = by_year[FIRST_YEAR]
        elif growth is not None:
            self.growth, self.tiers = growth, tiers
        self.default = default
        if self.growth is None and self.fixed is None:
            self.fixed = self.default

    def parts(self) -> tuple[ExprNode, ...]:
        return () if self.growth is None else (self.growth,)

    def evaluate(self, ctx: Context) -> Num:
        if self.growth is None:
            assert self.fixed is not None
            return constant(self.fixed)
        growth = self.growth.eval(ctx)
        conditions, unsure = [], growth.unsure
        for floor, _ in self.tiers:
            verdict, doubt = compare(growth, constant(floor), "ge")
            known = np.ones(ctx.n, dtype=bool) if growth.known is None else growth.known
            conditions.append(known & verdict)
            unsure = either(unsure, doubt)
        rate = _choose(ctx, conditions, [r for _, r in self.tiers], self.default)
        return Fixed(None, None, unsure, rate.v, rate.k, rate.bound)


class Share(FormulaNode):
    def __init__(self, base: ExprNode, rate: Rate) -> None:
        self.base, self.rate = base, rate
        self.parts = (self.base, *self.rate.parts())

    def evaluate(self, ctx: Context) -> FormulaResult:
        base, rate = self.base.eval(ctx), self.rate.evaluate(ctx)
        amount = _product([base, rate])
        return FormulaResult(amount, _no_amount(amount), None, rate.unsure)


class Performance(FormulaNode):
    def __init__(self, score: ExprNode, tiers: list[tuple[Decimal, Decimal]], of: Decimal) -> None:
        self.score = score
        self.tiers = [(floor, share * of) for floor, share in tiers]
        self.parts = (self.score,)

    def evaluate(self, ctx: Context) -> FormulaResult:
        score = self.score.eval(ctx)
        scored = np.ones(ctx.n, dtype=bool) if score.known is None else score.known
        conditions, unsure = [], score.unsure
        for floor, _ in self.tiers:
            verdict, doubt = compare(score, constant(floor), "ge")
            conditions.append(scored & ctx.full(verdict))
            unsure = either(unsure, doubt)
        amount = _choose(ctx, conditions, [a for _, a in self.tiers], Decimal(0))
        reached = np.logical_or.reduce(conditions) if conditions else np.zeros(ctx.n, dtype=bool)
        amount = Fixed(scored, None, unsure, amount.v, amount.k, amount.bound)
        return FormulaResult(amount, ~scored, scored & ~reached, unsure)


class PerUnit(FormulaNode):
    """quantity (capped) × unit price (capped) × periods × rate, not above a ceiling."""

    def __init__(
        self,
        quantity: tuple[ExprNode, Decimal | None],
        price: tuple[ExprNode | None, Decimal | None],
        periods: ExprNode,
        ceiling: ExprNode | None,
        rate: Rate,
    ) -> None:
        (self.quantity, self.quantity_cap), (self.price, self.price_cap) = quantity, price
        self.periods, self.ceiling, self.rate = periods, ceiling, rate
        optional = [p for p in (self.price, self.ceiling) if p is not None]
        self.parts = (self.quantity, self.periods, *optional, *self.rate.parts())

    def evaluate(self, ctx: Context) -> FormulaResult:
        q = self.quantity.eval(ctx)
        if self.quantity_cap is not None:
            q = minimum(q, constant(self.quantity_cap))
        if self.price is not None:
            p = self.price.eval(ctx)
            if self.price_cap is not None:
                p = minimum(p, constant(self.price_cap))
        else:
            p = ONE if self.price_cap is None else constant(self.price_cap)
        rate = self.rate.evaluate(ctx)
        amount = _product([q, p, self.periods.eval(ctx), rate])
        if self.ceiling is not None:
            amount = minimum(amount, _product([self.ceiling.eval(ctx), rate]))
        return FormulaResult(amount, _no_amount(amount), None, rate.unsure)


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
        share = _choose(ctx, share_chosen, [s for _, s in self.shares], self.share)
        rate = _choose(ctx, rate_chosen, [r for _, r in self.options], self.default)
        # ``max(amount, 0)`` of the engine: the clamp below zero happens with the caps.
        amount = _product([base, share, rate])
        return FormulaResult(amount, _no_amount(amount), None, either(share_unsure, rate_unsure))

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


def _product(values: list[Num]) -> Num:
    if all(isinstance(v, Fixed) for v in values):
        out = values[0]
        for v in values[1:]:
            assert isinstance(out, Fixed) and isinstance(v, Fixed)
            out = multiply(out, v)
        return out
    return approx_multiply(values)


def _no_amount(amount: Num) -> Bools | None:
    return None if amount.known is None else ~amount.known
