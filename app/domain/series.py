"""Expressions over yearly series and dates, compiled (see ``app.domain.expressions``):
a sum over years, an average growth, the months of the fiscal year from a date. Each
kind written once: ``value`` for one profile, ``_eval`` over columns.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from app.domain.batch.context import Context
from app.domain.batch.exprs import negate
from app.domain.batch.numbers import Approx, Fixed, Num, add, both, either, rescale
from app.domain.expressions import ExprPlan, Fact, Value, combine_missing, number_value
from app.domain.facts import Facts


class SumYears(ExprPlan):
    __slots__ = ("parts",)

    def __init__(self, parts: list[Fact], label: str) -> None:
        self.parts, self.label = parts, label
        self.key = ("sum", *(p.label for p in parts))
        self.leaves = tuple(leaf for p in parts for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        parts = [p.eval(ctx) for p in self.parts]
        return add([p for p in parts if isinstance(p, Fixed)])

    def value(self, facts: Facts) -> Value:
        parts = [p.value(facts) for p in self.parts]
        if any(p.number is None for p in parts):
            return Value(None, self.label, missing=combine_missing(parts))
        return number_value(
            sum((p.number for p in parts if p.number is not None), Decimal(0)), self.label
        )


class Growth(ExprPlan):
    """Average yearly growth: undefined when a base year is not positive."""

    __slots__ = ("series", "undefined")
    may_be_undefined = True

    def __init__(self, series: list[Fact], label: str, fact: str) -> None:
        self.series, self.label = series, label
        self.undefined = Value(None, label, undefined=f"{fact} was not positive in a base year")
        self.key = ("growth", *(p.label for p in series))
        self.leaves = tuple(leaf for p in series for leaf in p.leaves)

    def _eval(self, ctx: Context) -> Num:
        series = [p.eval(ctx) for p in self.series]
        assert all(isinstance(p, Fixed) for p in series)
        k = max(p.k for p in series if isinstance(p, Fixed))
        fixed = [rescale(p, k) for p in series if isinstance(p, Fixed)]
        known: Any = None
        unsure: Any = None
        positive: Any = True
        for p in fixed:
            known, unsure = both(known, p.known), either(unsure, p.unsure)
        for p in fixed[:-1]:
            positive = positive & (np.asarray(p.v) > 0)
        known_all = ctx.full(True if known is None else known)
        rates = []
        for earlier, later in itertools.pairwise(fixed):
            diff = add([later, negate(earlier)])
            unsure = either(unsure, diff.unsure)
            base = np.where(positive, np.asarray(earlier.v, dtype=np.float64), 1.0)
            rates.append(np.where(positive, np.asarray(diff.v, dtype=np.float64) / base, 0.0))
        x = sum(rates) / len(rates)
        spread = sum(np.abs(r) for r in rates) / len(rates)
        return Approx(
            known_all & positive,
            known_all & ~positive,
            unsure,
            x,
            spread * 1e-14 + np.abs(x) * 1e-15,
        )

    def value(self, facts: Facts) -> Value:
        series = [p.value(facts) for p in self.series]
        if any(p.number is None for p in series):
            return Value(None, self.label, missing=combine_missing(series))
        numbers = [p.number for p in series if p.number is not None]
        rates = []
        for earlier, later in itertools.pairwise(numbers):
            if earlier <= 0:
                return self.undefined
            rates.append((later - earlier) / earlier)
        return number_value(sum(rates, Decimal(0)) / len(rates), self.label)


class MonthsInYear(ExprPlan):
    """Months of the fiscal year from a date on (12 before it, 0 after it)."""

    __slots__ = ("path", "unknown", "year")

    def __init__(self, path: str, year: int) -> None:
        self.path, self.year = path, year
        self.label = f"months of {year} from {path}"
        self.unknown = Value(None, self.label, missing=(path,))
        self.key, self.leaves = ("months", path, year), ((path, "date"),)

    def _eval(self, ctx: Context) -> Num:
        col = ctx.table.date_column(self.path)
        year, fy = col.year, self.year
        months = np.where(year < fy, 12, np.where(year > fy, 0, 13 - col.month.astype(np.int64)))
        return Fixed(col.known, None, None, months.astype(np.int64), 0, 12, True)

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
        return number_value(Decimal(months), self.label)
