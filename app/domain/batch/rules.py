"""Eligibility rule trees compiled to vectorised nodes (see ``nodes`` and ``leaves``).

``compile_rule`` resolves what the per-profile compiler (``app.domain.rules``) does:
``$parameters``, ``{fy}`` paths and the dates of windows, once per policy version and
fiscal year, with the same helpers. A construct it does not know raises
``Unsupported``: that policy is then evaluated by the per-profile engine instead.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from app.catalog.schema import (
    AllRule,
    AnyRule,
    CompareRule,
    DateWithinRule,
    DaysBeforeApplicationRule,
    FactRule,
    FindingRule,
    FirstTimeAboveRule,
    NotRule,
    RecognitionRule,
    Rule,
    YearsSinceRule,
)
from app.domain.batch.exprs import Const, Fact, compile_expr
from app.domain.batch.leaves import (
    Compare,
    DateWithin,
    DaysBeforeApplication,
    Equals,
    FirstTimeAbove,
    Recognition,
    Unknowable,
    YearsSince,
)
from app.domain.batch.nodes import All, Any_, Not, RuleNode
from app.domain.batch.numbers import Op, Unsupported
from app.domain.expressions import Params, constant
from app.domain.facts import year_path
from app.domain.leaves import resolve
from app.domain.money import as_decimal

#: The prefix that marks a finding among a policy's missing-fact paths: an unknown
#: finding is named with them, then listed apart as a finding a reviewer must record.
FINDING = "finding:"


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
        path, expected = year_path(rule.fact, fy), resolve(rule.value, params)
        if rule.op in ("in", "not_in"):
            if not isinstance(expected, list):
                return Unknowable(path, "cat")
            return Equals(path, rule.op, expected)
        if rule.op == "eq" or rule.op == "ne":
            return Equals(path, rule.op, [expected])
        bound = as_decimal(expected)
        if bound is None:
            return Unknowable(path, "num")
        return Compare(Fact(path), cast(Op, rule.op), Const(bound))
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
    if isinstance(rule, FindingRule):
        # Rows with recorded findings are answered whole by the per-profile engine; on
        # the others a finding is unknown and names its key (see ``FINDING``).
        return Unknowable(FINDING + rule.finding, "cat")
    if isinstance(rule, DaysBeforeApplicationRule):
        days = rule.days_before_application
        since = year_path(days.since, fy)
        return DaysBeforeApplication(since, constant(days.min, params), fy + 1)
    raise Unsupported(f"rule {type(rule).__name__}")
