"""The tax-saving estimate (``tax_estimate``), compiled: base × share × rate, the share
and the rate of the first option whose rule holds (see ``app.domain.formulas``).

Written once, with its two emitters: ``explain`` for one profile, ``evaluate`` over a
column table (the compiled estimate is its own column node; a ``share_when`` with a
base of its own is left to the per-profile engine).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from app.catalog.schema import TaxEstimateFormula
from app.domain.batch.columns import Bools, Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.exprs import leaf_bits
from app.domain.batch.formulas import FormulaNode, FormulaResult, choose, no_amount, product
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import Unsupported, either
from app.domain.expressions import ExprPlan, Params, compile_expr, constant
from app.domain.facts import Facts
from app.domain.formulas import FormulaOutcome, FormulaPlan, step
from app.domain.results import Tri
from app.domain.rules import RulePlan, compile_rule


def _first_holding(options: Sequence[RulePlan], facts: Facts) -> tuple[int | None, tuple[str, ...]]:
    """The first option whose rule holds, or the facts that would settle the one stuck."""
    for i, option in enumerate(options):
        outcome = option.explain(facts)
        if outcome.truth is Tri.UNKNOWN:
            return None, tuple(outcome.missing)
        if outcome.truth is Tri.TRUE:
            return i, ()
    return None, ()


class TaxEstimatePlan(FormulaPlan):
    """base × share × rate: the share and the rate of the first option that holds.

    An option that cannot be settled makes the estimate unknown; the answer then names
    what would settle it, with the base's missing facts (the default base while the
    share is not settled).
    """

    __slots__ = ("bases", "rate_when", "rates", "share_when", "shares", "spec")
    basis = "estimate"
    #: Over columns: each option's node, with its share (its rate).
    share_options: list[tuple[RuleNode, Decimal]]
    rate_options: list[tuple[RuleNode, Decimal]]

    def __init__(self, formula: TaxEstimateFormula, params: Params, fy: int) -> None:
        spec = self.spec = formula.tax_estimate
        self.share_when = [
            compile_rule(o.when, params, fy, f"formula.share_when.{i}")
            for i, o in enumerate(spec.share_when)
        ]
        self.rate_when = [
            compile_rule(o.when, params, fy, f"formula.tax_rate_when.{i}")
            for i, o in enumerate(spec.tax_rate_when)
        ]
        default = compile_expr(spec.base, params, fy)
        #: By the option that holds (None: none does): the base, share and rate.
        self.bases: dict[int | None, ExprPlan] = {None: default}
        self.shares: dict[int | None, Decimal] = {None: constant(spec.share, params)}
        for i, o in enumerate(spec.share_when):
            self.bases[i] = default if o.base is None else compile_expr(o.base, params, fy)
            self.shares[i] = constant(o.share, params)
        self.rates: dict[int | None, Decimal] = {None: constant(spec.tax_rate, params)}
        for i, r in enumerate(spec.tax_rate_when):
            self.rates[i] = constant(r.rate, params)

    def column(self) -> FormulaNode:
        default = self.bases[None]
        if any(base is not default for base in self.bases.values()):
            raise Unsupported("a share_when with a base of its own")
        if not hasattr(self, "share_options"):  # (the options' nodes, made once)
            self.share_options = [
                (r.column(), self.shares[i]) for i, r in enumerate(self.share_when)
            ]
            self.rate_options = [(r.column(), self.rates[i]) for i, r in enumerate(self.rate_when)]
            self.parts = (default,)
        return self

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        spec = self.spec
        shared, share_missing = _first_holding(self.share_when, facts)
        rated, rate_missing = _first_holding(self.rate_when, facts)
        base = self.bases[shared].value(facts)
        missing = (*share_missing, *base.missing, *rate_missing)
        if missing or base.number is None:
            return FormulaOutcome("estimate", missing=tuple(dict.fromkeys(missing)))
        share = self.shares[shared]
        share_text = ("加计或减免比例", "share deducted or taxed less")
        if shared is not None:
            label = spec.share_when[shared].when.text
            share_text = (
                f"加计或减免比例({label.zh})" if label else "适用的加计或减免比例",
                f"share deducted or taxed less ({label.en})" if label else "the share that applies",
            )
        rate = self.rates[rated]
        rate_text = (
            ("适用一般税率", "the enterprise's ordinary rate")
            if rated is None
            else ("适用优惠税率", "the preferential rate that applies")
        )
        amount = base.number * share * rate
        steps = (
            step("base", base.number, f"基数 {base.label}", f"base {base.label}"),
            step("share", share, *share_text),
            step("tax_rate", rate, *rate_text),
            step(
                "amount",
                amount,
                "估算节税额 = 基数 × 比例 × 税率",
                "estimated saving = base × share × rate",
            ),
        )
        return FormulaOutcome("estimate", max(amount, Decimal(0)), steps)

    def _all_options(self) -> Iterator[RuleNode]:
        for option, _ in (*self.share_options, *self.rate_options):
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
            return self._choice(ctx, self.share_options), self._choice(ctx, self.rate_options)

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
        base = self.bases[None].eval(ctx)
        share = choose(ctx, share_chosen, [s for _, s in self.share_options], self.shares[None])
        rate = choose(ctx, rate_chosen, [r for _, r in self.rate_options], self.rates[None])
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
        for stuck, options in ((share_stuck, self.share_options), (rate_stuck, self.rate_options)):
            at = stuck[rows]
            for i, (option, _) in enumerate(options):
                here = at == i
                if here.any():
                    part = index.none(len(rows))
                    part[here] = option.missing(ctx, rows[here], index)
                    bits |= part
        return bits
