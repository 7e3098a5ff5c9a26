"""The leaf clauses that read dates, recognitions, yearly series and findings, compiled
(see ``app.domain.leaves`` for the others and what compiling a leaf means)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from app.catalog.schema import (
    DateWithinRule,
    DaysBeforeApplicationRule,
    FindingRule,
    FirstTimeAboveRule,
    RecognitionRule,
    YearsSinceRule,
)
from app.domain.expressions import Params, constant
from app.domain.facts import MISSING, Facts, as_day, year_path
from app.domain.leaves import Leaf, compare, window_text
from app.domain.results import Bilingual, Tri
from app.domain.rules import Kept, RuleOutcome
from app.domain.text import LEVEL_ZH, OP_SYMBOL, show

if TYPE_CHECKING:
    from app.domain.batch.nodes import RuleNode


class Recognition(Leaf):
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

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import Recognition as Held

        return Held(self.kind, self.levels, (self.earliest, self.latest), self.valid_from)

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


class FirstTimeAbove(Leaf):
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

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import FirstTimeAbove as Above

        return Above(self.fact, self.threshold, self.lookback, self.year)

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


class YearsSince(Leaf):
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

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import YearsSince as Since

        return Since(self.path, self.op, self.bound, self.end.year)

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


class DateWithin(Leaf):
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

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import DateWithin as Within

        return Within(self.path, self.earliest, self.latest)

    def explain(self, facts: Facts) -> RuleOutcome:
        day = facts.day_at(self.path)
        if not isinstance(day, date):
            return self.unknown
        earliest, latest = self.earliest, self.latest
        inside = not ((earliest and day < earliest) or (latest and day > latest))
        return self.settled(Tri.of(inside), f"(实际 {day})", f" (actual {day})")


class Finding(Leaf):
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

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import FINDING, Unknowable

        # Rows with recorded findings are answered whole by the per-profile engine; on
        # the others a finding is unknown and names its key.
        return Unknowable(FINDING + self.key, "cat")

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


class DaysBeforeApplication(Leaf):
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

    def column(self) -> RuleNode:
        from app.domain.batch.leaves import DaysBeforeApplication as Days

        return Days(self.since, self.need, self.year)

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
