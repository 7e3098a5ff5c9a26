"""Eligibility rule trees compiled to vectorised three-valued verdicts.

One node per ``app.domain.rules`` handler, with its semantics: ``all`` is false as soon
as one clause is false, ``any`` true as soon as one is true, unknown otherwise when a
clause is unknown. A node's missing facts are what the per-profile engine lists: a
leaf's own paths when it is unknown; for a composite, the union over its unknown
children, only where it is unknown itself. They are computed on demand, for the rows
asked about (the undetermined ones), as bitmasks over the policy's paths.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from app.catalog.schema import (
    AllRule,
    AnyRule,
    CompareRule,
    DateWithinRule,
    FactRule,
    FirstTimeAboveRule,
    NotRule,
    RecognitionRule,
    Rule,
    YearsSinceRule,
)
from app.domain.batch.columns import FALSE_CODE, TRUE_CODE, Spec, day_number
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth, no_bits
from app.domain.batch.exprs import Const, ExprNode, Fact, compile_expr, leaf_bits
from app.domain.batch.numbers import Op, Unsupported, both, compare, compare_const, either
from app.domain.expressions import Params, constant
from app.domain.facts import year_path
from app.domain.money import as_decimal


class RuleNode:
    key: Hashable
    children: tuple[RuleNode, ...] = ()

    def truth(self, ctx: Context) -> Truth:
        result: Truth = ctx.cached(("rule", self.key), lambda: self._truth(ctx))
        return result

    def _truth(self, ctx: Context) -> Truth:
        raise NotImplementedError

    def specs(self) -> Iterator[Spec]:
        """The columns this node reads."""
        for child in self.children:
            yield from child.specs()

    def paths(self) -> Iterator[str]:
        """Every path this node can name as missing."""
        for child in self.children:
            yield from child.paths()

    def missing(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        """Missing-fact bits of ``rows``; zero where this node is not unknown there."""
        truth = self.truth(ctx)
        unknown = ~(truth.t[rows] | truth.f[rows])
        out = no_bits(len(rows))
        if unknown.any():
            out[unknown] = self._bits(ctx, rows[unknown], index)
        return out

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        """Bits of rows where this node is unknown."""
        bits = no_bits(len(rows))
        for child in self.children:
            bits |= child.missing(ctx, rows, index)
        return bits


class All(RuleNode):
    def __init__(self, children: list[RuleNode]) -> None:
        self.children = tuple(children)
        self.key = ("all", *(c.key for c in children))

    def _truth(self, ctx: Context) -> Truth:
        parts = [c.truth(ctx) for c in self.children]
        t, f, unsure = parts[0].t, parts[0].f, parts[0].unsure
        for p in parts[1:]:
            t, f, unsure = t & p.t, f | p.f, either(unsure, p.unsure)
        return Truth(t, f, unsure)


class Any_(RuleNode):
    def __init__(self, children: list[RuleNode]) -> None:
        self.children = tuple(children)
        self.key = ("any", *(c.key for c in children))

    def _truth(self, ctx: Context) -> Truth:
        parts = [c.truth(ctx) for c in self.children]
        t, f, unsure = parts[0].t, parts[0].f, parts[0].unsure
        for p in parts[1:]:
            t, f, unsure = t | p.t, f & p.f, either(unsure, p.unsure)
        return Truth(t, f, unsure)


class Not(RuleNode):
    def __init__(self, child: RuleNode) -> None:
        self.children = (child,)
        self.key = ("not", child.key)

    def _truth(self, ctx: Context) -> Truth:
        inner = self.children[0].truth(ctx)
        return Truth(inner.f, inner.t, inner.unsure)


class Leaf(RuleNode):
    """A clause whose missing facts, when unknown, are fixed paths."""

    own: tuple[str, ...] = ()

    def paths(self) -> Iterator[str]:
        yield from self.own

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        bits = no_bits(len(rows))
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
    """``fact eq|ne|in|not_in value`` with ``rules._equal``'s notion of equal."""

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


class Compare(Leaf):
    """``fact op number`` or ``expr op expr``: exact, see ``numbers.compare``."""

    def __init__(self, left: ExprNode, op: Op, right: ExprNode) -> None:
        self.left, self.op, self.right = left, op, right
        self.key = ("compare", left.key, op, right.key)

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

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        return leaf_bits(ctx, list(self.specs()), rows, index)


class Recognition(Leaf):
    """Holds a recognition of a kind and level, granted in a window, still valid."""

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
            column = table.num.get(f"years.{year}.{self.fact}")
            if column is not None:
                false = false | (column.known & compare_const(column.value, column.scale, "gt", c))
                unsure = either(unsure, column.inexact)
        settled = current.known.copy()
        for path in self.window:
            settled &= table.num_column(path).known
        return Truth(~false & settled, false, unsure)

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        return leaf_bits(ctx, [(p, "num") for p in self.own], rows, index)


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


def _resolve(value: Any, params: Params) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return constant(value, params)
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _year_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise Unsupported(f"a window outside the calendar: {exc}") from exc


def compile_rule(rule: Rule, params: Params, fiscal_year: int) -> RuleNode:
    """The vectorised node for a rule tree, for one version's parameters and year."""
    fy = fiscal_year
    if isinstance(rule, AllRule):
        return All([compile_rule(r, params, fy) for r in rule.all])
    if isinstance(rule, AnyRule):
        return Any_([compile_rule(r, params, fy) for r in rule.any])
    if isinstance(rule, NotRule):
        return Not(compile_rule(rule.not_, params, fy))
    if isinstance(rule, FactRule):
        path, expected = year_path(rule.fact, fy), _resolve(rule.value, params)
        if rule.op in ("in", "not_in"):
            if not isinstance(expected, list):
                return Unknowable(path, "cat")
            return Equals(path, rule.op, expected)
        if rule.op in ("eq", "ne"):
            return Equals(path, rule.op, [expected])
        bound = as_decimal(expected)
        if bound is None:
            return Unknowable(path, "num")
        return Compare(Fact(path), rule.op, Const(bound))
    if isinstance(rule, CompareRule):
        left, right = (compile_expr(e, params, fy) for e in (rule.expr, rule.value))
        return Compare(left, rule.op, right)
    if isinstance(rule, RecognitionRule):
        test = rule.recognition
        earliest = None if test.granted_from is None else _year_date(fy + test.granted_from, 1, 1)
        latest = None if test.granted_to is None else _year_date(fy + test.granted_to, 12, 31)
        valid = _year_date(fy, 1, 1) if test.valid_in_year else None
        return Recognition(test.kind, test.levels, (earliest, latest), valid)
    if isinstance(rule, FirstTimeAboveRule):
        spec = rule.first_time_above
        threshold = constant(spec.threshold, params)
        return FirstTimeAbove(spec.fact, threshold, spec.lookback, fy)
    if isinstance(rule, YearsSinceRule):
        bound = constant(rule.value, params)
        return YearsSince(year_path(rule.years_since, fy), rule.op, bound, fy)
    if isinstance(rule, DateWithinRule):
        earliest = None if rule.from_year is None else _year_date(fy + rule.from_year, 1, 1)
        latest = None if rule.to_year is None else _year_date(fy + rule.to_year, 12, 31)
        return DateWithin(year_path(rule.date_within, fy), earliest, latest)
    raise Unsupported(f"rule {type(rule).__name__}")
