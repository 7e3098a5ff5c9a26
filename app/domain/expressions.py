"""Numeric expressions over profile facts: facts, sums over years, growth, ratios.

An expression is known (a ``Decimal``), unknown (it names the facts that would settle
it) or undefined (for example a share of a revenue of zero), which a comparison treats
as not met and explains.

An expression is compiled once per policy version and fiscal year (``compile_expr``):
its ``$parameters`` and ``{fy}`` paths resolved and its label built; evaluating it for
a profile then only reads facts and does the arithmetic (the kinds over yearly series
and dates are in ``app.domain.series``). Each kind is written once,
with its two emitters: ``value`` for one profile, ``_eval`` over a column table
(``app.domain.batch``, vectorised numbers: see ``numbers``), with the same known,
unknown and undefined rows and the same value; the compiled expression is its own
column node. An expression's missing facts are always the paths of its leaves that
the row does not give (every ``Value`` unions its parts'), so a node only lists its
leaves.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

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
from app.domain.batch.context import Context
from app.domain.batch.exprs import ExprNode, negate
from app.domain.batch.numbers import (
    Fixed,
    Num,
    Unsupported,
    add,
    approx_multiply,
    multiply,
    ratio,
)
from app.domain.batch.numbers import constant as column_constant
from app.domain.facts import MISSING, Facts, year_path
from app.domain.money import as_decimal

Params = Mapping[str, Decimal]


class Value(NamedTuple):
    number: Decimal | None
    label: str
    missing: tuple[str, ...] = ()
    undefined: str | None = None

    @property
    def known(self) -> bool:
        return self.number is not None


_new_value = tuple.__new__


def number_value(number: Decimal, label: str) -> Value:
    """``Value(number, label)`` without the NamedTuple's Python ``__new__``: made for
    most expressions of every answer."""
    return _new_value(Value, (number, label, (), None))


def constant(raw: Decimal | str | int, params: Params) -> Decimal:
    """A catalog number: a literal or ``$parameter`` (the loader checked it exists)."""
    if isinstance(raw, str) and raw.startswith("$"):
        return params[raw[1:]]
    number = as_decimal(raw)
    if number is None:
        raise ValueError(f"not a number: {raw!r}")
    return number


class ExprPlan(ExprNode):
    """A compiled expression: ``value(facts)`` for a profile; ``label`` says what it is."""

    __slots__ = ("label",)
    label: str

    def column(self) -> ExprNode:
        """The same expression over whole columns: itself."""
        return self

    @abstractmethod
    def value(self, facts: Facts) -> Value:
        """The expression's value for one profile: known, unknown or undefined."""


class Const(ExprPlan):
    __slots__ = ("fixed", "known")

    def __init__(self, number: Decimal, label: str) -> None:
        self.label, self.known = label, Value(number, label)
        self.fixed, self.key = column_constant(number), ("const", str(number))

    def _eval(self, ctx: Context) -> Num:
        return self.fixed

    def value(self, facts: Facts) -> Value:
        return self.known


class Fact(ExprPlan):
    __slots__ = ("unknown",)

    def __init__(self, path: str) -> None:
        self.label, self.unknown = path, Value(None, path, missing=(path,))
        self.key, self.leaves = ("fact", path), ((path, "num"),)

    def _eval(self, ctx: Context) -> Num:
        col = ctx.table.num_column(self.label)
        return Fixed(col.known, None, col.inexact, col.value, col.scale, col.maxabs, col.nonneg)

    def value(self, facts: Facts) -> Value:
        number = facts.number_at(self.label)
        if number is MISSING:
            return self.unknown
        assert isinstance(number, Decimal)
        return number_value(number, self.label)


def combine_missing(values: list[Value]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for v in values for p in v.missing))


def _first_undefined(values: list[Value]) -> str | None:
    return next((v.undefined for v in values if v.undefined), None)


class _Ratio(ExprPlan):
    __slots__ = ("den", "num", "zero")
    may_be_undefined = True

    def __init__(self, num: ExprPlan, den: ExprPlan) -> None:
        self.num, self.den = num, den
        self.label = f"{num.label} / {den.label}"
        self.zero = Value(None, self.label, undefined=f"{den.label} is zero")
        self.key, self.leaves = ("ratio", num.key, den.key), num.leaves + den.leaves

    def _eval(self, ctx: Context) -> Num:
        return ratio(self.num.eval(ctx), self.den.eval(ctx))

    def value(self, facts: Facts) -> Value:
        num, den = self.num.value(facts), self.den.value(facts)
        if num.number is None or den.number is None:
            return Value(
                None, self.label, combine_missing([num, den]), _first_undefined([num, den])
            )
        if den.number == 0:
            return self.zero
        return number_value(num.number / den.number, self.label)


class _Product(ExprPlan):
    __slots__ = ("parts",)

    def __init__(self, parts: list[ExprPlan]) -> None:
        self.parts, self.label = parts, " × ".join(p.label for p in parts)
        self.key = ("product", *(p.key for p in parts))
        self.may_be_undefined = any(p.may_be_undefined for p in parts)
        self.leaves = tuple(leaf for p in parts for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        values = [p.eval(ctx) for p in self.parts]
        if all(isinstance(v, Fixed) for v in values):
            out = values[0]
            for v in values[1:]:
                assert isinstance(out, Fixed) and isinstance(v, Fixed)
                out = multiply(out, v)
            return out
        return approx_multiply(values)

    def value(self, facts: Facts) -> Value:
        parts = [p.value(facts) for p in self.parts]
        if any(p.number is None for p in parts):
            return Value(None, self.label, combine_missing(parts), _first_undefined(parts))
        result = Decimal(1)
        for p in parts:
            assert p.number is not None
            result *= p.number
        return number_value(result, self.label)


class _Add(ExprPlan):
    """a + b + … or, with ``negate_rest``, a − b. Over columns, exact over exact parts:
    parts that are approximations (a ratio, a growth) are left to the per-profile
    engine."""

    __slots__ = ("negate_rest", "parts")

    def __init__(self, parts: list[ExprPlan], joiner: str, negate_rest: bool) -> None:
        self.parts, self.negate_rest = parts, negate_rest
        self.label = "(" + joiner.join(p.label for p in parts) + ")"
        self.key = ("added", negate_rest, *(p.key for p in parts))
        self.may_be_undefined = any(p.may_be_undefined for p in parts)
        self.leaves = tuple(leaf for p in parts for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        values = [p.eval(ctx) for p in self.parts]
        fixed = [v for v in values if isinstance(v, Fixed) and v.undef is None]
        if len(fixed) != len(values):
            raise Unsupported("a sum over approximate or undefined parts")
        if self.negate_rest:
            fixed = [fixed[0], *(negate(v) for v in fixed[1:])]
        return add(fixed)

    def value(self, facts: Facts) -> Value:
        parts = [p.value(facts) for p in self.parts]
        if any(p.number is None for p in parts):
            return Value(None, self.label, combine_missing(parts), _first_undefined(parts))
        numbers = [p.number for p in parts if p.number is not None]
        total = numbers[0]
        for n in numbers[1:]:
            total = total - n if self.negate_rest else total + n
        return number_value(total, self.label)


def compile_expr(expr: Expr | Decimal | str | int, params: Params, fiscal_year: int) -> ExprPlan:
    """The expression for one version's parameters and one fiscal year."""
    from app.domain.series import Growth, MonthsInYear, SumYears

    fy = fiscal_year
    if isinstance(expr, Decimal | str | int):
        number = constant(expr, params)
        return Const(number, str(expr) if isinstance(expr, str) else str(number))
    if isinstance(expr, FactExpr):
        return Fact(year_path(expr.fact, fy))
    if isinstance(expr, SumYearsExpr):
        parts = [
            Fact(year_path(f"years.{{fy-{k}}}.{expr.sum_years}", fy)) for k in range(expr.span)
        ]
        return SumYears(parts, f"Σ years.{fy - expr.span + 1}..{fy}.{expr.sum_years}")
    if isinstance(expr, GrowthExpr):
        series = [
            Fact(year_path(f"years.{{fy-{k}}}.{expr.growth}", fy)) for k in range(expr.span, -1, -1)
        ]
        label = f"growth of {expr.growth} over {expr.span} year(s) to {fy}"
        return Growth(series, label, expr.growth)
    if isinstance(expr, MonthsInYearExpr):
        return MonthsInYear(year_path(expr.months_in_year, fy), fy)
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
