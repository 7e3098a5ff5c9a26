"""The leaf clauses of a rule tree (``app.domain.leaves``), vectorised."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np

from app.domain.batch.columns import FALSE_CODE, TRUE_CODE, Spec, day_number
from app.domain.batch.compare import compare, compare_const
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth
from app.domain.batch.exprs import Const, ExprNode, Fact
from app.domain.batch.nodes import RuleNode, absent_bits
from app.domain.batch.numbers import Op, both, either
from app.domain.money import as_decimal

#: The prefix that marks a finding among a policy's missing-fact paths: an unknown
#: finding is named with them, then listed apart as a finding a reviewer must record.
FINDING = "finding:"


class Leaf(RuleNode):
    """A clause; when unknown its missing facts are its paths (``own``) it lacks."""

    own: tuple[str, ...] = ()
    columns_when_not_false = True
    columns_when_not_true = True

    def paths(self) -> Iterator[str]:
        yield from self.own

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        columns = self.unknown_columns()
        if columns is not None:
            return absent_bits(ctx, columns, rows, index)
        bits = index.none(len(rows))
        for path in self.own:
            bits |= index.bit(path)
        return bits


class Unknowable(Leaf):
    """A clause that no value settles (a catalog value of the wrong type): unknown."""

    def __init__(self, path: str, view: str) -> None:
        self.own, self.view = (path,), view
        self.key = ("unknowable", path)

    def specs(self) -> Iterator[Spec]:
        yield from ()

    def _truth(self, ctx: Context) -> Truth:
        none = np.zeros(ctx.n, dtype=bool)
        return Truth(none, none)


class Equals(Leaf):
    """``fact eq|ne|in|not_in value`` with ``app.domain.leaves.equal``'s notion of equal."""

    def __init__(self, path: str, op: str, expected: list[Any]) -> None:
        self.own, self.path, self.negate = (path,), path, op in ("ne", "not_in")
        self.bools = {v for v in expected if isinstance(v, bool)}
        others = [v for v in expected if not isinstance(v, bool)]
        self.numbers = [d for v in others if (d := as_decimal(v)) is not None]
        self.words = sorted({str(v) for v in others if as_decimal(v) is None})
        self.key = ("eq", path, self.negate, tuple(sorted(self.bools)))
        self.key += (tuple(self.words), tuple(sorted(str(d) for d in self.numbers)))

    def specs(self) -> Iterator[Spec]:
        yield (self.path, "cat")
        if self.numbers:
            yield (self.path, "num")

    def _truth(self, ctx: Context) -> Truth:
        cat = ctx.table.cat_column(self.path)
        codes = cat.codes
        hit = np.zeros(ctx.n, dtype=bool)
        for word in self.words:
            if (code := cat.code(word)) is not None:
                hit |= codes == code
        for flag in self.bools:
            hit |= codes == (TRUE_CODE if flag else FALSE_CODE)
        unsure = None
        if self.numbers:
            num = ctx.table.num_column(self.path)
            unsure = num.inexact
            for number in self.numbers:
                hit |= num.known & compare_const(num.value, num.scale, "eq", number)
        if self.negate:
            hit = ~hit
        present = cat.known
        return Truth(present & hit, present & ~hit, unsure)

    def unknown_columns(self) -> list[Spec] | None:
        return [(self.path, "cat")]


class Compare(Leaf):
    """``fact op number`` or ``expr op expr``: exact, see ``numbers.compare``."""

    def __init__(self, left: ExprNode, op: Op, right: ExprNode) -> None:
        self.left, self.op, self.right = left, op, right
        self.key = ("compare", left.key, op, right.key)
        # Undefined (a ratio over zero) is false whatever else is unknown.
        self.columns_when_not_true = not (left.may_be_undefined or right.may_be_undefined)
        self.cost = 1 if {type(left), type(right)} <= {Fact, Const} else 6

    def specs(self) -> Iterator[Spec]:
        yield from self.left.leaves
        yield from self.right.leaves

    def paths(self) -> Iterator[str]:
        yield from (path for path, _ in self.specs())

    def _truth(self, ctx: Context) -> Truth:
        left, right = self.left.eval(ctx), self.right.eval(ctx)
        verdict, unsure = compare(left, right, self.op)
        known = ctx.full(True if (k := both(left.known, right.known)) is None else k)
        verdict = ctx.full(verdict)
        t = known & verdict
        f = known & ~verdict
        undef = either(left.undef, right.undef)
        if undef is not None:
            f |= undef
        return Truth(t, f, either(either(unsure, left.unsure), right.unsure))

    def unknown_columns(self) -> list[Spec] | None:
        return list(self.specs())


class Recognition(Leaf):
    """Holds a recognition of a kind and level, granted in a window, still valid.

    Held but undated, while the clause has a window, is unknown too: its verdict, not
    the column, says when ``recognitions`` is missing.
    """

    columns_when_not_false = False
    columns_when_not_true = False

    def __init__(
        self,
        kind: str,
        levels: list[str] | None,
        window: tuple[date | None, date | None],
        valid_from: date | None,
    ) -> None:
        self.own, self.kind, self.levels = ("recognitions",), kind, levels
        self.earliest = None if window[0] is None else day_number(window[0])
        self.latest = None if window[1] is None else day_number(window[1])
        self.valid_from = None if valid_from is None else day_number(valid_from)
        self.key = ("recognition", kind, tuple(levels or ()), window, valid_from)

    def specs(self) -> Iterator[Spec]:
        yield ("recognitions", "rec")

    def _truth(self, ctx: Context) -> Truth:
        rec = ctx.table.recognition_column()
        items = rec.of_kind(self.kind)
        held = np.ones(items.stop - items.start, dtype=bool)
        if self.levels:
            codes = [rec.levels.index(lv) for lv in self.levels if lv in rec.levels]
            held &= np.isin(rec.level[items], codes)
        undated = np.zeros_like(held)
        if self.earliest is not None or self.latest is not None:
            granted = rec.granted[items]
            undated = held & (granted == np.iinfo(np.int32).min)
            held &= ~undated
            if self.earliest is not None:
                held &= granted >= self.earliest
            if self.latest is not None:
                held &= granted <= self.latest
        if self.valid_from is not None:
            expires = rec.expires[items]
            held &= (expires == np.iinfo(np.int32).min) | (expires >= self.valid_from)
        owners = rec.row[items]
        t = np.zeros(ctx.n, dtype=bool)
        t[owners[held]] = True
        maybe = np.zeros(ctx.n, dtype=bool)
        maybe[owners[undated]] = True
        t &= rec.known
        f = rec.known & ~t & ~maybe
        return Truth(t, f)


class FirstTimeAbove(Leaf):
    """Above the threshold this year and in no earlier year (lookback years known)."""

    columns_when_not_true = False
    cost = 3

    def __init__(self, fact: str, threshold: Decimal, lookback: int, fiscal_year: int) -> None:
        fy = fiscal_year
        self.fact, self.threshold, self.fy, self.lookback = fact, threshold, fy, lookback
        self.current = f"years.{fy}.{fact}"
        self.window = [f"years.{y}.{fact}" for y in range(fy - lookback, fy)]
        self.own = (self.current, *self.window)
        self.key = ("first_time_above", fact, str(threshold), lookback, fy)

    def specs(self) -> Iterator[Spec]:
        yield from ((p, "num") for p in self.own)
        yield (f"years.*.{self.fact}", "num")

    def _truth(self, ctx: Context) -> Truth:
        table, c = ctx.table, self.threshold
        current = table.num_column(self.current)
        false = current.known & compare_const(current.value, current.scale, "le", c)
        unsure = current.inexact
        years = sorted(set(table.year_keys) | set(range(self.fy - self.lookback, self.fy)))
        for year in (y for y in years if y < self.fy):
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


class YearsSince(Leaf):
    """Whole years from a date to Dec 31 of the fiscal year (its year difference)."""

    def __init__(self, path: str, op: Op, bound: Decimal, fiscal_year: int) -> None:
        self.own, self.path, self.op, self.bound, self.fy = (path,), path, op, bound, fiscal_year
        self.key = ("years_since", path, op, str(bound), fiscal_year)

    def specs(self) -> Iterator[Spec]:
        yield (self.path, "date")

    def _truth(self, ctx: Context) -> Truth:
        col = ctx.table.date_column(self.path)
        whole = self.fy - col.year.astype(np.int64)
        verdict = compare_const(whole, 0, self.op, self.bound)
        return Truth(col.known & verdict, col.known & ~verdict)

    def unknown_columns(self) -> list[Spec] | None:
        return [(self.path, "date")]


class DateWithin(Leaf):
    def __init__(self, path: str, earliest: date | None, latest: date | None) -> None:
        self.own, self.path = (path,), path
        self.earliest = None if earliest is None else day_number(earliest)
        self.latest = None if latest is None else day_number(latest)
        self.key = ("date_within", path, earliest, latest)

    def specs(self) -> Iterator[Spec]:
        yield (self.path, "date")

    def _truth(self, ctx: Context) -> Truth:
        col = ctx.table.date_column(self.path)
        inside = col.known.copy()
        if self.earliest is not None:
            inside &= col.days >= self.earliest
        if self.latest is not None:
            inside &= col.days <= self.latest
        return Truth(inside, col.known & ~inside)

    def unknown_columns(self) -> list[Spec] | None:
        return [(self.path, "date")]


class DaysBeforeApplication(Leaf):
    """At least ``need`` days from a date fact to ``application_date``; without that date,
    on every (true) or no (false) day of the year of application, else unknown."""

    APPLIED = "application_date"

    def __init__(self, since: str, need: Decimal, year: int) -> None:
        self.own, self.since = (since, self.APPLIED), since
        # Whole days meet ``days >= need`` exactly when they reach its ceiling.
        self.need = int(need.to_integral_value(rounding=ROUND_CEILING))
        self.first, self.last = day_number(date(year, 1, 1)), day_number(date(year, 12, 31))
        self.key = ("days_before_application", since, self.need, year)

    def specs(self) -> Iterator[Spec]:
        yield (self.since, "date")
        yield (self.APPLIED, "date")

    def _truth(self, ctx: Context) -> Truth:
        since = ctx.table.date_column(self.since)
        applied = ctx.table.date_column(self.APPLIED)
        start = since.days.astype(np.int64)
        dated = since.known & applied.known
        met = (applied.days.astype(np.int64) - start) >= self.need
        undated = since.known & ~applied.known
        always = (self.first - start) >= self.need
        never = (self.last - start) < self.need
        return Truth((dated & met) | (undated & always), (dated & ~met) | (undated & never))

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        # Unknown: the date counted from is missing, else only the application's.
        known = ctx.table.date_column(self.since).known[rows]
        bits = index.none(len(rows))
        bits |= np.multiply(~known, index.bit(self.since), dtype=index.dtype)
        bits |= np.multiply(known, index.bit(self.APPLIED), dtype=index.dtype)
        return bits
