"""Numeric expressions over profile facts: facts, sums over years, growth, ratios.

An expression is known (a ``Decimal``), unknown (it names the facts that would settle
it) or undefined (for example a share of a revenue of zero), which a comparison treats
as not met and explains.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.catalog.schema import (
    DifferenceExpr,
    Expr,
    FactExpr,
    GrowthExpr,
    MonthsInYearExpr,
    ProductExpr,
    RatioExpr,
    SumExpr,
    SumYearsExpr,
)
from app.domain.facts import MISSING, Facts
from app.domain.money import as_decimal

Params = Mapping[str, Decimal]


@dataclass(frozen=True)
class Value:
    number: Decimal | None
    label: str
    missing: tuple[str, ...] = ()
    undefined: str | None = None

    @property
    def known(self) -> bool:
        return self.number is not None


def constant(raw: Decimal | str, params: Params) -> Decimal:
    """A catalog number: a literal or ``$parameter`` (the loader checked it exists)."""
    if isinstance(raw, str) and raw.startswith("$"):
        return params[raw[1:]]
    number = as_decimal(raw)
    if number is None:
        raise ValueError(f"not a number: {raw!r}")
    return number


def evaluate_expr(expr: Expr | Decimal | str, facts: Facts, params: Params) -> Value:
    if isinstance(expr, Decimal | str | int):
        number = constant(expr, params)
        return Value(number, str(expr) if isinstance(expr, str) else str(number))
    if isinstance(expr, FactExpr):
        return _fact(expr.fact, facts)
    if isinstance(expr, SumYearsExpr):
        return _sum_years(expr, facts)
    if isinstance(expr, GrowthExpr):
        return _growth(expr, facts)
    if isinstance(expr, MonthsInYearExpr):
        return _months_in_year(expr, facts)
    if isinstance(expr, RatioExpr):
        return _ratio(expr, facts, params)
    if isinstance(expr, ProductExpr):
        return _product(expr, facts, params)
    if isinstance(expr, SumExpr):
        return _add(expr.sum, facts, params, " + ", negate_rest=False)
    if isinstance(expr, DifferenceExpr):
        return _add(list(expr.difference), facts, params, " − ", negate_rest=True)
    raise TypeError(f"unknown expression {expr!r}")


def _fact(template: str, facts: Facts) -> Value:
    path = facts.path(template)
    number = facts.number(template)
    if number is MISSING:
        return Value(None, path, missing=(path,))
    assert isinstance(number, Decimal)
    return Value(number, path)


def _combine_missing(values: list[Value]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for v in values for p in v.missing))


def _first_undefined(values: list[Value]) -> str | None:
    return next((v.undefined for v in values if v.undefined), None)


def _sum_years(expr: SumYearsExpr, facts: Facts) -> Value:
    parts = [_fact(f"years.{{fy-{k}}}.{expr.sum_years}", facts) for k in range(expr.span)]
    label = f"Σ years.{facts.fiscal_year - expr.span + 1}..{facts.fiscal_year}.{expr.sum_years}"
    if any(not p.known for p in parts):
        return Value(None, label, missing=_combine_missing(parts))
    return Value(sum((p.number for p in parts if p.number is not None), Decimal(0)), label)


def _growth(expr: GrowthExpr, facts: Facts) -> Value:
    series = [_fact(f"years.{{fy-{k}}}.{expr.growth}", facts) for k in range(expr.span, -1, -1)]
    label = f"growth of {expr.growth} over {expr.span} year(s) to {facts.fiscal_year}"
    if any(not p.known for p in series):
        return Value(None, label, missing=_combine_missing(series))
    numbers = [p.number for p in series if p.number is not None]
    rates = []
    for earlier, later in itertools.pairwise(numbers):
        if earlier <= 0:
            return Value(None, label, undefined=f"{expr.growth} was not positive in a base year")
        rates.append((later - earlier) / earlier)
    return Value(sum(rates, Decimal(0)) / len(rates), label)


def _months_in_year(expr: MonthsInYearExpr, facts: Facts) -> Value:
    path = facts.path(expr.months_in_year)
    day = facts.day(expr.months_in_year)
    label = f"months of {facts.fiscal_year} from {path}"
    if not isinstance(day, date):
        return Value(None, label, missing=(path,))
    year = facts.fiscal_year
    if day.year < year:
        months = 12
    elif day.year > year:
        months = 0
    else:
        months = 12 - day.month + 1
    return Value(Decimal(months), label)


def _ratio(expr: RatioExpr, facts: Facts, params: Params) -> Value:
    num, den = (evaluate_expr(e, facts, params) for e in expr.ratio)
    label = f"{num.label} / {den.label}"
    if not (num.known and den.known):
        return Value(None, label, _combine_missing([num, den]), _first_undefined([num, den]))
    assert num.number is not None and den.number is not None
    if den.number == 0:
        return Value(None, label, undefined=f"{den.label} is zero")
    return Value(num.number / den.number, label)


def _product(expr: ProductExpr, facts: Facts, params: Params) -> Value:
    parts = [evaluate_expr(e, facts, params) for e in expr.product]
    label = " × ".join(p.label for p in parts)
    if any(not p.known for p in parts):
        return Value(None, label, _combine_missing(parts), _first_undefined(parts))
    result = Decimal(1)
    for p in parts:
        assert p.number is not None
        result *= p.number
    return Value(result, label)


def _add(
    operands: list[Expr | Decimal | str],
    facts: Facts,
    params: Params,
    joiner: str,
    negate_rest: bool,
) -> Value:
    """a + b + … or, with ``negate_rest``, a − b."""
    parts = [evaluate_expr(e, facts, params) for e in operands]
    label = "(" + joiner.join(p.label for p in parts) + ")"
    if any(not p.known for p in parts):
        return Value(None, label, _combine_missing(parts), _first_undefined(parts))
    numbers = [p.number for p in parts if p.number is not None]
    total = numbers[0]
    for n in numbers[1:]:
        total = total - n if negate_rest else total + n
    return Value(total, label)
