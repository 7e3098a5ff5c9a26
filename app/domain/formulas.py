"""Award formulas: how much a policy pays before its caps.

Each formula yields the uncapped amount (unrounded: rounding happens once, after the
caps), the steps that produced it for the trace, and, when a fact is missing, the
paths that would settle it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.catalog.schema import (
    FixedFormula,
    Formula,
    NoAmountFormula,
    PerformanceFormula,
    PerUnitFormula,
    RateSchedule,
    ReviewerFormula,
    ShareFormula,
    ShareWhen,
    TaxEstimateFormula,
    TaxRateWhen,
)
from app.domain.expressions import Params, Value, constant, evaluate_expr
from app.domain.facts import Facts
from app.domain.results import AmountBasis, Bilingual, ClauseResult, Step, Tri
from app.domain.rules import evaluate_rule
from app.domain.text import show, unknown_detail


@dataclass(frozen=True)
class FormulaOutcome:
    basis: AmountBasis
    amount: Decimal | None = None
    steps: tuple[Step, ...] = ()
    missing: tuple[str, ...] = ()
    #: A reason the formula gives no money at all (e.g. a score below every tier).
    nothing_due: ClauseResult | None = None

    @property
    def known(self) -> bool:
        return not self.missing


def evaluate_formula(
    formula: Formula, facts: Facts, params: Params, subsidy_year: int
) -> FormulaOutcome:
    return _HANDLERS[type(formula)](formula, facts, params, subsidy_year)


def _step(name: str, value: Decimal | None, zh: str, en: str) -> Step:
    return Step(name, value, Bilingual(zh, en))


def _unknown(basis: AmountBasis, *values: Value) -> FormulaOutcome:
    missing = tuple(dict.fromkeys(p for v in values for p in v.missing))
    return FormulaOutcome(basis, missing=missing)


def _fixed(formula: FixedFormula, facts: Facts, params: Params, year: int) -> FormulaOutcome:
    amount = constant(formula.fixed, params)
    return FormulaOutcome("computed", amount, (_step("fixed", amount, "定额奖励", "fixed amount"),))


def _rate(
    schedule: RateSchedule, facts: Facts, params: Params, year: int
) -> tuple[Value, Step | None]:
    """The rate for this subsidy year: by year first, then by growth tier, else default."""
    if year in schedule.by_subsidy_year:
        rate = constant(schedule.by_subsidy_year[year], params)
        return Value(rate, "rate"), _step(
            "rate", rate, f"第 {year} 个资助年度的比例", f"rate for subsidy year {year}"
        )
    if schedule.by_growth is not None:
        growth = evaluate_expr(schedule.by_growth.expr, facts, params)
        if growth.number is None and not growth.undefined:
            return Value(None, "rate", growth.missing), None
        for tier in schedule.by_growth.tiers:
            floor = constant(tier.min, params)
            if growth.number is not None and growth.number >= floor:
                rate = constant(tier.rate, params)
                return Value(rate, "rate"), _step(
                    "rate",
                    rate,
                    f"成长性 {show(growth.number)} ≥ {show(floor)} 对应比例",
                    f"growth {show(growth.number)} ≥ {show(floor)} gives this rate",
                )
    if schedule.default is not None:
        rate = constant(schedule.default, params)
        return Value(rate, "rate"), _step("rate", rate, "默认比例", "default rate")
    return Value(Decimal(0), "rate"), _step("rate", Decimal(0), "无适用比例", "no rate applies")


def _share(formula: ShareFormula, facts: Facts, params: Params, year: int) -> FormulaOutcome:
    base = evaluate_expr(formula.share.base, facts, params)
    rate, rate_step = _rate(formula.share.rate, facts, params, year)
    if base.number is None or rate.number is None:
        return _unknown("computed", base, rate)
    amount = base.number * rate.number
    steps = [_step("base", base.number, f"基数 {base.label}", f"base {base.label}")]
    steps += [rate_step] if rate_step else []
    steps.append(_step("amount", amount, "基数 × 比例", "base × rate"))
    return FormulaOutcome("computed", amount, tuple(steps))


def _performance(
    formula: PerformanceFormula, facts: Facts, params: Params, year: int
) -> FormulaOutcome:
    spec = formula.performance
    score = evaluate_expr(spec.score, facts, params)
    if score.number is None:
        return _unknown("computed", score)
    of = constant(spec.of, params)
    steps = [
        _step("score", score.number, f"绩效评分 {score.label}", f"performance score {score.label}")
    ]
    for tier in spec.tiers:
        floor = constant(tier.min, params)
        if score.number >= floor:
            share = constant(tier.share, params)
            steps.append(
                _step(
                    "share",
                    share,
                    f"评分 ≥ {show(floor)} 的比例",
                    f"share for a score ≥ {show(floor)}",
                )
            )
            amount = share * of
            steps.append(_step("amount", amount, f"比例 × {show(of)}", f"share × {show(of)}"))
            return FormulaOutcome("computed", amount, tuple(steps))
    lowest = constant(spec.tiers[-1].min, params)
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


def _per_unit(formula: PerUnitFormula, facts: Facts, params: Params, year: int) -> FormulaOutcome:
    spec = formula.per_unit
    quantity = evaluate_expr(spec.quantity, facts, params)
    price = evaluate_expr(spec.unit_price, facts, params) if spec.unit_price else None
    periods = evaluate_expr(spec.periods, facts, params)
    ceiling = evaluate_expr(spec.not_above, facts, params) if spec.not_above else None
    rate, rate_step = _rate(spec.rate, facts, params, year)
    parts = [v for v in (quantity, price, periods, ceiling, rate) if v is not None]
    if any(v.number is None for v in parts):
        return _unknown("computed", *parts)
    steps: list[Step] = []
    q = _capped(quantity, spec.quantity_cap, params, steps, "quantity", "数量", "quantity")
    if price is not None:
        p = _capped(price, spec.unit_price_cap, params, steps, "unit_price", "单价", "unit price")
    elif spec.unit_price_cap is not None:
        p = constant(spec.unit_price_cap, params)
        steps.append(_step("unit_price", p, "单价(按上限)", "unit price (the cap)"))
    else:
        p = Decimal(1)
    assert periods.number is not None and rate.number is not None
    steps.append(
        _step("periods", periods.number, f"期数 {periods.label}", f"periods {periods.label}")
    )
    steps += [rate_step] if rate_step else []
    amount = q * p * periods.number * rate.number
    steps.append(
        _step(
            "amount", amount, "数量 × 单价 × 期数 × 比例", "quantity × unit price × periods × rate"
        )
    )
    if ceiling is not None and ceiling.number is not None and amount > ceiling.number * rate.number:
        amount = ceiling.number * rate.number
        steps.append(
            _step(
                "not_above",
                amount,
                f"不超过 {ceiling.label} × 比例",
                f"not above {ceiling.label} × rate",
            )
        )
    return FormulaOutcome("computed", amount, tuple(steps))


def _capped(
    value: Value,
    cap: Decimal | str | None,
    params: Params,
    steps: list[Step],
    name: str,
    zh: str,
    en: str,
) -> Decimal:
    assert value.number is not None
    number = value.number
    steps.append(_step(name, number, f"{zh} {value.label}", f"{en} {value.label}"))
    if cap is not None and number > (limit := constant(cap, params)):
        steps.append(_step(f"{name}_cap", limit, f"{zh}上限", f"{en} cap"))
        return limit
    return number


def _reviewer(formula: ReviewerFormula, facts: Facts, params: Params, year: int) -> FormulaOutcome:
    step = _step("set_by_reviewer", None, formula.set_by_reviewer.zh, formula.set_by_reviewer.en)
    return FormulaOutcome("set_by_reviewer", None, (step,))


def _first_holding(
    options: Sequence[ShareWhen | TaxRateWhen], facts: Facts, params: Params, clause: str
) -> tuple[int | None, tuple[str, ...]]:
    """The first option whose rule holds, or the facts that would settle the one stuck."""
    for i, option in enumerate(options):
        outcome = evaluate_rule(option.when, facts, params, f"{clause}.{i}")
        if outcome.truth is Tri.UNKNOWN:
            return None, tuple(outcome.missing)
        if outcome.truth is Tri.TRUE:
            return i, ()
    return None, ()


def _tax(formula: TaxEstimateFormula, facts: Facts, params: Params, year: int) -> FormulaOutcome:
    """base × share × rate: the share and the rate of the first option that holds.

    An option that cannot be settled makes the estimate unknown; the answer then names
    what would settle it, with the base's missing facts (the default base while the
    share is not settled).
    """
    spec = formula.tax_estimate
    shared, share_missing = _first_holding(spec.share_when, facts, params, "formula.share_when")
    rated, rate_missing = _first_holding(spec.tax_rate_when, facts, params, "formula.tax_rate_when")
    share_option = None if shared is None else spec.share_when[shared]
    base_expr = (
        spec.base if share_option is None or share_option.base is None else share_option.base
    )
    base = evaluate_expr(base_expr, facts, params)
    missing = (*share_missing, *base.missing, *rate_missing)
    if missing or base.number is None:
        return FormulaOutcome("estimate", missing=tuple(dict.fromkeys(missing)))
    share = constant(spec.share if share_option is None else share_option.share, params)
    share_text = ("加计或减免比例", "share deducted or taxed less")
    if share_option is not None:
        label = share_option.when.text
        share_text = (
            f"加计或减免比例({label.zh})" if label else "适用的加计或减免比例",
            f"share deducted or taxed less ({label.en})" if label else "the share that applies",
        )
    rate = constant(spec.tax_rate if rated is None else spec.tax_rate_when[rated].rate, params)
    rate_text = (
        ("适用一般税率", "the enterprise's ordinary rate")
        if rated is None
        else ("适用优惠税率", "the preferential rate that applies")
    )
    amount = base.number * share * rate
    steps = (
        _step("base", base.number, f"基数 {base.label}", f"base {base.label}"),
        _step("share", share, *share_text),
        _step("tax_rate", rate, *rate_text),
        _step(
            "amount",
            amount,
            "估算节税额 = 基数 × 比例 × 税率",
            "estimated saving = base × share × rate",
        ),
    )
    return FormulaOutcome("estimate", max(amount, Decimal(0)), steps)


def _no_amount(formula: NoAmountFormula, facts: Facts, params: Params, year: int) -> FormulaOutcome:
    step = _step("no_amount", None, formula.no_amount.zh, formula.no_amount.en)
    return FormulaOutcome("none", None, (step,))


_HANDLERS: dict[type, Callable[..., FormulaOutcome]] = {
    FixedFormula: _fixed,
    ShareFormula: _share,
    PerformanceFormula: _performance,
    PerUnitFormula: _per_unit,
    ReviewerFormula: _reviewer,
    TaxEstimateFormula: _tax,
    NoAmountFormula: _no_amount,
}

__all__ = ["FormulaOutcome", "evaluate_formula", "unknown_detail"]
