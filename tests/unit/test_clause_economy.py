"""What the per-profile engine skips or shares never shows in an answer or a trace.

An ``any`` that holds keeps only the alternatives that hold, so an ``all`` among the
others is left unfinished once one of its clauses is false; a named clause several
policies share is explained once per profile (``app.domain.shared_clauses``). Both
are held here to the plain evaluation: every clause explained, nothing shared, the
same outcome, the same reasons and the same trace of facts read, in the same order.
"""

from __future__ import annotations

import copy
import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from app.catalog.loader import load_catalog
from app.catalog.schema import PolicyFile, Rule
from app.domain.composites import Composite
from app.domain.engine import evaluate, evaluate_catalog, select_version
from app.domain.facts import Facts
from app.domain.findings import Findings, RecordedFinding
from app.domain.plan import parameters
from app.domain.rules import RuleOutcome, RulePlan, compile_rule
from app.domain.shared_clauses import Shared, shared_key
from tests.unit.builders import ALWAYS, policy

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"
_RULE = TypeAdapter(Rule)
INDUSTRIES = ("manufacturing", "software_it_services", "construction", "software_information")


def _eager(plan: RulePlan, facts: Facts) -> RuleOutcome:
    """The plain evaluation: every clause explained, in order, none skipped."""
    if isinstance(plan, Shared):
        return _eager(plan.inner, facts)
    if isinstance(plan, Composite):
        return plan.combine([_eager(part, facts) for part in plan.parts])
    return plan.explain(facts)


def _profiles() -> list[dict[str, Any]]:
    base = {
        "kind": "enterprise",
        "registered_on": "2019-05-01",
        "employees": 120,
        "years": {
            str(y): {"revenue": "80000000", "rd_expense": "4000000"} for y in range(2020, 2026)
        },
    }
    out: list[dict[str, Any]] = [{}]
    for industry in INDUSTRIES:
        for employees in (50, 400, 1500):
            profile = copy.deepcopy(base)
            profile["industry"], profile["employees"] = industry, employees
            out.append(profile)
    return out


@pytest.fixture(scope="module")
def policies() -> list[PolicyFile]:
    return list(load_catalog(CATALOG_DIR))


def _findings(policies: list[PolicyFile]) -> list[Findings]:
    """None recorded, every finding the catalog's rules name met, and every one not met."""
    keys = sorted({k for p in policies for v in p.versions for k in _finding_keys(v.eligibility)})
    assert keys, "the catalog's rules name findings"
    day = date(2024, 5, 1)
    return [{}] + [
        {k: RecordedFinding(k, met, "reviewer", day) for k in keys} for met in (True, False)
    ]


def _finding_keys(rule: Any) -> list[str]:
    dumped = rule.model_dump() if hasattr(rule, "model_dump") else rule
    if isinstance(dumped, dict):
        own = [dumped["finding"]] if isinstance(dumped.get("finding"), str) else []
        return own + [k for v in dumped.values() for k in _finding_keys(v)]
    if isinstance(dumped, list):
        return [k for v in dumped for k in _finding_keys(v)]
    return []


@pytest.mark.parametrize("fiscal_year", [2024, 2025])
def test_every_catalog_rule_answers_as_its_plain_evaluation(
    policies: list[PolicyFile], fiscal_year: int
) -> None:
    for pol in policies:
        version = select_version(pol, fiscal_year)
        if version is None:
            continue
        params = parameters(version)
        compiled = compile_rule(version.eligibility, params, fiscal_year)
        plain = compile_rule(version.eligibility, params, fiscal_year, share=False)
        for profile, findings in itertools.product(_profiles(), _findings(policies)):
            fast = Facts(profile, fiscal_year, findings)
            slow = Facts(profile, fiscal_year, findings)
            assert compiled.explain(fast) == _eager(plain, slow), pol.id
            assert list(fast.read.items()) == list(slow.read.items()), pol.id
            assert list(fast.findings_used) == list(slow.findings_used), pol.id


def test_an_all_left_unfinished_still_names_its_facts_in_the_trace() -> None:
    tree = _RULE.validate_python(
        {
            "any": [
                {
                    "all": [
                        {"fact": "industry", "op": "eq", "value": "construction"},
                        {"fact": "employees", "op": "lt", "value": 300},
                        {"fact": "years.2024.revenue", "op": "lt", "value": 100},
                    ]
                },
                {"fact": "kind", "op": "eq", "value": "enterprise"},
            ]
        }
    )
    plan = compile_rule(tree, {}, 2024)
    profile = {"industry": "retail", "employees": 10, "kind": "enterprise"}
    facts = Facts(profile, 2024)
    outcome = plan.explain(facts)
    assert outcome.truth.value == "true"
    assert [c.clause for c in outcome.clauses] == ["eligibility.1"]
    # The false alternative's later clauses were not explained, yet read for the trace.
    assert list(facts.read) == ["industry", "employees", "years.2024.revenue", "kind"]
    assert facts.read["years.2024.revenue"] is None
    # When no alternative holds, the unfinished one is finished: all its reasons.
    facts = Facts({**profile, "kind": "incubator"}, 2024)
    outcome = plan.explain(facts)
    assert outcome.truth.value == "false"
    assert [c.clause for c in outcome.clauses] == [
        "eligibility.0.0",
        "eligibility.0.1",
        "eligibility.0.2",
        "eligibility.1",
    ]
    assert outcome.clauses[2].missing == ("years.2024.revenue",)


_SHARED = {
    "id": "size",
    "text": {"zh": "规模", "en": "size"},
    "any": [
        {"fact": "employees", "op": "lt", "value": "$max_staff"},
        {"fact": "years.{fy}.revenue", "op": "lt", "value": 100},
        {"finding": "sme_size_industry_class"},
    ],
}


def _sharing(policy_id: str, max_staff: int) -> PolicyFile:
    eligibility = {
        "all": [{"fact": "kind", "op": "eq", "value": "enterprise"}, copy.deepcopy(_SHARED)]
    }
    return policy(eligibility, policy_id=policy_id, params={"max_staff": max_staff})


def test_a_shared_clause_is_explained_once_per_profile_and_traced_for_each_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pols = [_sharing("xx-one", 300), _sharing("xx-two", 300), _sharing("xx-other", 200)]
    explained: list[str] = []
    original = Shared.explain

    def counting(self: Shared, facts: Facts) -> RuleOutcome:
        if self.key not in facts.cache.shared:
            explained.append(self.clause)
        return original(self, facts)

    monkeypatch.setattr(Shared, "explain", counting)
    found = RecordedFinding("sme_size_industry_class", True, "reviewer", date(2024, 5, 1))
    findings = {"sme_size_industry_class": found}
    profile = {"kind": "enterprise", "employees": 250}
    together = evaluate_catalog(pols, profile, 2024, findings=findings)
    # Two copies with the same parameter value share it; the third's differs.
    assert explained == ["size", "size"]
    for pol, ev in zip(pols, together, strict=True):
        alone = evaluate(pol, profile, 2024, findings=findings)
        assert ev.reasons == alone.reasons, pol.id
        assert list(ev.facts_read.items()) == list(alone.facts_read.items()), pol.id
        assert list(ev.facts_read) == ["kind", "employees", "years.2024.revenue"]
        assert set(ev.findings_used) == {"sme_size_industry_class"}
    assert together[0].status == together[1].status == "eligible"
    assert together[2].status == "eligible"  # (by the finding: 250 staff is not under 200)


def test_copies_differ_in_key_by_parameter_value_year_and_clause_id() -> None:
    rule = _RULE.validate_python(_SHARED)
    key = shared_key(rule, {"max_staff": Decimal(300)}, 2024, "size")
    assert key == shared_key(rule, {"max_staff": Decimal("300")}, 2024, "size")
    assert key != shared_key(rule, {"max_staff": Decimal(200)}, 2024, "size")
    assert key != shared_key(rule, {"max_staff": Decimal(300)}, 2025, "size")
    assert key != shared_key(rule, {"max_staff": Decimal(300)}, 2024, "x")


def test_a_shared_outcome_is_kept_only_for_its_profile() -> None:
    pol = _sharing("xx-one", 300)
    first = evaluate_catalog(
        [pol, _sharing("xx-two", 300)], {"kind": "enterprise", "employees": 10}, 2024
    )
    second = evaluate_catalog([pol], {"kind": "enterprise", "employees": 900}, 2024)
    # The second profile's answer is its own, not the first's kept outcome.
    assert first[0].status == "eligible"
    assert second[0].status == "undetermined"


def _leaves(plan: RulePlan) -> list[RulePlan]:
    if isinstance(plan, Shared):
        return _leaves(plan.inner)
    if isinstance(plan, Composite):
        return [leaf for part in plan.parts for leaf in _leaves(part)]
    return [plan]


def test_each_clause_that_reads_without_explaining_reads_what_explaining_does(
    policies: list[PolicyFile],
) -> None:
    extra = _RULE.validate_python(
        {"all": [{"years_since": "registered_on", "op": "ge", "value": 2}, ALWAYS]}
    )
    plans = [compile_rule(extra, {}, 2024)]
    for pol in policies:
        for version in pol.versions:
            plans.append(compile_rule(version.eligibility, parameters(version), 2024))
    touched: set[str] = set()
    leaves = {(type(leaf), leaf.clause): leaf for plan in plans for leaf in _leaves(plan)}
    for leaf in (leaf for leaf in leaves.values() if leaf.reads_only):
        touched.add(type(leaf).__name__)
        for profile, findings in itertools.product(_profiles(), _findings(policies)):
            read, explained = Facts(profile, 2024, findings), Facts(profile, 2024, findings)
            assert leaf.touch(read) is None
            leaf.explain(explained)
            assert list(read.read.items()) == list(explained.read.items()), leaf.clause
            assert list(read.findings_used) == list(explained.findings_used), leaf.clause
    assert touched == {
        "CompareClause", "DateWithin", "FactClause", "Finding", "Recognition", "YearsSince"
    }  # fmt: skip
