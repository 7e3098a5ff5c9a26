"""The tax-saving estimate (``tax_estimate``), compiled: base × share × rate, the share
and the rate of the first option whose rule holds (see ``app.domain.formulas``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from app.catalog.schema import TaxEstimateFormula
from app.domain.expressions import ExprPlan, Params, compile_expr, constant
from app.domain.facts import Facts
from app.domain.formulas import FormulaOutcome, FormulaPlan, step
from app.domain.results import Tri
from app.domain.rules import RulePlan, compile_rule

if TYPE_CHECKING:
    from app.domain.batch.formulas import FormulaNode


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
        from app.domain.batch.formulas import TaxEstimate
        from app.domain.batch.numbers import Unsupported

        default = self.bases[None]
        if any(base is not default for base in self.bases.values()):
            raise Unsupported("a share_when with a base of its own")
        shares = [(rule.column(), self.shares[i]) for i, rule in enumerate(self.share_when)]
        rates = [(rule.column(), self.rates[i]) for i, rule in enumerate(self.rate_when)]
        return TaxEstimate(default.column(), self.shares[None], self.rates[None], shares, rates)

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
