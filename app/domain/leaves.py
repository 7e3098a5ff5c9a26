"""The leaf clauses of a rule tree, compiled: what they test, resolved once.

Each leaf keeps its label (the catalog's words, or the text built from its path and
bound) and, where a missing fact settles nothing, its whole unknown outcome; for a
profile it reads its facts and adds only the detail that depends on them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from app.catalog.schema import (
    CompareRule,
    DateWithinRule,
    DaysBeforeApplicationRule,
    FactRule,
    FindingRule,
    FirstTimeAboveRule,
    RecognitionRule,
    Rule,
    YearsSinceRule,
)
from app.domain.expressions import Params, Value, _Ratio, compile_expr, constant
from app.domain.facts import MISSING, Facts, as_day, year_path
from app.domain.money import as_decimal
from app.domain.results import Bilingual, ClauseResult, Tri
from app.domain.rules import Kept, RuleOutcome, RulePlan, label_of
from app.domain.text import LEVEL_ZH, OP_SYMBOL, show, unknown_detail

_NUMERIC = re.compile(r"^\s*[-+]?(\d|\.\d)")
_ORDER: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
#: Outcomes a clause remembers by the word read (a vocabulary is small; free text is not).
_SEEN_MAX = 64


def compare(actual: Any, op: str, expected: Any) -> bool | None:
    """Compare a fact with a catalog value; ``None`` when they cannot be compared."""
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            return None
        inside = any(equal(actual, e) for e in expected)
        return inside if op == "in" else not inside
    if op in ("eq", "ne"):
        same = equal(actual, expected)
        return same if op == "eq" else not same
    left, right = as_decimal(actual), as_decimal(expected)
    if left is None or right is None:
        return None
    return _ORDER[op](left, right)


def equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, str) and isinstance(expected, str) and not _NUMERIC.match(actual):
        # Vocabulary words: the common case, and parsing them as numbers is slow.
        return actual == expected
    left, right = as_decimal(actual), as_decimal(expected)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(expected)


def resolve(value: Any, params: Params) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return constant(value, params)
    if isinstance(value, list):
        return [resolve(v, params) for v in value]
    return value


def window_text(earliest: date | None, latest: date | None) -> Bilingual:
    if not (earliest or latest):
        return Bilingual("", "")
    return Bilingual(
        f",认定期间 {show(earliest) if earliest else '…'} 至 {show(latest) if latest else '…'}",
        f" granted {show(earliest) if earliest else '…'} to {show(latest) if latest else '…'}",
    )


class _Leaf(RulePlan):
    __slots__ = ("label", "unknown")

    def __init__(self, node: Rule, clause: str, fallback: Bilingual, paths: list[str]) -> None:
        self.clause, self.label = clause, label_of(node, fallback)
        #: The outcome when one of ``paths`` is missing (or no value settles the clause).
        self.unknown: RuleOutcome = Kept(*self.asks(paths))

    def asks(self, missing: list[str]) -> RuleOutcome:
        paths = tuple(missing)
        text = self.label + unknown_detail(missing)
        return RuleOutcome(
            Tri.UNKNOWN, (ClauseResult(self.clause, Tri.UNKNOWN, text, paths),), paths
        )

    def settled(
        self,
        truth: Tri,
        zh: str,
        en: str,
        actual: Decimal | None = None,
        required: Decimal | None = None,
        op: str | None = None,
    ) -> RuleOutcome:
        text = Bilingual(self.label.zh + zh, self.label.en + en)
        return RuleOutcome(
            truth, (ClauseResult(self.clause, truth, text, (), actual, required, op),), ()
        )


class _Fact(_Leaf):
    """``fact op value``."""

    __slots__ = ("bound", "expected", "never", "op", "path", "seen", "words")

    def __init__(self, node: FactRule, clause: str, params: Params, fy: int) -> None:
        path, expected = year_path(node.fact, fy), resolve(node.value, params)
        symbol = OP_SYMBOL[node.op]
        fallback = Bilingual(
            f"{path} {symbol} {show(expected)}", f"{path} {symbol} {show(expected)}"
        )
        super().__init__(node, clause, fallback if node.text is None else Bilingual("", ""), [path])
        self.path, self.op, self.expected = path, node.op, expected
        self.bound = as_decimal(expected)
        listed = expected if isinstance(expected, list) else [expected]
        # Words only: membership is a set lookup for a word (``equal``'s common case).
        words = all(isinstance(e, str) for e in listed)
        self.words = (
            frozenset(listed) if words and node.op in ("eq", "ne", "in", "not_in") else None
        )
        self.never = node.op in ("in", "not_in") and not isinstance(expected, list)
        #: Outcomes by the word (or yes/no) the profile gives: they depend on nothing else.
        self.seen: dict[str | bool, RuleOutcome] = {}

    def explain(self, facts: Facts) -> RuleOutcome:
        actual = facts.at(self.path)
        if actual is MISSING or self.never:
            return self.unknown
        if type(actual) is str or type(actual) is bool:
            # Vocabulary (a city, an industry, a yes/no): few values, each answered once.
            seen = self.seen.get(actual)
            if seen is None:
                seen = self._explain(actual, as_decimal(actual))
                if len(self.seen) < _SEEN_MAX:
                    seen = self.seen[actual] = Kept(*seen)
            return seen
        number = facts.number_at(self.path)
        return self._explain(actual, None if number is MISSING else number)  # type: ignore[arg-type]

    def _explain(self, actual: Any, number: Decimal | None) -> RuleOutcome:
        op, bound = self.op, self.bound
        verdict: bool | None
        if op in _ORDER:
            verdict = None if number is None or bound is None else _ORDER[op](number, bound)
        elif self.words is not None and type(actual) is str and not _NUMERIC.match(actual):
            verdict = (actual in self.words) is (op in ("eq", "in"))
        else:
            verdict = compare(actual, op, self.expected)
        if verdict is None:
            # A value of the wrong type for this clause settles nothing: ask for it again.
            return self.unknown
        shown = show(actual)
        text = Bilingual(f"{self.label.zh}(实际:{shown})", f"{self.label.en} (actual: {shown})")
        if not verdict and number is not None and bound is not None and op in _ORDER:
            result = ClauseResult(
                self.clause, Tri.FALSE, text, (), number, bound, op, bound - number, self.path
            )
        else:
            result = ClauseResult(self.clause, Tri.of(verdict), text, (), number, bound, op)
        return RuleOutcome(result.truth, (result,), ())


class _Compare(_Leaf):
    """``expr op value`` over expressions."""

    __slots__ = ("left", "op", "right", "symbol")

    def __init__(self, node: CompareRule, clause: str, params: Params, fy: int) -> None:
        self.left, self.right = (
            compile_expr(node.expr, params, fy),
            compile_expr(node.value, params, fy),
        )
        self.op, self.symbol = node.op, OP_SYMBOL[node.op]
        said = f"{self.left.label} {self.symbol} {self.right.label}"
        super().__init__(node, clause, Bilingual(said, said), [])

    def explain(self, facts: Facts) -> RuleOutcome:
        left, right = self.left.value(facts), self.right.value(facts)
        outcome = self._values(left, right)
        if outcome.truth is not Tri.FALSE or right.number is None or left.number is None:
            return outcome
        if isinstance(self.left, _Ratio):
            # A share falls short: say how much more of the numerator would meet it.
            num, den = self.left.num.value(facts), self.left.den.value(facts)
            if num.number is None or den.number is None:
                return outcome
            distance, of = right.number * den.number - num.number, num.label
        else:
            distance, of = right.number - left.number, left.label
        first = outcome.clauses[0]
        result = ClauseResult(
            first.clause, first.truth, first.text, first.missing, first.actual,
            first.required, first.op, distance, of,
        )  # fmt: skip
        return RuleOutcome(outcome.truth, (result,), outcome.missing)

    def _values(self, left: Value, right: Value) -> RuleOutcome:
        undefined = left.undefined or right.undefined
        if undefined:
            return self.settled(
                Tri.FALSE, f"(无法计算:{undefined})", f" (cannot be computed: {undefined})"
            )
        if left.number is None or right.number is None:
            return self.asks(list(dict.fromkeys([*left.missing, *right.missing])))
        verdict = compare(left.number, self.op, right.number)
        shown, bound, s = show(left.number), show(right.number), self.symbol
        return self.settled(
            Tri.of(bool(verdict)),
            f"(实际 {shown},要求 {s} {bound})",
            f" (actual {shown}, required {s} {bound})",
            left.number,
            right.number,
            self.op,
        )


class _Recognition(_Leaf):
    """Holds a recognition of a kind (and level), granted within a window."""

    __slots__ = ("absent", "earliest", "kind", "latest", "levels", "valid_from")

    def __init__(self, node: RecognitionRule, clause: str, fy: int) -> None:
        test = node.recognition
        levels = "/".join(test.levels) if test.levels else "any level"
        levels_zh = "/".join(LEVEL_ZH.get(lv, lv) for lv in test.levels) if test.levels else ""
        fallback = Bilingual(
            f"持有{levels_zh}{test.kind}认定", f"holds a {levels} {test.kind} recognition"
        )
        super().__init__(node, clause, fallback, ["recognitions"])
        self.kind, self.levels = test.kind, test.levels
        self.earliest = (
            date(fy + test.granted_from, 1, 1) if test.granted_from is not None else None
        )
        self.latest = date(fy + test.granted_to, 12, 31) if test.granted_to is not None else None
        self.valid_from = date(fy, 1, 1) if test.valid_in_year else None
        window = window_text(self.earliest, self.latest)
        self.absent = Kept(
            *self.settled(Tri.FALSE, f"(未持有{window.zh})", f" (not held{window.en})")
        )

    def explain(self, facts: Facts) -> RuleOutcome:
        held = facts.recognitions()
        if held is MISSING:
            return self.unknown
        assert isinstance(held, list)
        earliest, latest, valid_from = self.earliest, self.latest, self.valid_from
        undated = False
        for item in held:
            if item.get("kind") != self.kind or (
                self.levels and item.get("level") not in self.levels
            ):
                continue
            granted = as_day(item.get("granted_on"))
            expires = as_day(item.get("expires_on"))
            if (earliest or latest) and granted is None:
                undated = True
                continue
            if granted and ((earliest and granted < earliest) or (latest and granted > latest)):
                continue
            if valid_from is not None and expires is not None and expires < valid_from:
                continue
            shown = show(granted)
            return self.settled(Tri.TRUE, f"(认定日期:{shown})", f" (granted {shown})")
        # Held but undated: the window cannot be checked without the grant date.
        return self.unknown if undated else self.absent


class _FirstTimeAbove(_Leaf):
    """A yearly fact above a threshold this year and in no earlier year."""

    __slots__ = ("current", "fact", "lookback", "threshold", "year")

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


class _YearsSince(_Leaf):
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


class _DateWithin(_Leaf):
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
        self.path = path

    def explain(self, facts: Facts) -> RuleOutcome:
        day = facts.day_at(self.path)
        if not isinstance(day, date):
            return self.unknown
        earliest, latest = self.earliest, self.latest
        inside = not ((earliest and day < earliest) or (latest and day > latest))
        return self.settled(Tri.of(inside), f"(实际 {day})", f" (actual {day})")


class _Finding(_Leaf):
    """A criterion a reviewer settles; unknown until a finding is recorded."""

    __slots__ = ("key",)

    def __init__(self, node: FindingRule, clause: str) -> None:
        fallback = Bilingual(
            f"主管部门认定:{node.finding}", f"an official's finding: {node.finding}"
        )
        super().__init__(node, clause, fallback, [])
        self.key = node.finding
        awaits = self.settled(Tri.UNKNOWN, "(待主管部门认定)", " (awaits an official's finding)")
        self.unknown = Kept(*awaits._replace(findings=(node.finding,)))

    def explain(self, facts: Facts) -> RuleOutcome:
        found = facts.finding(self.key)
        if found is None:
            return self.unknown
        verdict = Bilingual("符合", "met") if found.met else Bilingual("不符合", "not met")
        return self.settled(
            Tri.of(found.met),
            f"({found.reviewer} 于 {found.recorded_on} 认定:{verdict.zh})",
            f" ({verdict.en}: found by {found.reviewer} on {found.recorded_on})",
        )


class _DaysBeforeApplication(_Leaf):
    """At least ``min`` days from a date fact to the application (or all of fy+1)."""

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
        self.undated = Kept(*self.asks(["application_date"]))

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


def compile_leaf(rule: Rule, params: Params, fy: int, clause: str) -> RulePlan:
    if isinstance(rule, FactRule):
        return _Fact(rule, clause, params, fy)
    if isinstance(rule, CompareRule):
        return _Compare(rule, clause, params, fy)
    if isinstance(rule, RecognitionRule):
        return _Recognition(rule, clause, fy)
    if isinstance(rule, FirstTimeAboveRule):
        return _FirstTimeAbove(rule, clause, params, fy)
    if isinstance(rule, YearsSinceRule):
        return _YearsSince(rule, clause, params, fy)
    if isinstance(rule, DateWithinRule):
        return _DateWithin(rule, clause, fy)
    if isinstance(rule, FindingRule):
        return _Finding(rule, clause)
    if isinstance(rule, DaysBeforeApplicationRule):
        return _DaysBeforeApplication(rule, clause, params, fy)
    raise TypeError(f"unknown rule {rule!r}")
