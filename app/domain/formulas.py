"""Award formulas: how much a policy pays before its caps.

Each formula yields the uncapped amount (unrounded: rounding happens once, after the
caps), the steps that produced it for the trace, and, when a fact is missing, the
paths that would settle it.

A formula is compiled once per policy version and fiscal year (``compile_formula``):
its constants resolved, its expressions and option rules compiled, its fixed steps
built; ``explain(facts, subsidy_year)`` then computes one profile's amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from app.catalog.schema import (
    FixedFormula,
    Formula,
    NoAmountFormula,
    PerformanceFormula,
    PerUnitFormula,
    RateSchedule,
    ReviewerFormula,
    ShareFormula,
    TaxEstimateFormula,
    Text,
)
from app.domain.expressions import Params, Value, compile_expr, constant
from app.domain.facts import Facts
from app.domain.results import AmountBasis, Bilingual, ClauseResult, Step, Tri
from app.domain.text import show, unknown_detail

if TYPE_CHECKING:
    from app.domain.batch.formulas import FormulaNode
    from app.domain.batch.formulas import Rate as RateNode


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


class FormulaPlan:
    """A compiled formula: ``explain`` gives one profile's uncapped amount and steps."""

    __slots__ = ()

    def column(self) -> FormulaNode:
        """The same formula over whole columns (``app.domain.batch.formulas``), for rows
        in their first subsidy year (rows with an award history are answered whole by
        the per-profile engine)."""
        raise NotImplementedError

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        raise NotImplementedError


def step(name: str, value: Decimal | None, zh: str, en: str) -> Step:
    return Step(name, value, Bilingual(zh, en))


def _unknown(basis: AmountBasis, *values: Value) -> FormulaOutcome:
    missing = tuple(dict.fromkeys(p for v in values for p in v.missing))
    return FormulaOutcome(basis, missing=missing)


class _Fixed(FormulaPlan):
    __slots__ = ("outcome",)

    def __init__(self, formula: FixedFormula, params: Params) -> None:
        amount = constant(formula.fixed, params)
        steps = (step("fixed", amount, "定额奖励", "fixed amount"),)
        self.outcome = FormulaOutcome("computed", amount, steps)

    def column(self) -> FormulaNode:
        from app.domain.batch.formulas import FixedAmount
        from app.domain.expressions import Const

        amount = self.outcome.amount
        assert amount is not None
        return FixedAmount(Const(amount, str(amount)))

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        return self.outcome


class _Rate:
    """The rate for a subsidy year: by year first, then by growth tier, else default."""

    __slots__ = ("by_year", "default", "growth", "tiers")

    def __init__(self, schedule: RateSchedule, params: Params, fy: int) -> None:
        self.by_year = {
            year: (rate := constant(raw, params), step(
                "rate", rate, f"第 {year} 个资助年度的比例", f"rate for subsidy year {year}"
            ))
            for year, raw in schedule.by_subsidy_year.items()
        }  # fmt: skip
        growth = schedule.by_growth
        self.growth = None if growth is None else compile_expr(growth.expr, params, fy)
        self.tiers = [] if growth is None else [
            (constant(t.min, params), constant(t.rate, params)) for t in growth.tiers
        ]  # fmt: skip
        if schedule.default is not None:
            rate = constant(schedule.default, params)
            self.default = (Value(rate, "rate"), step("rate", rate, "默认比例", "default rate"))
        else:
            none = step("rate", Decimal(0), "无适用比例", "no rate applies")
            self.default = (Value(Decimal(0), "rate"), none)

    def column(self) -> RateNode:
        from app.domain.batch.formulas import Rate

        growth = None if self.growth is None else self.growth.column()
        by_year = {year: rate for year, (rate, _) in self.by_year.items()}
        default = self.default[0].number
        assert default is not None
        return Rate(by_year, growth, self.tiers, default)

    def of(self, facts: Facts, year: int) -> tuple[Value, Step | None]:
        if year in self.by_year:
            rate, fixed = self.by_year[year]
            return Value(rate, "rate"), fixed
        if self.growth is not None:
            growth = self.growth.value(facts)
            if growth.number is None and not growth.undefined:
                return Value(None, "rate", growth.missing), None
            for floor, rate in self.tiers:
                if growth.number is not None and growth.number >= floor:
                    return Value(rate, "rate"), step(
                        "rate",
                        rate,
                        f"成长性 {show(growth.number)} ≥ {show(floor)} 对应比例",
                        f"growth {show(growth.number)} ≥ {show(floor)} gives this rate",
                    )
        return self.default


class _Share(FormulaPlan):
    __slots__ = ("base", "rate")

    def __init__(self, formula: ShareFormula, params: Params, fy: int) -> None:
        self.base = compile_expr(formula.share.base, params, fy)
        self.rate = _Rate(formula.share.rate, params, fy)

    def column(self) -> FormulaNode:
        from app.domain.batch.formulas import Share

        return Share(self.base.column(), self.rate.column())

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        base = self.base.value(facts)
        rate, rate_step = self.rate.of(facts, year)
        if base.number is None or rate.number is None:
            return _unknown("computed", base, rate)
        amount = base.number * rate.number
        steps = [step("base", base.number, f"基数 {base.label}", f"base {base.label}")]
        steps += [rate_step] if rate_step else []
        steps.append(step("amount", amount, "基数 × 比例", "base × rate"))
        return FormulaOutcome("computed", amount, tuple(steps))


class _Performance(FormulaPlan):
    __slots__ = ("lowest", "of", "score", "tiers")

    def __init__(self, formula: PerformanceFormula, params: Params, fy: int) -> None:
        spec = formula.performance
        self.score, self.of = compile_expr(spec.score, params, fy), constant(spec.of, params)
        self.tiers = [(constant(t.min, params), constant(t.share, params)) for t in spec.tiers]
        self.lowest = self.tiers[-1][0]

    def column(self) -> FormulaNode:
        from app.domain.batch.formulas import Performance

        return Performance(self.score.column(), self.tiers, self.of)

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


class _PerUnit(FormulaPlan):
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

    def column(self) -> FormulaNode:
        from app.domain.batch.formulas import PerUnit

        return PerUnit(
            (self.quantity.column(), self.quantity_cap),
            (None if self.price is None else self.price.column(), self.price_cap),
            self.periods.column(),
            None if self.ceiling is None else self.ceiling.column(),
            self.rate.column(),
        )

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


class _Said(FormulaPlan):
    """An amount a reviewer sets, or none at all: one fixed step."""

    __slots__ = ("outcome",)

    def __init__(self, basis: AmountBasis, name: str, text: Text) -> None:
        self.outcome = FormulaOutcome(basis, None, (step(name, None, text.zh, text.en),))

    def column(self) -> FormulaNode:
        from app.domain.batch.formulas import NoFigure

        return NoFigure(self.outcome.basis)

    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        return self.outcome


def compile_formula(formula: Formula, params: Params, fiscal_year: int) -> FormulaPlan:
    """The formula for one version's parameters and one fiscal year."""
    fy = fiscal_year
    if isinstance(formula, FixedFormula):
        return _Fixed(formula, params)
    if isinstance(formula, ShareFormula):
        return _Share(formula, params, fy)
    if isinstance(formula, PerformanceFormula):
        return _Performance(formula, params, fy)
    if isinstance(formula, PerUnitFormula):
        return _PerUnit(formula, params, fy)
    if isinstance(formula, ReviewerFormula):
        return _Said("set_by_reviewer", "set_by_reviewer", formula.set_by_reviewer)
    if isinstance(formula, TaxEstimateFormula):
        from app.domain.tax_estimate import TaxEstimatePlan

        return TaxEstimatePlan(formula, params, fy)
    if isinstance(formula, NoAmountFormula):
        return _Said("none", "no_amount", formula.no_amount)
    raise TypeError(f"unknown formula {formula!r}")


def evaluate_formula(
    formula: Formula, facts: Facts, params: Params, subsidy_year: int
) -> FormulaOutcome:
    """A formula's outcome for a profile, compiled on the spot (for one-off uses)."""
    return compile_formula(formula, params, facts.fiscal_year).explain(facts, subsidy_year)


__all__ = ["FormulaOutcome", "FormulaPlan", "compile_formula", "evaluate_formula", "unknown_detail"]
