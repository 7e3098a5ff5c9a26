"""Numeric expressions over profile facts: facts, sums over years, growth, ratios.

An expression is known (a ``Decimal``), unknown (it names the facts that would settle
it) or undefined (for example a share of a revenue of zero), which a comparison treats
as not met and explains.

An expression is compiled once per policy version and fiscal year (``compile_expr``):
its ``$parameters`` and ``{fy}`` paths resolved and its label built; evaluating it for
a profile then only reads facts and does the arithmetic.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

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
from app.domain.facts import MISSING, Facts, year_path
from app.domain.money import as_decimal

if TYPE_CHECKING:
    from app.domain.batch.exprs import ExprNode

Params = Mapping[str, Decimal]


class Value(NamedTuple):
    number: Decimal | None
    label: str
    missing: tuple[str, ...] = ()
    undefined: str | None = None

    @property
    def known(self) -> bool:
        return self.number is not None


def constant(raw: Decimal | str | int, params: Params) -> Decimal:
    """A catalog number: a literal or ``$parameter`` (the loader checked it exists)."""
    if isinstance(raw, str) and raw.startswith("$"):
        return params[raw[1:]]
    number = as_decimal(raw)
    if number is None:
        raise ValueError(f"not a number: {raw!r}")
    return number


class ExprPlan:
    """A compiled expression: ``value(facts)`` for a profile; ``label`` says what it is."""

    __slots__ = ("label",)
    label: str

    def column(self) -> ExprNode:
        """The same expression over whole columns (``app.domain.batch.exprs``)."""
        raise NotImplementedError

    def value(self, facts: Facts) -> Value:
        raise NotImplementedError


class _Const(ExprPlan):
    __slots__ = ("known",)

    def __init__(self, number: Decimal, label: str) -> None:
        self.label, self.known = label, Value(number, label)

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Const

        assert self.known.number is not None
        return Const(self.known.number)

    def value(self, facts: Facts) -> Value:
        return self.known


class _Fact(ExprPlan):
    __slots__ = ("unknown",)

    def __init__(self, path: str) -> None:
        self.label, self.unknown = path, Value(None, path, missing=(path,))

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Fact

        return Fact(self.label)

    def value(self, facts: Facts) -> Value:
        number = facts.number_at(self.label)
        if number is MISSING:
            return self.unknown
        assert isinstance(number, Decimal)
        return Value(number, self.label)


def _combine_missing(values: list[Value]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for v in values for p in v.missing))


def _first_undefined(values: list[Value]) -> str | None:
    return next((v.undefined for v in values if v.undefined), None)


class _SumYears(ExprPlan):
    __slots__ = ("parts",)

    def __init__(self, parts: list[_Fact], label: str) -> None:
        self.parts, self.label = parts, label

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Fact, Sum

        return Sum([Fact(p.label) for p in self.parts])

    def value(self, facts: Facts) -> Value:
        parts = [p.value(facts) for p in self.parts]
        if any(p.number is None for p in parts):
            return Value(None, self.label, missing=_combine_missing(parts))
        return Value(sum((p.number for p in parts if p.number is not None), Decimal(0)), self.label)


class _Growth(ExprPlan):
    __slots__ = ("series", "undefined")

    def __init__(self, series: list[_Fact], label: str, fact: str) -> None:
        self.series, self.label = series, label
        self.undefined = Value(None, label, undefined=f"{fact} was not positive in a base year")

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Fact, Growth

        return Growth([Fact(p.label) for p in self.series])

    def value(self, facts: Facts) -> Value:
        series = [p.value(facts) for p in self.series]
        if any(p.number is None for p in series):
            return Value(None, self.label, missing=_combine_missing(series))
        numbers = [p.number for p in series if p.number is not None]
        rates = []
        for earlier, later in itertools.pairwise(numbers):
            if earlier <= 0:
                return self.undefined
            rates.append((later - earlier) / earlier)
        return Value(sum(rates, Decimal(0)) / len(rates), self.label)


class _MonthsInYear(ExprPlan):
    __slots__ = ("path", "unknown", "year")

    def __init__(self, path: str, year: int) -> None:
        self.path, self.year = path, year
        self.label = f"months of {year} from {path}"
        self.unknown = Value(None, self.label, missing=(path,))

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Months

        return Months(self.path, self.year)

    def value(self, facts: Facts) -> Value:
        day = facts.day_at(self.path)
        if not isinstance(day, date):
            return self.unknown
        if day.year < self.year:
            months = 12
        elif day.year > self.year:
            months = 0
        else:
            months = 12 - day.month + 1
        return Value(Decimal(months), self.label)


class _Ratio(ExprPlan):
    __slots__ = ("den", "num", "zero")

    def __init__(self, num: ExprPlan, den: ExprPlan) -> None:
        self.num, self.den = num, den
        self.label = f"{num.label} / {den.label}"
        self.zero = Value(None, self.label, undefined=f"{den.label} is zero")

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import RatioNode

        return RatioNode(self.num.column(), self.den.column())

    def value(self, facts: Facts) -> Value:
        num, den = self.num.value(facts), self.den.value(facts)
        if num.number is None or den.number is None:
            return Value(
                None, self.label, _combine_missing([num, den]), _first_undefined([num, den])
            )
        if den.number == 0:
            return self.zero
        return Value(num.number / den.number, self.label)


class _Product(ExprPlan):
    __slots__ = ("parts",)

    def __init__(self, parts: list[ExprPlan]) -> None:
        self.parts, self.label = parts, " × ".join(p.label for p in parts)

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Product

        return Product([p.column() for p in self.parts])

    def value(self, facts: Facts) -> Value:
        parts = [p.value(facts) for p in self.parts]
        if any(p.number is None for p in parts):
            return Value(None, self.label, _combine_missing(parts), _first_undefined(parts))
        result = Decimal(1)
        for p in parts:
            assert p.number is not None
            result *= p.number
        return Value(result, self.label)


class _Add(ExprPlan):
    """a + b + … or, with ``negate_rest``, a − b."""

    __slots__ = ("negate_rest", "parts")

    def __init__(self, parts: list[ExprPlan], joiner: str, negate_rest: bool) -> None:
        self.parts, self.negate_rest = parts, negate_rest
        self.label = "(" + joiner.join(p.label for p in parts) + ")"

    def column(self) -> ExprNode:
        from app.domain.batch.exprs import Added

        return Added([p.column() for p in self.parts], negate_rest=self.negate_rest)

    def value(self, facts: Facts) -> Value:
        parts = [p.value(facts) for p in self.parts]
        if any(p.number is None for p in parts):
            return Value(None, self.label, _combine_missing(parts), _first_undefined(parts))
        numbers = [p.number for p in parts if p.number is not None]
        total = numbers[0]
        for n in numbers[1:]:
            total = total - n if self.negate_rest else total + n
        return Value(total, self.label)


def compile_expr(expr: Expr | Decimal | str | int, params: Params, fiscal_year: int) -> ExprPlan:
    """The expression for one version's parameters and one fiscal year."""
    fy = fiscal_year
    if isinstance(expr, Decimal | str | int):
        number = constant(expr, params)
        return _Const(number, str(expr) if isinstance(expr, str) else str(number))
    if isinstance(expr, FactExpr):
        return _Fact(year_path(expr.fact, fy))
    if isinstance(expr, SumYearsExpr):
        parts = [
            _Fact(year_path(f"years.{{fy-{k}}}.{expr.sum_years}", fy)) for k in range(expr.span)
        ]
        return _SumYears(parts, f"Σ years.{fy - expr.span + 1}..{fy}.{expr.sum_years}")
    if isinstance(expr, GrowthExpr):
        series = [
            _Fact(year_path(f"years.{{fy-{k}}}.{expr.growth}", fy))
            for k in range(expr.span, -1, -1)
        ]
        label = f"growth of {expr.growth} over {expr.span} year(s) to {fy}"
        return _Growth(series, label, expr.growth)
    if isinstance(expr, MonthsInYearExpr):
        return _MonthsInYear(year_path(expr.months_in_year, fy), fy)
    if isinstance(expr, RatioExpr):
        num, den = (compile_expr(e, params, fy) for e in expr.ratio)
        return _Ratio(num, den)
    if isinstance(expr, ProductExpr):
        return _Product([compile_expr(e, params, fy) for e in expr.product])
    if isinstance(expr, SumExpr):
        return _Add([compile_expr(e, params, fy) for e in expr.sum], " + ", negate_rest=False)
    if isinstance(expr, DifferenceExpr):
        terms = [compile_expr(e, params, fy) for e in expr.difference]
        return _Add(terms, " − ", negate_rest=True)
    raise TypeError(f"unknown expression {expr!r}")


def evaluate_expr(expr: Expr | Decimal | str, facts: Facts, params: Params) -> Value:
    """An expression's value for a profile, compiled on the spot (for one-off uses)."""
    return compile_expr(expr, params, facts.fiscal_year).value(facts)
