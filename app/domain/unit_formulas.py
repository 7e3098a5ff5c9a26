"""The per-unit and performance award formulas, compiled (see ``app.domain.formulas``):
each kind written once, ``explain`` for one profile and ``evaluate`` over columns."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from app.catalog.schema import PerformanceFormula, PerUnitFormula
from app.domain.batch.compare import compare
from app.domain.batch.context import Context
from app.domain.batch.formulas import FormulaResult, choose
from app.domain.batch.formulas import no_amount as no_amount_rows
from app.domain.batch.formulas import product as product_columns
from app.domain.batch.numbers import ONE, Fixed, either, minimum
from app.domain.batch.numbers import constant as column_constant
from app.domain.expressions import Params, Value, compile_expr, constant
from app.domain.facts import Facts
from app.domain.formulas import FormulaOutcome, FormulaPlan, _Rate, _unknown, step
from app.domain.results import Bilingual, ClauseResult, Step, Tri
from app.domain.text import show


class Performance(FormulaPlan):
    __slots__ = ("lowest", "of", "score", "tiers")

    def __init__(self, formula: PerformanceFormula, params: Params, fy: int) -> None:
        spec = formula.performance
        self.score, self.of = compile_expr(spec.score, params, fy), constant(spec.of, params)
        self.tiers = [(constant(t.min, params), constant(t.share, params)) for t in spec.tiers]
        self.lowest = self.tiers[-1][0]
        self.parts = (self.score,)

    def evaluate(self, ctx: Context) -> FormulaResult:
        score = self.score.eval(ctx)
        scored = np.ones(ctx.n, dtype=bool) if score.known is None else score.known
        conditions, unsure = [], score.unsure
        for floor, _ in self.tiers:
            verdict, doubt = compare(score, column_constant(floor), "ge")
            conditions.append(scored & ctx.full(verdict))
            unsure = either(unsure, doubt)
        amounts = [share * self.of for _, share in self.tiers]
        amount = choose(ctx, conditions, amounts, Decimal(0))
        reached = np.logical_or.reduce(conditions) if conditions else np.zeros(ctx.n, dtype=bool)
        amount = Fixed(scored, None, unsure, amount.v, amount.k, amount.bound)
        return FormulaResult(amount, ~scored, scored & ~reached, unsure)

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        score = self.score.value(facts)
        if score.number is None:
            return _unknown("computed", score)
        of = self.of
        steps = [
            step(
                "score", score.number, f"绩效评分 {score.label}", f"performance score {score.label}"
            )
        ]
        for floor, share in self.tiers:
            if score.number >= floor:
                steps.append(
                    step(
                        "share",
                        share,
                        f"评分 ≥ {show(floor)} 的比例",
                        f"share for a score ≥ {show(floor)}",
                    )
                )
                amount = share * of
                steps.append(step("amount", amount, f"比例 × {show(of)}", f"share × {show(of)}"))
                return FormulaOutcome("computed", amount, tuple(steps))
        lowest = self.lowest
        nothing = ClauseResult(
            "formula.performance",
            Tri.FALSE,
            Bilingual(
                f"绩效评分 {show(score.number)} 低于最低档 {show(lowest)},不予奖励",
                f"performance score {show(score.number)} is below the lowest tier {show(lowest)}: no award",
            ),
            actual=score.number,
            required=lowest,
            op="ge",
        )
        return FormulaOutcome("computed", Decimal(0), tuple(steps), nothing_due=nothing)


class PerUnit(FormulaPlan):
    __slots__ = ("ceiling", "periods", "price", "price_cap", "quantity", "quantity_cap", "rate")

    def __init__(self, formula: PerUnitFormula, params: Params, fy: int) -> None:
        spec = formula.per_unit
        self.quantity = compile_expr(spec.quantity, params, fy)
        self.price = None if spec.unit_price is None else compile_expr(spec.unit_price, params, fy)
        self.periods = compile_expr(spec.periods, params, fy)
        self.ceiling = None if spec.not_above is None else compile_expr(spec.not_above, params, fy)
        self.rate = _Rate(spec.rate, params, fy)
        cap = spec.quantity_cap
        self.quantity_cap = None if cap is None else constant(cap, params)
        cap = spec.unit_price_cap
        self.price_cap = None if cap is None else constant(cap, params)
        optional = [p for p in (self.price, self.ceiling) if p is not None]
        self.parts = (self.quantity, self.periods, *optional, *self.rate.parts())

    def evaluate(self, ctx: Context) -> FormulaResult:
        """quantity (capped) × unit price (capped) × periods × rate, not above a ceiling."""
        q = self.quantity.eval(ctx)
        if self.quantity_cap is not None:
            q = minimum(q, column_constant(self.quantity_cap))
        if self.price is not None:
            p = self.price.eval(ctx)
            if self.price_cap is not None:
                p = minimum(p, column_constant(self.price_cap))
        else:
            p = ONE if self.price_cap is None else column_constant(self.price_cap)
        rate = self.rate.evaluate(ctx)
        amount = product_columns([q, p, self.periods.eval(ctx), rate])
        if self.ceiling is not None:
            amount = minimum(amount, product_columns([self.ceiling.eval(ctx), rate]))
        return FormulaResult(amount, no_amount_rows(amount), None, rate.unsure)

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        quantity = self.quantity.value(facts)
        price = None if self.price is None else self.price.value(facts)
        periods = self.periods.value(facts)
        ceiling = None if self.ceiling is None else self.ceiling.value(facts)
        rate, rate_step = self.rate.of(facts, year)
        parts = [v for v in (quantity, price, periods, ceiling, rate) if v is not None]
        if any(v.number is None for v in parts):
            return _unknown("computed", *parts)
        steps: list[Step] = []
        q = _capped(quantity, self.quantity_cap, steps, "quantity", "数量", "quantity")
        if price is not None:
            p = _capped(price, self.price_cap, steps, "unit_price", "单价", "unit price")
        elif self.price_cap is not None:
            p = self.price_cap
            steps.append(step("unit_price", p, "单价(按上限)", "unit price (the cap)"))
        else:
            p = Decimal(1)
        assert periods.number is not None and rate.number is not None
        steps.append(
            step("periods", periods.number, f"期数 {periods.label}", f"periods {periods.label}")
        )
        steps += [rate_step] if rate_step else []
        amount = q * p * periods.number * rate.number
        steps.append(
            step(
                "amount",
                amount,
                "数量 × 单价 × 期数 × 比例",
                "quantity × unit price × periods × rate",
            )
        )
        if (
            ceiling is not None
            and ceiling.number is not None
            and amount > ceiling.number * rate.number
        ):
            amount = ceiling.number * rate.number
            steps.append(
                step(
                    "not_above",
                    amount,
                    f"不超过 {ceiling.label} × 比例",
                    f"not above {ceiling.label} × rate",
                )
            )
        return FormulaOutcome("computed", amount, tuple(steps))


def _capped(
    value: Value, cap: Decimal | None, steps: list[Step], name: str, zh: str, en: str
) -> Decimal:
    assert value.number is not None
    number = value.number
    steps.append(step(name, number, f"{zh} {value.label}", f"{en} {value.label}"))
    if cap is not None and number > cap:
        steps.append(step(f"{name}_cap", cap, f"{zh}上限", f"{en} cap"))
        return cap
    return number
