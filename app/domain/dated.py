"""The leaf clauses that read dates and yearly series, compiled (see
``app.domain.leaves`` for the others and what compiling a leaf means, and
``app.domain.recognitions`` for recognitions and findings).

Each kind is written once, with its two emitters: ``explain`` answers one profile
with its reasons, ``_truth`` answers every row of a column table
(``app.domain.batch``) from the same resolved paths, bounds and dates; the compiled
clause is itself its column node.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import ROUND_CEILING, Decimal

import numpy as np

from app.catalog.schema import (
    DateWithinRule,
    DaysBeforeApplicationRule,
    FirstTimeAboveRule,
    YearsSinceRule,
)
from app.domain.batch.columns import Spec, day_number
from app.domain.batch.compare import compare_const
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth
from app.domain.batch.leaves import Leaf as ColumnLeaf
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import Op, either
from app.domain.expressions import Params, constant
from app.domain.facts import Facts, year_path
from app.domain.leaves import Leaf, compare, window_text
from app.domain.results import Bilingual, Tri
from app.domain.rules import RuleOutcome
from app.domain.text import OP_SYMBOL, show


class FirstTimeAbove(Leaf, ColumnLeaf):
    """A yearly fact above a threshold this year and in no earlier year (over columns:
    with the lookback years known)."""

    __slots__ = ("current", "fact", "lookback", "threshold", "year")
    columns_when_not_true = False
    cost = 3

    def __init__(self, node: FirstTimeAboveRule, clause: str, params: Params, fy: int) -> None:
        test = node.first_time_above
        threshold = constant(test.threshold, params)
        fallback = Bilingual(
            f"{test.fact} 首次超过 {show(threshold)}",
            f"{test.fact} above {show(threshold)} for the first time in {fy}",
        )
        super().__init__(node, clause, fallback, [])
        self.fact, self.threshold, self.lookback, self.year = (
            test.fact,
            threshold,
            test.lookback,
            fy,
        )
        self.current = f"years.{fy}.{test.fact}"
        self.window = [f"years.{y}.{test.fact}" for y in range(fy - test.lookback, fy)]
        self.own = (self.current, *self.window)
        self.key = ("first_time_above", test.fact, str(threshold), test.lookback, fy)

    def column(self) -> RuleNode:
        return self

    def specs(self) -> Iterator[Spec]:
        yield from ((p, "num") for p in self.own)
        yield (f"years.*.{self.fact}", "num")

    def _truth(self, ctx: Context) -> Truth:
        table, c, fy = ctx.table, self.threshold, self.year
        current = table.num_column(self.current)
        false = current.known & compare_const(current.value, current.scale, "le", c)
        unsure = current.inexact
        years = sorted(set(table.year_keys) | set(range(fy - self.lookback, fy)))
        for year in (y for y in years if y < fy):
            column = table.find_num(f"years.{year}.{self.fact}")
            if column is not None:
                false = false | (column.known & compare_const(column.value, column.scale, "gt", c))
                unsure = either(unsure, column.inexact)
        settled = current.known.copy()
        for path in self.window:
            settled &= table.num_column(path).known
        return Truth(~false & settled, false, unsure)

    def unknown_columns(self) -> list[Spec] | None:
        return [(p, "num") for p in self.own]

    def explain(self, facts: Facts) -> RuleOutcome:
        year, threshold, fact = self.year, self.threshold, self.fact
        current = facts.number_at(self.current)
        if isinstance(current, Decimal) and current <= threshold:
            shown = show(current)
            return self.settled(
                Tri.FALSE, f"({year} 年为 {shown})", f" ({year}: {shown})", current, threshold, "gt"
            )
        years = facts.profile.get("years")
        # Fix (tests/unit): str.isdigit() accepts "²" and other non-ASCII digits that int()
        # rejects (ValueError); only ASCII digit keys name years.
        known_years = (
            sorted(int(y) for y in years if str(y).isascii() and str(y).isdigit())
            if isinstance(years, dict)
            else []
        )
        earlier = sorted(set(known_years) | set(range(year - self.lookback, year)))
        missing: list[str] = [] if isinstance(current, Decimal) else [self.current]
        for y in (y for y in earlier if y < year):
            value = facts.number_at(f"years.{y}.{fact}")
            if isinstance(value, Decimal) and value > threshold:
                shown = show(value)
                return self.settled(
                    Tri.FALSE, f"({y} 年已超过:{shown})", f" (already above in {y}: {shown})"
                )
            if not isinstance(value, Decimal) and y >= year - self.lookback:
                missing.append(f"years.{y}.{fact}")
        if missing:
            return self.asks(missing)
        shown = show(current)
        return self.settled(
            Tri.TRUE,
            f"({year} 年为 {shown})",
            f" ({year}: {shown})",
            current if isinstance(current, Decimal) else None,
            threshold,
            "gt",
        )


class YearsSince(Leaf, ColumnLeaf):
    """Whole years from a date fact to the end of the fiscal year, compared."""

    __slots__ = ("bound", "end", "op", "path")

    def __init__(self, node: YearsSinceRule, clause: str, params: Params, fy: int) -> None:
        path, bound, symbol = (
            year_path(node.years_since, fy),
            constant(node.value, params),
            OP_SYMBOL[node.op],
        )
        fallback = Bilingual(
            f"{path} 距 {fy} 年末 {symbol} {show(bound)} 年",
            f"years from {path} to the end of {fy} {symbol} {show(bound)}",
        )
        super().__init__(node, clause, fallback, [path])
        self.path, self.op, self.bound, self.end = path, node.op, bound, date(fy, 12, 31)
        self.own = (path,)
        self.key = ("years_since", path, node.op, str(bound), fy)

    def column(self) -> RuleNode:
        return self

    def specs(self) -> Iterator[Spec]:
        yield (self.path, "date")

    def _truth(self, ctx: Context) -> Truth:
        # Whole years over columns: the year difference (the end is Dec 31).
        col = ctx.table.date_column(self.path)
        whole = self.end.year - col.year.astype(np.int64)
        op: Op = self.op
        verdict = compare_const(whole, 0, op, self.bound)
        return Truth(col.known & verdict, col.known & ~verdict)

    def unknown_columns(self) -> list[Spec] | None:
        return [(self.path, "date")]

    reads_only = True

    def touch(self, facts: Facts) -> None:
        facts.at(self.path)  # (all ``explain`` reads)

    def explain(self, facts: Facts) -> RuleOutcome:
        day = facts.day_at(self.path)
        if not isinstance(day, date):
            return self.unknown
        end = self.end
        whole = Decimal(end.year - day.year - ((end.month, end.day) < (day.month, day.day)))
        verdict = compare(whole, self.op, self.bound)
        return self.settled(
            Tri.of(bool(verdict)),
            f"(实际 {whole} 年)",
            f" (actual {whole} years)",
            whole,
            self.bound,
            self.op,
        )


class DateWithin(Leaf, ColumnLeaf):
    """A date fact within years relative to the fiscal year."""

    __slots__ = ("earliest", "latest", "path")

    def __init__(self, node: DateWithinRule, clause: str, fy: int) -> None:
        path = year_path(node.date_within, fy)
        self.earliest = date(fy + node.from_year, 1, 1) if node.from_year is not None else None
        self.latest = date(fy + node.to_year, 12, 31) if node.to_year is not None else None
        window = window_text(self.earliest, self.latest)
        super().__init__(
            node,
            clause,
            Bilingual(f"{path} 在期间内{window.zh}", f"{path} within{window.en}"),
            [path],
        )
        self.path, self.own = path, (path,)
        self.key = ("date_within", path, self.earliest, self.latest)

    def column(self) -> RuleNode:
        return self

    def specs(self) -> Iterator[Spec]:
        yield (self.path, "date")

    def _truth(self, ctx: Context) -> Truth:
        col = ctx.table.date_column(self.path)
        inside = col.known.copy()
        if self.earliest is not None:
            inside &= col.days >= day_number(self.earliest)
        if self.latest is not None:
            inside &= col.days <= day_number(self.latest)
        return Truth(inside, col.known & ~inside)

    def unknown_columns(self) -> list[Spec] | None:
        return [(self.path, "date")]

    reads_only = True

    def touch(self, facts: Facts) -> None:
        facts.at(self.path)  # (all ``explain`` reads)

    def explain(self, facts: Facts) -> RuleOutcome:
        day = facts.day_at(self.path)
        if not isinstance(day, date):
            return self.unknown
        earliest, latest = self.earliest, self.latest
        inside = not ((earliest and day < earliest) or (latest and day > latest))
        return self.settled(Tri.of(inside), f"(实际 {day})", f" (actual {day})")


class DaysBeforeApplication(Leaf, ColumnLeaf):
    """At least ``min`` days from a date fact to the application (or all of fy+1)."""

    APPLIED = "application_date"

    __slots__ = ("need", "since", "undated", "year")

    def __init__(
        self, node: DaysBeforeApplicationRule, clause: str, params: Params, fy: int
    ) -> None:
        test = node.days_before_application
        need, since = constant(test.min, params), year_path(test.since, fy)
        fallback = Bilingual(
            f"申报时距 {since} 不少于 {show(need)} 天",
            f"at least {show(need)} days from {since} to the application",
        )
        super().__init__(node, clause, fallback, [since])
        self.since, self.need, self.year = since, need, fy + 1
        self.undated = self.asks(["application_date"])
        self.own = (since, self.APPLIED)
        # Whole days meet ``days >= need`` exactly when they reach its ceiling.
        self.whole_days = int(need.to_integral_value(rounding=ROUND_CEILING))
        self.key = ("days_before_application", since, self.whole_days, self.year)

    def column(self) -> RuleNode:
        return self

    def specs(self) -> Iterator[Spec]:
        yield (self.since, "date")
        yield (self.APPLIED, "date")

    def _truth(self, ctx: Context) -> Truth:
        # Without the application's date: on every (true) or no (false) day of the
        # year of application, else unknown.
        since = ctx.table.date_column(self.since)
        applied = ctx.table.date_column(self.APPLIED)
        start, need = since.days.astype(np.int64), self.whole_days
        dated = since.known & applied.known
        met = (applied.days.astype(np.int64) - start) >= need
        undated = since.known & ~applied.known
        always = (day_number(date(self.year, 1, 1)) - start) >= need
        never = (day_number(date(self.year, 12, 31)) - start) < need
        return Truth((dated & met) | (undated & always), (dated & ~met) | (undated & never))

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        # Unknown: the date counted from is missing, else only the application's.
        known = ctx.table.date_column(self.since).known[rows]
        bits = index.none(len(rows))
        bits |= np.multiply(~known, index.bit(self.since), dtype=index.dtype)
        bits |= np.multiply(known, index.bit(self.APPLIED), dtype=index.dtype)
        return bits

    def explain(self, facts: Facts) -> RuleOutcome:
        since = facts.day_at(self.since)
        if not isinstance(since, date):
            return self.unknown
        need, year = self.need, self.year
        applied = facts.day_at("application_date")
        if isinstance(applied, date):
            days = Decimal((applied - since).days)
            return self.settled(
                Tri.of(days >= need),
                f"(实际 {days} 天)",
                f" (actual {days} days)",
                days,
                need,
                "ge",
            )
        # Without the date the application falls somewhere in the year after the fiscal year.
        if Decimal((date(year, 1, 1) - since).days) >= need:
            return self.settled(
                Tri.TRUE, f"({year} 年任一申报日均满足)", f" (met on any application day of {year})"
            )
        latest = Decimal((date(year, 12, 31) - since).days)
        if latest < need:
            return self.settled(
                Tri.FALSE,
                f"({year} 年内申报均不满足)",
                f" (not met on any application day of {year})",
                latest,
                need,
                "ge",
            )
        return self.undated
