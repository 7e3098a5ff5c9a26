"""A clause several policies share, answered once per profile.

The recognition ladders test the same things: the SME size rule (``rules/sme-size-2011``,
some forty clauses) is inlined into three of them, and checks such as "no major
incident" recur. Each policy compiles its own copy, so a profile's answer used to
explain the same clauses once per policy. A ``Shared`` node answers its clause once
for the profile (kept on the ``FactCache`` all policies of an answer share) and hands
the same outcome to every policy whose copy is the same: the same rule, the same
parameter values, fiscal year and clause id (``shared_key``).

Each policy's trace still names every fact its copy reads, in the order it reads them:
the facts read (and findings used) inside the clause are kept with its outcome and
added to the policy's own, as explaining it again would have added them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.catalog.schema import Rule
from app.domain.expressions import Params
from app.domain.facts import Facts
from app.domain.rules import RuleOutcome, RulePlan

if TYPE_CHECKING:
    from app.domain.batch.nodes import RuleNode

#: A named composite of at least this many clauses is shared: below it, keeping and
#: finding its outcome costs about what explaining it does.
SHARED_MIN_LEAVES = 3

#: Structural keys by their text, each a small number: the memo's keys stay cheap.
_KEYS: dict[str, int] = {}


def shared_key(rule: Rule, params: Params, fiscal_year: int, clause: str) -> int:
    """The same number for every compiled copy that must answer alike: the rule as the
    catalog gives it with each ``$parameter`` replaced by its value, the fiscal year
    and the clause id (the ids below it follow from it)."""

    def resolved(node: Any) -> Any:
        if isinstance(node, str) and node.startswith("$") and node[1:] in params:
            return {"$": str(params[node[1:]])}
        if isinstance(node, list):
            return [resolved(item) for item in node]
        if isinstance(node, dict):
            return {key: resolved(value) for key, value in node.items()}
        return node

    dumped = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
    text = json.dumps([clause, fiscal_year, resolved(dumped)], sort_keys=True)
    return _KEYS.setdefault(text, len(_KEYS))


class Shared(RulePlan):
    """A composite clause answered once per profile for every policy that has it."""

    __slots__ = ("inner", "key")

    def __init__(self, inner: RulePlan, key: int) -> None:
        self.clause, self.inner, self.key = inner.clause, inner, key

    def explain(self, facts: Facts) -> RuleOutcome:
        memo = facts.cache.shared
        hit = memo.get(self.key)
        outcome: RuleOutcome
        if hit is not None and hit[0] is facts.findings:
            _, outcome, read, used = hit
        else:
            # Explained with empty records of its own, then added to the policy's:
            # a fact read before keeps its place, a new one comes after, as inline.
            outer_read, outer_used = facts.read, facts.findings_used
            facts.read, facts.findings_used = {}, {}
            try:
                outcome = self.inner.explain(facts)
            finally:
                read, used = facts.read, facts.findings_used
                facts.read, facts.findings_used = outer_read, outer_used
            memo[self.key] = (facts.findings, outcome, read, used)
        facts.read.update(read)
        if used:
            facts.findings_used.update(used)
        return outcome

    def unless_false(self, facts: Facts) -> RuleOutcome:
        return self.explain(facts)

    def touch(self, facts: Facts) -> RuleOutcome:
        return self.explain(facts)

    def column(self) -> RuleNode:
        return self.inner.column()


def leaf_count(plan: RulePlan) -> int:
    parts = getattr(plan, "parts", None)
    return 1 if parts is None else sum(leaf_count(p) for p in parts)
