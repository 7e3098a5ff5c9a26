"""Award formulas: how much a policy pays before its caps.

Each formula yields the uncapped amount (unrounded: rounding happens once, after the
caps), the steps that produced it for the trace, and, when a fact is missing, the
paths that would settle it.

A formula is compiled once per policy version and fiscal year (``compile_formula``):
its constants resolved, its expressions and option rules compiled, its fixed steps
built; ``explain(facts, subsidy_year)`` then computes one profile's amount. Each kind
is written once, with its two emitters: ``explain`` for one profile, ``evaluate`` over
a column table (``app.domain.batch.formulas``: rows in their first subsidy year; rows
with an award history are answered whole by the per-profile engine); the compiled
formula is its own column node. The share and fixed kinds are here, the per-unit and
performance kinds in ``app.domain.unit_formulas``.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

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
from app.domain.batch.compare import compare
from app.domain.batch.context import Context
from app.domain.batch.exprs import ExprNode
from app.domain.batch.formulas import FIRST_YEAR, FormulaNode, FormulaResult, choose
from app.domain.batch.formulas import no_amount as no_amount_rows
from app.domain.batch.formulas import product as product_columns
from app.domain.batch.numbers import Fixed, Num, either
from app.domain.batch.numbers import constant as column_constant
from app.domain.expressions import Const, Params, Value, compile_expr, constant
from app.domain.facts import Facts
from app.domain.results import AmountBasis, Bilingual, ClauseResult, Step
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


# Not an ``abc.ABC``, as ``app.domain.rules.RulePlan`` says.
class FormulaPlan(FormulaNode):
    """A compiled formula: ``explain`` gives one profile's uncapped amount and steps."""

    __slots__ = ()

    def column(self) -> FormulaNode:
        """The same formula over whole columns, for rows in their first subsidy year."""
        return self

    @abstractmethod
    def explain(self, facts: Facts, year: int) -> FormulaOutcome:
        """One profile's uncapped amount and its steps, in its ``year``-th subsidy year."""


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
        self.amount = Const(amount, str(amount))

    def evaluate(self, ctx: Context) -> FormulaResult:
        return FormulaResult(self.amount.eval(ctx))

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

    def parts(self) -> tuple[ExprNode, ...]:
        """What the rate reads over columns (the first subsidy year's)."""
        return () if FIRST_YEAR in self.by_year or self.growth is None else (self.growth,)

    def evaluate(self, ctx: Context) -> Num:
        """The first subsidy year's rate over columns: a constant, or tiers of growth."""
        if FIRST_YEAR in self.by_year:
            return column_constant(self.by_year[FIRST_YEAR][0])
        default = self.default[0].number
        assert default is not None
        if self.growth is None:
            return column_constant(default)
        growth = self.growth.eval(ctx)
        conditions, unsure = [], growth.unsure
        for floor, _ in self.tiers:
            verdict, doubt = compare(growth, column_constant(floor), "ge")
            known = np.ones(ctx.n, dtype=bool) if growth.known is None else growth.known
            conditions.append(known & verdict)
            unsure = either(unsure, doubt)
        rate = choose(ctx, conditions, [r for _, r in self.tiers], default)
        return Fixed(None, None, unsure, rate.v, rate.k, rate.bound)

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
        self.parts = (self.base, *self.rate.parts())

    def evaluate(self, ctx: Context) -> FormulaResult:
        base, rate = self.base.eval(ctx), self.rate.evaluate(ctx)
        amount = product_columns([base, rate])
        return FormulaResult(amount, no_amount_rows(amount), None, rate.unsure)

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


class _Said(FormulaPlan):
    """An amount a reviewer sets, or none at all: one fixed step."""

    __slots__ = ("outcome",)

    def __init__(self, basis: AmountBasis, name: str, text: Text) -> None:
        self.outcome = FormulaOutcome(basis, None, (step(name, None, text.zh, text.en),))
        #: Over columns: no figure, never a missing fact.
        self.basis = basis

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
        from app.domain.unit_formulas import Performance

        return Performance(formula, params, fy)
    if isinstance(formula, PerUnitFormula):
        from app.domain.unit_formulas import PerUnit

        return PerUnit(formula, params, fy)
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
