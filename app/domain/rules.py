"""Three-valued evaluation of a policy's eligibility rule tree.

Each clause is true, false or unknown. ``all`` is false as soon as one clause is
definitely false, even while others are unknown (a missing fact cannot rescue an
enterprise that fails another clause); ``any`` is true as soon as one clause is true.
Unknown clauses carry the profile paths that would settle them. Every clause yields a
bilingual reason; labelled composite clauses (a criterion made of alternatives) yield
one too, so a gap analysis can list criteria rather than leaves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from app.catalog.schema import (
    AllRule,
    AnyRule,
    CompareRule,
    DateWithinRule,
    DaysBeforeApplicationRule,
    FactRule,
    FindingRule,
    FirstTimeAboveRule,
    Labelled,
    NotRule,
    RatioExpr,
    RecognitionRule,
    Rule,
    YearsSinceRule,
)
from app.domain.expressions import Params, Value, constant, evaluate_expr
from app.domain.facts import MISSING, Facts, as_day
from app.domain.money import as_decimal
from app.domain.results import Bilingual, ClauseResult, Tri
from app.domain.text import LEVEL_ZH, OP_SYMBOL, show, unknown_detail

_NUMERIC = re.compile(r"^\s*[-+]?(\d|\.\d)")
_NO_TEXT = Bilingual("", "")


@dataclass(frozen=True)
class RuleOutcome:
    truth: Tri
    clauses: tuple[ClauseResult, ...]
    missing: tuple[str, ...]
    #: Keys of the findings a reviewer has yet to record (unknown outcomes only).
    findings: tuple[str, ...] = ()


def evaluate_rule(
    rule: Rule, facts: Facts, params: Params, clause_id: str = "eligibility"
) -> RuleOutcome:
    handler = _HANDLERS[type(rule)]
    return handler(rule, facts, params, rule.id or clause_id)


def _label(node: Labelled, fallback: Bilingual) -> Bilingual:
    if node.text is None:
        return fallback
    return Bilingual(node.text.zh, node.text.en)


def _leaf(
    node: Labelled,
    clause: str,
    truth: Tri,
    fallback: Bilingual,
    detail: Bilingual,
    missing: Sequence[str] = (),
    actual: Decimal | None = None,
    required: Decimal | None = None,
    op: str | None = None,
) -> RuleOutcome:
    missing = tuple(missing) if truth is Tri.UNKNOWN else ()
    text = _label(node, fallback) + detail
    result = ClauseResult(clause, truth, text, missing, actual, required, op)
    return RuleOutcome(truth, (result,), missing)


def _composite(
    node: AllRule | AnyRule | NotRule,
    clause: str,
    truth: Tri,
    children: list[RuleOutcome],
    keep: list[RuleOutcome],
) -> RuleOutcome:
    missing: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    if truth is Tri.UNKNOWN:
        unknown = [c for c in children if c.truth is Tri.UNKNOWN]
        missing = tuple(dict.fromkeys(p for c in unknown for p in c.missing))
        findings = tuple(dict.fromkeys(k for c in unknown for k in c.findings))
    clauses = [r for c in keep for r in c.clauses]
    if node.text is not None:
        clauses.append(ClauseResult(clause, truth, _label(node, Bilingual("", "")), missing))
    return RuleOutcome(truth, tuple(clauses), missing, findings)


def _settle(children: list[RuleOutcome], decisive: Tri, otherwise: Tri) -> Tri:
    """``decisive`` if any child is (false for all, true for any), else unknown if any
    child is unknown, else ``otherwise``."""
    unknown = False
    for child in children:
        if child.truth is decisive:
            return decisive
        unknown = unknown or child.truth is Tri.UNKNOWN
    return Tri.UNKNOWN if unknown else otherwise


def _all(node: AllRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    children = [evaluate_rule(r, facts, params, f"{clause}.{i}") for i, r in enumerate(node.all)]
    truth = _settle(children, Tri.FALSE, Tri.TRUE)
    return _composite(node, clause, truth, children, children)


def _any(node: AnyRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    children = [evaluate_rule(r, facts, params, f"{clause}.{i}") for i, r in enumerate(node.any)]
    truth = _settle(children, Tri.TRUE, Tri.FALSE)
    # An alternative that holds is the reason; the ones that do not are noise then.
    keep = [c for c in children if c.truth is Tri.TRUE] if truth is Tri.TRUE else children
    return _composite(node, clause, truth, children, keep)


def _not(node: NotRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    inner = evaluate_rule(node.not_, facts, params, f"{clause}.0")
    truth = {Tri.TRUE: Tri.FALSE, Tri.FALSE: Tri.TRUE, Tri.UNKNOWN: Tri.UNKNOWN}[inner.truth]
    return _composite(node, clause, truth, [inner], [inner])


def _compare(actual: Any, op: str, expected: Any) -> bool | None:
    """Compare a fact with a catalog value; ``None`` when they cannot be compared."""
    if op in ("in", "not_in"):
        if not isinstance(expected, list):
            return None
        inside = any(_equal(actual, e) for e in expected)
        return inside if op == "in" else not inside
    if op in ("eq", "ne"):
        equal = _equal(actual, expected)
        return equal if op == "eq" else not equal
    left, right = as_decimal(actual), as_decimal(expected)
    if left is None or right is None:
        return None
    return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, str) and isinstance(expected, str) and not _NUMERIC.match(actual):
        # Vocabulary words: the common case, and parsing them as numbers is slow.
        return actual == expected
    left, right = as_decimal(actual), as_decimal(expected)
    if left is not None and right is not None:
        return left == right
    return str(actual) == str(expected)


def _resolve(value: Any, params: Params) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return constant(value, params)
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _fact(node: FactRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    path = facts.path(node.fact)
    expected = _resolve(node.value, params)
    fallback = _NO_TEXT
    if node.text is None:  # an unlabelled clause explains itself by its path
        symbol = OP_SYMBOL[node.op]
        fallback = Bilingual(
            f"{path} {symbol} {show(expected)}", f"{path} {symbol} {show(expected)}"
        )
    actual = facts.get(node.fact)
    if actual is MISSING:
        return _leaf(node, clause, Tri.UNKNOWN, fallback, unknown_detail([path]), [path])
    verdict = _compare(actual, node.op, expected)
    if verdict is None:
        # A value of the wrong type for this clause settles nothing: ask for it again.
        return _leaf(node, clause, Tri.UNKNOWN, fallback, unknown_detail([path]), [path])
    number, bound = as_decimal(actual), as_decimal(expected)
    detail = Bilingual(f"(实际:{show(actual)})", f" (actual: {show(actual)})")
    outcome = _leaf(node, clause, Tri.of(verdict), fallback, detail, (), number, bound, node.op)
    if (
        not verdict
        and number is not None
        and bound is not None
        and node.op in ("gt", "ge", "lt", "le")
    ):
        return _with_distance(outcome, bound - number, path)
    return outcome


def _compare_rule(node: CompareRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    left = evaluate_expr(node.expr, facts, params)
    right = evaluate_expr(node.value, facts, params)
    symbol = OP_SYMBOL[node.op]
    fallback = Bilingual(
        f"{left.label} {symbol} {right.label}", f"{left.label} {symbol} {right.label}"
    )
    outcome = _compare_values(node, clause, left, right, node.op, fallback)
    if outcome.truth is not Tri.FALSE or right.number is None or left.number is None:
        return outcome
    if isinstance(node.expr, RatioExpr):
        # A share falls short: say how much more of the numerator would meet it.
        num, den = (evaluate_expr(e, facts, params) for e in node.expr.ratio)
        if num.number is None or den.number is None:
            return outcome
        distance, of = right.number * den.number - num.number, num.label
    else:
        distance, of = right.number - left.number, left.label
    return _with_distance(outcome, distance, of)


def _with_distance(outcome: RuleOutcome, distance: Decimal, of: str) -> RuleOutcome:
    result = replace(outcome.clauses[0], distance=distance, distance_of=of)
    return RuleOutcome(outcome.truth, (result, *outcome.clauses[1:]), outcome.missing)


def _compare_values(
    node: Labelled, clause: str, left: Value, right: Value, op: str, fallback: Bilingual
) -> RuleOutcome:
    undefined = left.undefined or right.undefined
    if undefined:
        detail = Bilingual(f"(无法计算:{undefined})", f" (cannot be computed: {undefined})")
        return _leaf(node, clause, Tri.FALSE, fallback, detail)
    if left.number is None or right.number is None:
        missing = list(dict.fromkeys([*left.missing, *right.missing]))
        return _leaf(node, clause, Tri.UNKNOWN, fallback, unknown_detail(missing), missing)
    verdict = _compare(left.number, op, right.number)
    detail = Bilingual(
        f"(实际 {show(left.number)},要求 {OP_SYMBOL[op]} {show(right.number)})",
        f" (actual {show(left.number)}, required {OP_SYMBOL[op]} {show(right.number)})",
    )
    return _leaf(
        node, clause, Tri.of(bool(verdict)), fallback, detail, (), left.number, right.number, op
    )


def _recognition(node: RecognitionRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    test = node.recognition
    year = facts.fiscal_year
    levels = "/".join(test.levels) if test.levels else "any level"
    levels_zh = "/".join(LEVEL_ZH.get(lv, lv) for lv in test.levels) if test.levels else ""
    fallback = Bilingual(
        f"持有{levels_zh}{test.kind}认定", f"holds a {levels} {test.kind} recognition"
    )
    held = facts.recognitions()
    if held is MISSING:
        return _leaf(
            node, clause, Tri.UNKNOWN, fallback, unknown_detail(["recognitions"]), ["recognitions"]
        )
    assert isinstance(held, list)
    earliest = date(year + test.granted_from, 1, 1) if test.granted_from is not None else None
    latest = date(year + test.granted_to, 12, 31) if test.granted_to is not None else None
    undated = False
    for item in held:
        if item.get("kind") != test.kind or (test.levels and item.get("level") not in test.levels):
            continue
        granted = as_day(item.get("granted_on"))
        expires = as_day(item.get("expires_on"))
        if (earliest or latest) and granted is None:
            undated = True
            continue
        if granted and ((earliest and granted < earliest) or (latest and granted > latest)):
            continue
        if test.valid_in_year and expires is not None and expires < date(year, 1, 1):
            continue
        detail = Bilingual(f"(认定日期:{show(granted)})", f" (granted {show(granted)})")
        return _leaf(node, clause, Tri.TRUE, fallback, detail)
    if undated:
        # Held, but the window cannot be checked without the grant date.
        return _leaf(
            node, clause, Tri.UNKNOWN, fallback, unknown_detail(["recognitions"]), ["recognitions"]
        )
    window = _window_text(earliest, latest)
    return _leaf(
        node,
        clause,
        Tri.FALSE,
        fallback,
        Bilingual(f"(未持有{window.zh})", f" (not held{window.en})"),
    )


def _window_text(earliest: date | None, latest: date | None) -> Bilingual:
    if not (earliest or latest):
        return Bilingual("", "")
    return Bilingual(
        f",认定期间 {show(earliest) if earliest else '…'} 至 {show(latest) if latest else '…'}",
        f" granted {show(earliest) if earliest else '…'} to {show(latest) if latest else '…'}",
    )


def _first_time_above(
    node: FirstTimeAboveRule, facts: Facts, params: Params, clause: str
) -> RuleOutcome:
    test = node.first_time_above
    threshold = constant(test.threshold, params)
    year = facts.fiscal_year
    fallback = Bilingual(
        f"{test.fact} 首次超过 {show(threshold)}",
        f"{test.fact} above {show(threshold)} for the first time in {year}",
    )
    current = facts.number(f"years.{{fy}}.{test.fact}")
    if isinstance(current, Decimal) and current <= threshold:
        detail = Bilingual(f"({year} 年为 {show(current)})", f" ({year}: {show(current)})")
        return _leaf(node, clause, Tri.FALSE, fallback, detail, (), current, threshold, "gt")
    years = facts.profile.get("years")
    # Fix (tests/unit): str.isdigit() accepts "²" and other non-ASCII digits that int()
    # rejects (ValueError); only ASCII digit keys name years.
    known_years = (
        sorted(int(y) for y in years if str(y).isascii() and str(y).isdigit())
        if isinstance(years, dict)
        else []
    )
    earlier = sorted(set(known_years) | set(range(year - test.lookback, year)))
    missing: list[str] = [] if isinstance(current, Decimal) else [f"years.{year}.{test.fact}"]
    for y in (y for y in earlier if y < year):
        value = facts.number(f"years.{y}.{test.fact}")
        if isinstance(value, Decimal) and value > threshold:
            detail = Bilingual(
                f"({y} 年已超过:{show(value)})", f" (already above in {y}: {show(value)})"
            )
            return _leaf(node, clause, Tri.FALSE, fallback, detail)
        if not isinstance(value, Decimal) and y >= year - test.lookback:
            missing.append(f"years.{y}.{test.fact}")
    if missing:
        return _leaf(node, clause, Tri.UNKNOWN, fallback, unknown_detail(missing), missing)
    detail = Bilingual(f"({year} 年为 {show(current)})", f" ({year}: {show(current)})")
    return _leaf(
        node,
        clause,
        Tri.TRUE,
        fallback,
        detail,
        (),
        current if isinstance(current, Decimal) else None,
        threshold,
        "gt",
    )


def _years_since(node: YearsSinceRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    path = facts.path(node.years_since)
    bound = constant(node.value, params)
    symbol = OP_SYMBOL[node.op]
    fallback = Bilingual(
        f"{path} 距 {facts.fiscal_year} 年末 {symbol} {show(bound)} 年",
        f"years from {path} to the end of {facts.fiscal_year} {symbol} {show(bound)}",
    )
    day = facts.day(node.years_since)
    if not isinstance(day, date):
        return _leaf(node, clause, Tri.UNKNOWN, fallback, unknown_detail([path]), [path])
    end = date(facts.fiscal_year, 12, 31)
    whole = end.year - day.year - ((end.month, end.day) < (day.month, day.day))
    verdict = _compare(Decimal(whole), node.op, bound)
    detail = Bilingual(f"(实际 {whole} 年)", f" (actual {whole} years)")
    return _leaf(
        node, clause, Tri.of(bool(verdict)), fallback, detail, (), Decimal(whole), bound, node.op
    )


def _date_within(node: DateWithinRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    path = facts.path(node.date_within)
    year = facts.fiscal_year
    earliest = date(year + node.from_year, 1, 1) if node.from_year is not None else None
    latest = date(year + node.to_year, 12, 31) if node.to_year is not None else None
    window = _window_text(earliest, latest)
    fallback = Bilingual(f"{path} 在期间内{window.zh}", f"{path} within{window.en}")
    day = facts.day(node.date_within)
    if not isinstance(day, date):
        return _leaf(node, clause, Tri.UNKNOWN, fallback, unknown_detail([path]), [path])
    inside = not ((earliest and day < earliest) or (latest and day > latest))
    return _leaf(
        node, clause, Tri.of(inside), fallback, Bilingual(f"(实际 {day})", f" (actual {day})")
    )


def _finding(node: FindingRule, facts: Facts, params: Params, clause: str) -> RuleOutcome:
    fallback = Bilingual(f"主管部门认定:{node.finding}", f"an official's finding: {node.finding}")
    found = facts.finding(node.finding)
    if found is None:
        detail = Bilingual("(待主管部门认定)", " (awaits an official's finding)")
        outcome = _leaf(node, clause, Tri.UNKNOWN, fallback, detail)
        return replace(outcome, findings=(node.finding,))
    verdict = Bilingual("符合", "met") if found.met else Bilingual("不符合", "not met")
    detail = Bilingual(
        f"({found.reviewer} 于 {found.recorded_on} 认定:{verdict.zh})",
        f" ({verdict.en}: found by {found.reviewer} on {found.recorded_on})",
    )
    return _leaf(node, clause, Tri.of(found.met), fallback, detail)


def _days_before_application(
    node: DaysBeforeApplicationRule, facts: Facts, params: Params, clause: str
) -> RuleOutcome:
    test = node.days_before_application
    need = constant(test.min, params)
    since_path = facts.path(test.since)
    fallback = Bilingual(
        f"申报时距 {since_path} 不少于 {show(need)} 天",
        f"at least {show(need)} days from {since_path} to the application",
    )
    since = facts.day(test.since)
    if not isinstance(since, date):
        return _leaf(
            node, clause, Tri.UNKNOWN, fallback, unknown_detail([since_path]), [since_path]
        )
    applied = facts.day("application_date")
    if isinstance(applied, date):
        days = Decimal((applied - since).days)
        detail = Bilingual(f"(实际 {days} 天)", f" (actual {days} days)")
        return _leaf(node, clause, Tri.of(days >= need), fallback, detail, (), days, need, "ge")
    # Without the date the application falls somewhere in the year after the fiscal year.
    year = facts.fiscal_year + 1
    earliest = Decimal((date(year, 1, 1) - since).days)
    latest = Decimal((date(year, 12, 31) - since).days)
    if earliest >= need:
        detail = Bilingual(
            f"({year} 年任一申报日均满足)", f" (met on any application day of {year})"
        )
        return _leaf(node, clause, Tri.TRUE, fallback, detail)
    if latest < need:
        detail = Bilingual(
            f"({year} 年内申报均不满足)", f" (not met on any application day of {year})"
        )
        return _leaf(node, clause, Tri.FALSE, fallback, detail, (), latest, need, "ge")
    return _leaf(
        node,
        clause,
        Tri.UNKNOWN,
        fallback,
        unknown_detail(["application_date"]),
        ["application_date"],
    )


_HANDLERS: dict[type, Callable[..., RuleOutcome]] = {
    AllRule: _all,
    AnyRule: _any,
    NotRule: _not,
    FactRule: _fact,
    CompareRule: _compare_rule,
    RecognitionRule: _recognition,
    FirstTimeAboveRule: _first_time_above,
    YearsSinceRule: _years_since,
    DateWithinRule: _date_within,
    FindingRule: _finding,
    DaysBeforeApplicationRule: _days_before_application,
}
