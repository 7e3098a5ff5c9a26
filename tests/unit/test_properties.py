"""Properties of the engine over random profiles, for the real catalog and inline policies.

Whatever a profile says (facts missing, of the wrong type, huge or tiny numbers, odd
recognitions, odd years), the engine answers without raising, answers the same way
twice, never pays above a per-award cap or below zero, keeps money to two places, and
is undetermined exactly when it names missing facts.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.catalog.loader import Catalog, load_catalog
from app.catalog.schema import PolicyFile
from app.domain.engine import evaluate, evaluate_catalog, parameters, select_version
from app.domain.expressions import constant
from app.domain.money import as_decimal
from app.domain.results import Evaluation, PriorAward, as_json

from .builders import policy

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- the real catalog


def _real_catalog() -> Catalog | None:
    """The catalog, or ``None`` while it has not been written yet (then the tests skip).

    A catalog that exists but does not load is a failure, not a skip.
    """
    if not (CATALOG_DIR / "facts.yaml").is_file():
        return None
    if not any((CATALOG_DIR / "policies").rglob("*.yaml")):
        return None
    return load_catalog(CATALOG_DIR)


_NO_CATALOG = "policy_catalog/facts.yaml or policy_catalog/policies/**/*.yaml does not exist yet"


# --------------------------------------------------------------------------- fact vocabulary


@dataclass(frozen=True)
class FactShape:
    path: str  # dotted; ``*`` after ``years`` is a fiscal year, elsewhere a key
    type: str
    words: tuple[str, ...] = ()


NUMERIC = {"money", "decimal", "share", "integer", "score"}

INLINE_FACTS = [
    FactShape("kind", "enum", ("enterprise", "incubator")),
    FactShape("registered_on", "date"),
    FactShape("industry", "enum", ("software_information", "biomedicine", "retail")),
    FactShape("employees", "integer"),
    FactShape("tech_staff", "integer"),
    FactShape("compliance.serious_dishonesty", "boolean"),
    FactShape("lease.area_m2", "decimal"),
    FactShape("lease.price", "money"),
    FactShape("lease.start_on", "date"),
    FactShape("years.*.revenue", "money"),
    FactShape("years.*.rd_expense", "money"),
    FactShape("years.*.operating_income", "money"),
    FactShape("years.*.rent_paid", "money"),
    FactShape("years.*.taxable_income", "money"),
    FactShape("years.*.performance.*", "score"),
]
RECOGNITION_KINDS = (
    "high_tech_enterprise",
    "tech_sme",
    "quality_benchmark",
    "ip_benchmark",
    "green_factory",
    "green_supply_chain",
    "tech_innovation_demo",
)
LEVELS = ("national", "provincial", "municipal", "district")


def catalog_facts(catalog: Catalog) -> list[FactShape]:
    words = catalog.words
    return [
        FactShape(f.path, f.type, tuple(sorted(words.get(f.enum or "", ()))))
        for f in catalog.vocabulary.facts
        if not f.path.startswith("recognitions")
    ]


# --------------------------------------------------------------------------- strategies


NUMBER_TEXT = st.one_of(
    st.integers(-1000, 10**9).map(str),
    st.decimals(
        min_value=Decimal("-1e6"),
        max_value=Decimal("1e12"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ).map(str),
    # huge and tiny, written as a person or a spreadsheet might
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-999, 9999), st.integers(-40, 40)),
    st.sampled_from(
        [
            "0",
            "0.00",
            "-0",
            "0.005",
            "2.675",
            "1e30",
            "9.999999999999999999999999999E+27",
            "123456789012345678901234567.891",
            "1e-30",
            "0.0000000000000000000000000001",
            " 42 ",
            "1_000",
        ]
    ),
)
NUMBER = st.one_of(
    NUMBER_TEXT,
    st.integers(-(10**6), 10**9),
    st.integers(-(10**30), 10**30),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
)
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=6),
    st.sampled_from(["NaN", "Infinity", "-inf", "sNaN", "2024-02-30", "", "true"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
DATE_TEXT = st.dates(min_value=date(1980, 1, 1), max_value=date(2035, 12, 31)).map(date.isoformat)


@functools.cache
def value_of(shape: FactShape) -> st.SearchStrategy[Any]:
    if shape.type in NUMERIC:
        good: st.SearchStrategy[Any] = NUMBER
    elif shape.type == "date":
        good = st.one_of(
            DATE_TEXT, st.dates(min_value=date(1980, 1, 1), max_value=date(2035, 12, 31))
        )
    elif shape.type == "boolean":
        good = st.booleans()
    elif shape.type == "enum" and shape.words:
        good = st.sampled_from(shape.words)
    elif shape.type == "list":
        good = st.lists(
            st.sampled_from(shape.words) if shape.words else st.text(max_size=4), max_size=3
        )
    else:
        good = st.text(max_size=8)
    # mostly well-typed values, sometimes anything at all
    return st.one_of(good, good, good, ODD)


@functools.cache
def recognition() -> st.SearchStrategy[Any]:
    when = st.one_of(DATE_TEXT, DATE_TEXT, DATE_TEXT, ODD)
    item = st.fixed_dictionaries(
        {"kind": st.one_of(st.sampled_from(RECOGNITION_KINDS), st.text(max_size=4))},
        optional={
            "level": st.one_of(st.sampled_from(LEVELS), ODD),
            "granted_on": when,
            "expires_on": when,
        },
    )
    return st.one_of(item, item, item, item, ODD)


def _put(profile: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    node = profile
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return  # a value already sits where this path would go through
        node = child
    node[parts[-1]] = value


@st.composite
def profiles(
    draw: st.DrawFn, shapes: Sequence[FactShape], keys: Sequence[str], fiscal_year: int
) -> dict[str, Any]:
    """A random profile: each fact present or not, each year present or not."""
    profile: dict[str, Any] = {"name": "示例"}
    year_keys = [str(y) for y in range(fiscal_year - 6, fiscal_year + 2)]
    years = draw(st.lists(st.sampled_from(year_keys), unique=True, max_size=len(year_keys)))
    # other keyed facts (a performance score per policy id): a few of the keys, not all
    some_keys = draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)) if keys else []
    if draw(st.integers(0, 19)) == 0:
        years.append(draw(st.sampled_from(["²", "notes", "0", "99999", "-1"])))
    for shape in shapes:
        parts = shape.path.split(".")
        choices: list[list[str]] = [[]]
        for i, part in enumerate(parts):
            if part != "*":
                choices = [[*c, part] for c in choices]
            elif i > 0 and parts[i - 1] == "years":
                choices = [[*c, y] for c in choices for y in years]
            else:
                choices = [[*c, k] for c in choices for k in some_keys]
        for concrete in choices:
            if draw(st.booleans()):
                _put(profile, concrete, draw(value_of(shape)))
    mode = draw(st.integers(0, 9))
    if mode == 0:
        pass  # recognitions not given: unknown
    elif mode == 1:
        profile["recognitions"] = draw(ODD)
    else:
        profile["recognitions"] = draw(st.lists(recognition(), max_size=4))
    if draw(st.integers(0, 9)) == 0:
        profile["years"] = draw(ODD)  # years of the wrong shape altogether
    return profile


@st.composite
def histories(
    draw: st.DrawFn, policy_ids: Sequence[str], groups: Sequence[str | None], fiscal_year: int
) -> list[PriorAward]:
    award = st.builds(
        PriorAward,
        policy_id=st.one_of(st.sampled_from(policy_ids), st.just("xx-elsewhere")),
        fiscal_year=st.integers(fiscal_year - 4, fiscal_year),
        amount=st.decimals(min_value=0, max_value=10**7, places=2),
        recognition_key=st.one_of(
            st.none(),
            st.builds(lambda k, d: f"{k}:{d}", st.sampled_from(RECOGNITION_KINDS), DATE_TEXT),
        ),
        exclusivity_group=st.sampled_from([*groups, None]),
    )
    return draw(st.lists(award, max_size=4))


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every path into a profile (subtrees too, so whole years can go missing)."""
    found: list[tuple[str, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found += _paths(value, (*prefix, key))
    return found


NUMBER_TWEAK = st.sampled_from(["0", "-1", "0.5", "1.0000001", "1e20", "1e-20", "1e24", "3"])


@st.composite
def mutated(
    draw: st.DrawFn, seeds: Sequence[tuple[Mapping[str, Any], int]]
) -> tuple[dict[str, Any], int]:
    """A plausible profile (one of ``seeds``) with a few facts removed, retyped or rescaled.

    Fully random profiles almost never meet every clause of a policy; these do often,
    so the amount properties (caps, rounding, sign) are exercised, not just verdicts.
    """
    seed, fiscal_year = draw(st.sampled_from(seeds))
    profile = copy.deepcopy(dict(seed))
    for _ in range(draw(st.integers(0, 4))):
        paths = _paths(profile)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = profile
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.integers(0, 5))
        if action == 0:
            del parent[path[-1]]
        elif action == 1:
            parent[path[-1]] = draw(st.one_of(NUMBER, ODD, DATE_TEXT))
        elif action == 2 and path == ("recognitions",):
            parent[path[-1]] = draw(st.lists(recognition(), max_size=4))
        else:
            number = as_decimal(parent[path[-1]])
            if number is not None:
                parent[path[-1]] = str(number * Decimal(draw(NUMBER_TWEAK)))
    shift = draw(st.sampled_from([0, 0, 0, 0, -1, 1, -5]))
    return profile, fiscal_year + shift


# --------------------------------------------------------------------------- properties


def per_award_cap(pol: PolicyFile, fiscal_year: int) -> Decimal | None:
    version = select_version(pol, fiscal_year)
    if version is None or version.caps.per_award is None:
        return None
    return constant(version.caps.per_award, parameters(version))


def check(ev: Evaluation, pol: PolicyFile, fiscal_year: int) -> None:
    assert ev.policy_id == pol.id
    assert ev.fiscal_year == fiscal_year
    assert ev.status in ("eligible", "ineligible", "undetermined")
    # Undetermined: a fact is missing or a reviewer's finding is still to be recorded.
    assert (ev.status == "undetermined") == bool(ev.missing_facts or ev.findings_required), ev
    if ev.status == "ineligible":
        assert ev.missing_facts == ()
        assert ev.amount is None
    assert list(ev.missing_facts) == sorted(set(ev.missing_facts))
    assert not any("{" in path for path in ev.missing_facts), ev.missing_facts
    for amount in (ev.amount, ev.uncapped_amount):
        if amount is not None:
            assert amount.is_finite()
            assert amount.as_tuple().exponent == -2, amount
            assert amount >= 0 and not amount.is_signed(), ev
    if ev.amount is not None:
        assert ev.status == "eligible"
        cap = per_award_cap(pol, fiscal_year)
        if cap is not None:
            assert ev.amount <= cap, (ev.amount, cap)
    if ev.status == "eligible" and ev.amount_basis in ("computed", "estimate"):
        assert ev.amount is not None
    for reason in ev.reasons:
        assert reason.text.zh.strip() and reason.text.en.strip(), reason


def check_all(
    policies: Sequence[PolicyFile],
    profile: Mapping[str, Any],
    fiscal_year: int,
    history: Sequence[PriorAward],
    reviewer_amount: Decimal | None,
    singly: bool = True,
) -> None:
    """Every property, for each policy alone (if ``singly``) and for all of them together."""
    before = copy.deepcopy(profile)
    for pol in policies if singly else ():
        check(evaluate(pol, profile, fiscal_year, history, reviewer_amount), pol, fiscal_year)
    together = evaluate_catalog(policies, profile, fiscal_year, history)
    assert as_json(together) == as_json(evaluate_catalog(policies, profile, fiscal_year, history))
    assert [ev.policy_id for ev in together] == [p.id for p in policies]
    for ev, pol in zip(together, policies, strict=True):
        check(ev, pol, fiscal_year)
    paid_groups = [ev.exclusivity_group for ev in together if ev.exclusivity_group and ev.amount]
    modes = {
        v.exclusivity.group: v.exclusivity.mode
        for p in policies
        if (v := select_version(p, fiscal_year)) is not None and v.exclusivity is not None
    }
    for group in set(paid_groups):
        if modes.get(group) == "highest_only":
            assert paid_groups.count(group) == 1, group
    assert profile == before, "the engine must not change the profile it reads"


# --------------------------------------------------------------------------- inline policies


def _inline_policies() -> list[PolicyFile]:
    rent_rate = {
        "by_subsidy_year": {1: "1"},
        "by_growth": {
            "expr": {"growth": "revenue", "span": 2},
            "tiers": [{"min": "0.3", "rate": "0.8"}, {"min": "0.1", "rate": "0.5"}],
        },
        "default": "0.2",
    }
    hte = {
        "recognition": {
            "kind": "high_tech_enterprise",
            "levels": ["national"],
            "valid_in_year": True,
        }
    }
    return [
        policy(
            {
                "all": [
                    {"fact": "employees", "op": "ge", "value": "$min"},
                    {
                        "fact": "industry",
                        "op": "in",
                        "value": ["software_information", "biomedicine"],
                    },
                    {"not": {"fact": "compliance.serious_dishonesty", "op": "eq", "value": True}},
                ]
            },
            {"fixed": "$cap"},
            {"per_award": "$cap"},
            policy_id="xx-fixed",
            params={"min": 10, "cap": 1000000},
        ),
        policy(
            {
                "any": [
                    {
                        "expr": {"ratio": [{"fact": "tech_staff"}, {"fact": "employees"}]},
                        "op": "ge",
                        "value": "0.1",
                    },
                    {
                        "expr": {
                            "ratio": [
                                {"sum_years": "rd_expense", "span": 3},
                                {"sum_years": "revenue", "span": 3},
                            ]
                        },
                        "op": "ge",
                        "value": "0.05",
                        "id": "rd",
                        "text": {"zh": "研发投入", "en": "R&D intensity"},
                    },
                ],
                "text": {"zh": "创新性", "en": "innovation"},
            },
            {"share": {"base": {"fact": "years.{fy}.rent_paid"}, "rate": rent_rate}},
            {"per_award": 800000, "max_years": 3},
            policy_id="xx-share",
        ),
        policy(
            {"fact": "kind", "op": "eq", "value": "enterprise"},
            {
                "performance": {
                    "score": {"fact": "years.{fy}.performance.xx-perf"},
                    "of": "$cap",
                    "tiers": [
                        {"min": 90, "share": "1"},
                        {"min": 75, "share": "0.6"},
                        {"min": 60, "share": "0.3"},
                    ],
                }
            },
            {"per_award": "$cap"},
            policy_id="xx-perf",
            params={"cap": 5000000},
        ),
        policy(
            {"date_within": "lease.start_on", "from_year": -3, "to_year": 0},
            {
                "per_unit": {
                    "quantity": {"fact": "lease.area_m2"},
                    "quantity_cap": 1000,
                    "unit_price": {"fact": "lease.price"},
                    "unit_price_cap": "$price",
                    "periods": {"months_in_year": "lease.start_on"},
                    "rate": {"by_subsidy_year": {1: "1", 2: "0.5", 3: "0.5"}},
                    "not_above": {"fact": "years.{fy}.rent_paid"},
                }
            },
            {"per_award": 1500000, "max_years": 3},
            policy_id="xx-rent",
            params={"price": 80},
        ),
        policy(
            {"years_since": "registered_on", "op": "ge", "value": 1},
            {"set_by_reviewer": {"zh": "主管部门核定", "en": "set by the department"}},
            {"per_award": 300000},
            policy_id="xx-reviewer",
        ),
        policy(
            hte,
            {
                "tax_estimate": {
                    "base": {"fact": "years.{fy}.taxable_income"},
                    "share": "0.1",
                    "tax_rate": "1",
                    "tax_rate_when": [
                        {"when": {"fact": "employees", "op": "le", "value": 5}, "rate": "0.5"}
                    ],
                }
            },
            policy_id="xx-tax",
        ),
        policy(
            {"fact": "industry", "op": "not_in", "value": ["retail"]},
            {"no_amount": {"zh": "绿色通道", "en": "fast track"}},
            policy_id="xx-service",
        ),
        policy(
            {"first_time_above": {"fact": "operating_income", "threshold": "$t", "lookback": 2}},
            {"fixed": 200000},
            {"once_per": "enterprise"},
            policy_id="xx-milestone",
            params={"t": 100000000},
        ),
        policy(
            {"recognition": {"kind": "quality_benchmark", "granted_from": -1, "granted_to": 0}},
            {"fixed": 600000},
            {
                "per_award": 500000,
                "once_per": "recognition",
                "recognition_kind": "quality_benchmark",
            },
            policy_id="xx-quality",
        ),
        policy(
            {"recognition": {"kind": "green_factory"}},
            {"share": {"base": {"fact": "years.{fy}.revenue"}, "rate": {"default": "0.01"}}},
            {"per_award": 500000},
            policy_id="xx-green-a",
            exclusivity=("green", "highest_only"),
        ),
        policy(
            {"recognition": {"kind": "green_supply_chain"}},
            {"share": {"base": {"fact": "years.{fy}.rd_expense"}, "rate": {"default": "0.05"}}},
            {"per_award": 500000},
            policy_id="xx-green-b",
            exclusivity=("green", "highest_only"),
        ),
        policy(
            {"fact": "employees", "op": "gt", "value": 0},
            {"share": {"base": {"fact": "years.{fy}.revenue"}, "rate": {"default": "0.001"}}},
            {"per_award": 100000},
            policy_id="xx-city-top",
            exclusivity=("demo", "top_up"),
        ),
        policy(
            hte,
            {"fixed": 50000},
            policy_id="xx-district-top",
            exclusivity=("demo", "top_up"),
            effective_from="2022-01-01",
        ),
    ]


INLINE = _inline_policies()
INLINE_GROUPS = ["green", "demo"]
REVIEWER_AMOUNT = st.one_of(st.none(), st.decimals(min_value=0, max_value=10**7, places=3))


@SETTINGS
@given(data=st.data(), fiscal_year=st.integers(2019, 2027), reviewer=REVIEWER_AMOUNT)
def test_inline_policies_hold_the_engine_properties(
    data: st.DataObject, fiscal_year: int, reviewer: Decimal | None
) -> None:
    if data.draw(st.booleans(), label="from a complete profile"):
        profile, fiscal_year = data.draw(mutated([(complete_profile(), 2024)]), label="profile")
    else:
        profile = data.draw(
            profiles(INLINE_FACTS, ["xx-perf", "xx-other"], fiscal_year), label="profile"
        )
    history = data.draw(
        histories([p.id for p in INLINE], INLINE_GROUPS, fiscal_year), label="history"
    )
    check_all(INLINE, profile, fiscal_year, history, reviewer)


# --------------------------------------------------------------------------- the real catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    found = _real_catalog()
    if found is None:
        pytest.skip(_NO_CATALOG)
    return found


def test_real_catalog_holds_the_engine_properties(catalog: Catalog) -> None:
    policies = list(catalog)
    shapes = catalog_facts(catalog)
    ids = sorted(catalog.policies)
    groups = sorted(
        {v.exclusivity.group for p in policies for v in p.versions if v.exclusivity is not None}
    )
    kinds = tuple(sorted(catalog.words.get("recognition_kind", ()))) or RECOGNITION_KINDS
    # the policies' own example profiles: mutated, they often meet every clause (the
    # eligible ones weigh three times as much, so amounts are checked often)
    cases = [case for p in policies for case in p.cases]
    seeds = [
        (case.profile, case.fiscal_year)
        for case in cases
        for _ in range(3 if case.expect.status == "eligible" else 1)
    ]

    @SETTINGS
    @given(data=st.data(), fiscal_year=st.integers(2019, 2027), reviewer=REVIEWER_AMOUNT)
    def run(data: st.DataObject, fiscal_year: int, reviewer: Decimal | None) -> None:
        if data.draw(st.booleans(), label="from a policy's own case"):
            profile, fiscal_year = data.draw(mutated(seeds), label="profile")
        else:
            profile = data.draw(profiles(shapes, ids, fiscal_year), label="profile")
        if isinstance(profile.get("recognitions"), list) and data.draw(st.integers(0, 3)) == 0:
            # recognitions of the catalog's own kinds, so recognition rules can hold
            profile["recognitions"] = data.draw(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "kind": st.sampled_from(kinds),
                            "level": st.sampled_from(LEVELS),
                            "granted_on": DATE_TEXT,
                        },
                        optional={"expires_on": DATE_TEXT},
                    ),
                    max_size=4,
                ),
                label="recognitions",
            )
        history = data.draw(histories(ids, groups, fiscal_year), label="history")
        check_all(policies, profile, fiscal_year, history, reviewer)

    run()


def test_real_catalog_cases_profiles_hold_the_engine_properties(catalog: Catalog) -> None:
    """Each policy's own example profiles, evaluated against their policy, and against
    every policy of the catalog for the eligible ones and one in four of the others (the
    boundary cases of a threshold differ in one figure: all of them against the whole
    catalog would cost minutes and find nothing more)."""
    policies = list(catalog)
    for pol in policies:
        for i, case in enumerate(pol.cases):
            check_all([pol], case.profile, case.fiscal_year, [], None)
            if case.expect.status == "eligible" or i % 4 == 0:
                check_all(policies, case.profile, case.fiscal_year, [], None, singly=False)


def complete_profile() -> dict[str, Any]:
    """A profile that settles every inline policy (eligible, most with an amount)."""
    fy = 2024
    profile: dict[str, Any] = {
        "kind": "enterprise",
        "registered_on": "2015-01-01",
        "industry": "software_information",
        "employees": 100,
        "tech_staff": 20,
        "compliance": {"serious_dishonesty": False},
        "lease": {"area_m2": "800", "price": "60", "start_on": "2023-01-01"},
        "recognitions": [
            {
                "kind": "high_tech_enterprise",
                "level": "national",
                "granted_on": "2023-11-30",
                "expires_on": "2026-11-29",
            },
            {"kind": "quality_benchmark", "level": "national", "granted_on": "2024-03-01"},
            {"kind": "green_factory", "level": "national", "granted_on": "2022-03-01"},
            {"kind": "green_supply_chain", "level": "national", "granted_on": "2022-03-01"},
        ],
        "years": {
            str(y): {
                "revenue": "50000000",
                "rd_expense": "3000000",
                "operating_income": "50000000",
                "rent_paid": "500000",
                "taxable_income": "4000000",
                "performance": {"xx-perf": 91},
            }
            for y in range(fy - 5, fy + 1)
        },
    }
    profile["years"][str(fy)]["operating_income"] = "150000000"
    return profile


def test_a_complete_profile_settles_the_inline_policies() -> None:
    """A sanity anchor for the random tests: a full profile leaves nothing undetermined."""
    fy = 2024
    profile = complete_profile()
    results = {ev.policy_id: ev for ev in evaluate_catalog(INLINE, profile, fy)}
    assert {pid for pid, ev in results.items() if ev.status == "undetermined"} == set()
    assert results["xx-fixed"].amount == Decimal("1000000.00")
    assert results["xx-milestone"].amount == Decimal("200000.00")
    assert results["xx-quality"].amount == Decimal("500000.00")
    assert results["xx-perf"].amount == Decimal("5000000.00")
    assert results["xx-rent"].amount == Decimal("500000.00")  # min(800 × 60 × 12, rent paid)
    assert results["xx-tax"].amount == Decimal("400000.00")
    assert results["xx-reviewer"].amount_basis == "set_by_reviewer"
    # both green policies pay 500,000 (capped); the tie goes to the first id
    assert results["xx-green-a"].status == "eligible"
    assert results["xx-green-b"].status == "ineligible"
    assert results["xx-city-top"].amount == Decimal("50000.00")
    assert results["xx-district-top"].status == "ineligible"
