"""The compiled catalog answers as each policy alone would: one fact cache per profile
shared by the policies, each still tracing only the facts it read, and answers
remembered for a word or a missing fact never leaking from one profile to the next."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from app.catalog.loader import load_catalog
from app.catalog.schema import PolicyFile, Rule
from app.domain.engine import evaluate, evaluate_catalog
from app.domain.facts import Facts
from app.domain.results import as_json
from app.domain.rules import compile_rule, evaluate_rule

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"

FULL: dict[str, Any] = {
    "kind": "enterprise",
    "registered_on": "2018-03-15",
    "industry": "software_information",
    "location": {"province": "jiangsu", "city": "nanjing", "district": "jiangning"},
    "employees": 120,
    "tech_staff": 40,
    "recognitions": [
        {"kind": "high_tech_enterprise", "level": "national", "granted_on": "2023-11-30"}
    ],
    "years": {
        str(y): {"revenue": "40000000.00", "rd_expense": "3600000.00", "taxable_income": "5e6"}
        for y in (2021, 2022, 2023, 2024)
    },
}


@pytest.fixture(scope="module")
def policies() -> list[PolicyFile]:
    return list(load_catalog(CATALOG_DIR))


def _variants() -> list[dict[str, Any]]:
    """The full profile, the same with other words and numbers, and nearly empty ones."""
    other = copy.deepcopy(FULL)
    other["location"] = {"province": "jiangsu", "city": "suzhou"}
    other["industry"] = "manufacturing"
    other["employees"] = 900
    other["years"]["2024"]["revenue"] = "1.00"
    return [FULL, other, {"kind": "enterprise"}, {}, FULL, other]


@pytest.mark.parametrize("fiscal_year", [2024, 2025])
def test_the_catalog_answers_as_each_policy_alone(
    policies: list[PolicyFile], fiscal_year: int
) -> None:
    for profile in _variants():
        together = evaluate_catalog(policies, profile, fiscal_year)
        for policy, ev in zip(policies, together, strict=True):
            alone = evaluate(policy, profile, fiscal_year)
            # The trace of each policy lists the facts it read, in the order it read them.
            assert list(ev.facts_read.items()) == list(alone.facts_read.items()), policy.id
            if ev.exclusivity_group is None:
                assert as_json(ev) == as_json(alone), policy.id


def test_remembered_answers_do_not_leak_between_profiles(policies: list[PolicyFile]) -> None:
    first = [as_json(evaluate_catalog(policies, p, 2024)) for p in _variants()]
    again = [as_json(evaluate_catalog(policies, p, 2024)) for p in reversed(_variants())]
    assert first == list(reversed(again))


def test_a_compiled_rule_is_reused_for_every_profile() -> None:
    tree: Rule = TypeAdapter(Rule).validate_python(
        {
            "all": [
                {"fact": "location.city", "op": "in", "value": ["nanjing", "suzhou"]},
                {"not": {"fact": "kind", "op": "eq", "value": "incubator"}},
            ],
            "text": {"zh": "南京或苏州的企业", "en": "an enterprise in Nanjing or Suzhou"},
        }
    )
    plan = compile_rule(tree, {}, 2024)
    for city, truth in (("nanjing", "true"), ("wuhan", "false"), ("nanjing", "true")):
        facts = Facts({"location": {"city": city}, "kind": "enterprise"}, 2024)
        outcome = plan.explain(facts)
        assert outcome.truth.value == truth
        assert outcome == evaluate_rule(tree, Facts(facts.profile, 2024), {})
        assert facts.read == {"location.city": city, "kind": "enterprise"}
    unknown = plan.explain(Facts({}, 2024))
    assert unknown.missing == ("location.city", "kind")
    assert unknown.clauses[-1].text.en == "an enterprise in Nanjing or Suzhou"


def test_each_compiled_kind_is_its_own_column_node(policies: list[PolicyFile]) -> None:
    """One definition per kind: the plan that explains a profile is the node that answers
    a column table (but fact and expression comparisons and findings, which emit one)."""
    from app.domain.batch.numbers import Unsupported
    from app.domain.comparisons import CompareClause, FactClause
    from app.domain.composites import Composite
    from app.domain.plan import version_plan
    from app.domain.recognitions import Finding
    from app.domain.shared_clauses import Shared

    emits = (CompareClause, FactClause, Finding)
    seen: set[str] = set()

    def walk(plan: Any) -> None:
        if isinstance(plan, Shared):  # (a wrapper: its node is the clause's own)
            assert plan.column() is plan.inner.column()
            plan = plan.inner
        seen.add(type(plan).__name__)
        assert (plan.column() is plan) != isinstance(plan, emits), type(plan)
        for part in plan.parts if isinstance(plan, Composite) else ():
            walk(part)

    for policy in policies:
        for version in policy.versions:
            compiled = version_plan(version, 2025)
            walk(compiled.eligibility)
            with contextlib.suppress(Unsupported):  # (a tax estimate with its own bases)
                assert compiled.formula.column() is compiled.formula
    assert {"All", "Any_", "FactClause", "Recognition"} <= seen
