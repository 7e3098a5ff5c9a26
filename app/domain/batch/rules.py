"""Eligibility rule trees over columns, from the one compiled plan of each rule.

A rule tree is compiled once (``app.domain.rules.compile_rule``: ``$parameters``,
``{fy}`` paths and the dates of windows resolved); each compiled clause emits its
column node (``column()``, the nodes of ``nodes`` and ``leaves``). A construct the
columns cannot hold raises ``Unsupported``: that policy is then evaluated by the
per-profile engine instead.
"""

from __future__ import annotations

from app.catalog.schema import Rule
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import Unsupported
from app.domain.expressions import Params

#: The prefix that marks a finding among a policy's missing-fact paths: an unknown
#: finding is named with them, then listed apart as a finding a reviewer must record.
FINDING = "finding:"


def compile_rule(rule: Rule, params: Params, fiscal_year: int) -> RuleNode:
    """The vectorised node for a rule tree, for one version's parameters and year."""
    from app.domain.rules import compile_rule as compile_plan

    try:
        return compile_plan(rule, params, fiscal_year).column()
    except ValueError as exc:  # (a window outside the calendar, for a far fiscal year)
        raise Unsupported(f"a window outside the calendar: {exc}") from exc
