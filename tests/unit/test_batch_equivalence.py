"""The batch engine answers exactly as the per-profile engine, row by row.

Thousands of seeded random profiles read every fact the real catalog reads, and aim at
the places where a vectorised engine could drift from the ``Decimal`` one: values
exactly at thresholds, ratios exactly at 5 %, growth exactly at the floor, rents at
the unit-price cap, half-fen amounts, dates on the edges of windows, recognitions
several and undated, missing facts and facts of the wrong type, huge, tiny, negative
and zero values, extra or odd year keys, and some award histories. For every row,
policy and fiscal year (2023 and 2024), status, amount (as exact ``Decimal`` text),
amount basis and missing facts must be identical.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.catalog.loader import load_catalog
from app.catalog.schema import PolicyFile
from app.domain.batch import (
    CatColumn,
    NumColumn,
    ProfileTable,
    compile_policy,
    evaluate_population,
    required_columns,
    table_from_profiles,
)
from app.domain.engine import evaluate_catalog, select_version
from app.domain.results import PriorAward

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"
ROWS_PER_YEAR = 1300
YEARS = (2023, 2024)

KINDS = ["enterprise"] * 6 + ["incubator", "rd_institution", "platform", "Enterprise", 5, True]
CITIES = ["nanjing"] * 5 + ["wuhan", "suzhou", "Nanjing"]
DISTRICTS = ["jiangning", "xuanwu", "gaochun", "pukou", "hongshan", "nowhere"]
INDUSTRIES = ["software_information"] * 3 + [
    "manufacturing",
    "tobacco",
    "real_estate",
    "wholesale_retail",
    "finance",
    "scientific_research_technical",
]
CHAINS = ["integrated_circuits", "artificial_intelligence", "smart_grid", "rail_transit", "other"]
FIELDS = ["electronic_information", "biomedicine", "new_materials", "space_magic"]
RECOGNITIONS = [
    "tech_sme",
    "high_tech_enterprise",
    "specialized_sme",
    "little_giant",
    "green_factory",
    "green_supply_chain",
    "ip_benchmark",
    "quality_benchmark",
    "tech_innovation_demo",
    "service_manufacturing_demo",
    "industrial_design_center",
    "consortium_leader",
    "new_rd_institution",
    "generic_tech_platform",
    "public_platform",
    "ai_computing_center",
    "overseas_innovation_base",
    "overseas_collaborative_center",
    "international_cooperation_park",
    "incubator",
    "maker_space",
]
LEVELS = ["national"] * 3 + ["provincial", "municipal", "district", "galactic", None, ["national"]]
ODD_NUMBERS: list[Any] = [
    "abc",
    "",
    "NaN",
    "Infinity",
    True,
    "1e30",
    "-1e30",
    "1e31",
    "-1e-31",
    "0.0000001",
    "1E+6",
    " 100 ",
    "-0",
    [1],
    {"x": 1},
    1e-7,
    12.5,
]
PERFORMANCE_POLICIES = [
    "nj-generic-tech-platform",
    "nj-innovation-consortium",
    "nj-overseas-innovation",
    "nj-public-platform",
    "js-incubator-performance",
]


class Generator:
    """Random profiles for a fiscal year, biased towards the catalog's edges."""

    def __init__(self, seed: int, fiscal_year: int) -> None:
        self.r = random.Random(seed)
        self.fy = fiscal_year

    def maybe(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, options: list[Any]) -> Any:
        return self.r.choice(options)

    def put(
        self, profile: dict[str, Any], key: str, make: Callable[[], Any], p: float = 0.85
    ) -> None:
        """Set a fact most of the time; sometimes leave it out, null it or mistype it."""
        roll = self.r.random()
        if roll < p:
            profile[key] = make()
        elif roll < p + 0.04:
            profile[key] = None
        elif roll < p + 0.07:
            profile[key] = self.pick(ODD_NUMBERS)

    def money(self, scale: float = 3e7) -> str:
        """Log-normal yuan with fen, or a round figure."""
        value = Decimal(str(round(self.r.lognormvariate(0, 1.5) * scale, 2)))
        if self.maybe(0.15):
            value = Decimal(self.pick([0, 1, 10**6, 10**7, 5 * 10**7, 10**8, 2 * 10**8]))
        return f"{value:.2f}" if self.maybe(0.8) else str(value)

    def day(self, year: int) -> str:
        edges = [date(year, 1, 1), date(year, 12, 31), date(year - 1, 12, 31), date(year + 1, 1, 1)]
        if self.maybe(0.5):
            return self.pick(edges).isoformat()
        return (date(year, 1, 1) + timedelta(days=self.r.randrange(366))).isoformat()

    def date_fact(self, years_back: range) -> Any:
        if self.maybe(0.05):
            return self.pick(["2021-13-01", "yesterday", 20210101, "20210315"])
        return self.day(self.fy - self.r.choice(years_back))

    def recognition(self) -> Any:
        if self.maybe(0.03):
            return self.pick(["hte", None, 7, {"level": "national"}])
        item: dict[str, Any] = {"kind": self.pick(RECOGNITIONS)}
        if self.maybe(0.02):
            item["kind"] = self.pick([None, 3, "unknown_title"])
        if (level := self.pick(LEVELS)) is not None:
            item["level"] = level
        if not self.maybe(0.1):
            item["granted_on"] = self.date_fact(range(-1, 5))
        if self.maybe(0.6):
            item["expires_on"] = self.pick(
                [date(self.fy - 1, 12, 31), date(self.fy, 1, 1), date(self.fy + 2, 6, 30)]
            ).isoformat()
        return item

    def years(self) -> dict[str, Any]:
        fy, out = self.fy, {}
        for year in range(fy - 4, fy + 1):
            if self.maybe(0.12):
                continue
            facts: dict[str, Any] = {}
            revenue = Decimal(self.money())
            self.put(facts, "revenue", lambda revenue=revenue: f"{revenue:.2f}")
            share = self.pick(["0.05", "0.04", "0.03", "0.06", "0.0499", "0.2", "0.001"])
            rd = (revenue * Decimal(share)).quantize(Decimal("0.01"))
            self.put(
                facts,
                "rd_expense",
                lambda rd=rd: f"{rd:.2f}" if self.maybe(0.7) else self.money(1e6),
            )
            self.put(facts, "rd_expense_domestic", lambda rd=rd: f"{rd * Decimal('0.6'):.3f}")
            self.put(
                facts,
                "main_business_revenue",
                lambda revenue=revenue: (
                    f"{revenue * Decimal(self.pick(['0.7', '0.69', '1', '0.8'])):.2f}"
                ),
            )
            self.put(
                facts,
                "high_tech_revenue",
                lambda revenue=revenue: (
                    f"{revenue * Decimal(self.pick(['0.6', '0.59', '0.9'])):.2f}"
                ),
            )
            self.put(
                facts,
                "operating_income",
                lambda: self.pick([self.money(8e7), "100000000", "100000000.01"]),
            )
            self.put(
                facts,
                "taxable_income",
                lambda: self.pick([self.money(2e6), "3000000", "-5000", "0"]),
            )
            assets = Decimal(self.pick([self.money(4e7), "50000000", "200000000"]))
            self.put(facts, "total_assets", lambda assets=assets: str(assets))
            self.put(
                facts,
                "total_liabilities",
                lambda assets=assets: f"{assets * Decimal(self.pick(['0.7', '0.71', '0.2'])):.2f}",
            )
            self.put(
                facts,
                "equity_raised",
                lambda: self.pick([self.money(1e7), "10000000", "30000000", "40000000", "0"]),
            )
            self.put(
                facts,
                "rent_paid",
                lambda: self.pick([self.money(3e5), "768000", "768000.01", "0", "100.05"]),
            )
            if self.maybe(0.5):
                facts["performance"] = {
                    pid: self.pick([59.99, 60, 69, 70, 79.5, 80, 90, "95", 100, "x", None])
                    for pid in PERFORMANCE_POLICIES
                    if self.maybe(0.6)
                }
            out[str(year)] = facts
        if self.maybe(0.1):
            out[self.pick(["2015", "02023", "²", "1999"])] = {
                "operating_income": self.pick(["200000000", "5"])
            }
        return out

    def profile(self) -> dict[str, Any]:
        p: dict[str, Any] = {"name": "random"}
        self.put(p, "kind", lambda: self.pick(KINDS), 0.9)
        self.put(p, "registered_on", lambda: self.date_fact(range(0, 8)))
        if not self.maybe(0.05):
            loc: dict[str, Any] = {}
            self.put(loc, "province", lambda: self.pick(["jiangsu", "hubei"]), 0.9)
            self.put(loc, "city", lambda: self.pick(CITIES), 0.9)
            self.put(loc, "district", lambda: self.pick(DISTRICTS))
            p["location"] = loc if not self.maybe(0.02) else "nanjing"
        self.put(p, "industry", lambda: self.pick(INDUSTRIES))
        self.put(p, "industry_chain", lambda: self.pick(CHAINS), 0.6)
        self.put(p, "hte_field", lambda: self.pick(FIELDS))
        employees = self.r.choice([10, 120, 300, 301, 500, 501, self.r.randrange(1, 2000)])
        self.put(p, "employees", lambda: employees if self.maybe(0.8) else str(employees))
        tech = self.pick([employees // 10, employees * 0.1, employees // 2, 0])
        self.put(
            p,
            "tech_staff",
            lambda: tech if not isinstance(tech, float) else str(Decimal(str(tech))),
        )
        self.put(p, "rd_staff", lambda: self.pick([employees // 2, employees * 0.5, 1]))
        if self.maybe(0.85):
            p["recognitions"] = [
                self.recognition() for _ in range(self.r.choice([0, 1, 1, 2, 3, 5]))
            ]
        elif self.maybe(0.3):
            p["recognitions"] = {"kind": "tech_sme"}
        ip: dict[str, Any] = {}
        self.put(ip, "class_i", lambda: self.r.randrange(0, 4))
        self.put(ip, "class_ii", lambda: self.r.randrange(0, 4))
        p["ip"] = ip
        self.put(p, "innovation_score", lambda: self.pick([70, 70.5, 69, 85, "71"]))
        self.put(p, "tech_sme_score", lambda: self.pick([60, 59, 75]))
        self.put(p, "specialized_sme_score", lambda: self.pick([60, 59.5, 80]))
        self.put(p, "niche_years", lambda: self.r.randrange(0, 6))
        self.put(
            p, "national_market_share", lambda: self.pick(["0.1", "0.0999999", "0.100001", "0.3"])
        )
        for flag in ("own_brand", "own_rd_institution"):
            self.put(p, flag, lambda: self.pick([True, False, "true"]))
        comp: dict[str, Any] = {}
        self.put(comp, "serious_dishonesty", lambda: self.pick([False] * 6 + [True, "no"]))
        self.put(comp, "major_incident_last_year", lambda: self.pick([False] * 6 + [True]))
        p["compliance"] = comp
        self.put(p, "tax", lambda: {"book_based": self.pick([True, True, False, None])}, 0.8)
        lease: dict[str, Any] = {}
        self.put(
            lease,
            "area_m2",
            lambda: self.pick(["800", "1000", "1000.5", "2000", "0", "-5", "333.33"]),
        )
        self.put(lease, "start_on", lambda: self.date_fact(range(-1, 4)))
        p["lease"] = lease
        if not self.maybe(0.03):
            p["years"] = self.years()
        # Applied for in the year after the fiscal year, or a year either side.
        self.put(p, "application_date", lambda: self.date_fact(range(-2, 1)), 0.5)
        return p


def _history(r: random.Random, policies: list[PolicyFile], fy: int) -> list[PriorAward]:
    awards = []
    for _ in range(r.choice([1, 1, 2, 3])):
        policy = r.choice(policies)
        version = select_version(policy, fy)
        group = version.exclusivity.group if version and version.exclusivity else None
        awards.append(
            PriorAward(
                policy.id,
                fy - r.choice([0, 0, 1, 2, 3]),
                Decimal(r.choice(["100000.00", "500000.00", "0.00", "2500000.00"])),
                r.choice([None, "ip_benchmark:2023-06-30", "quality_benchmark:2024-01-01"]),
                group,
            )
        )
    return awards


@pytest.fixture(scope="module")
def policies() -> list[PolicyFile]:
    return list(load_catalog(CATALOG_DIR))


Answer = tuple[str, str | None, str, tuple[str, ...], tuple[str, ...]]


def _reference(
    policies: list[PolicyFile],
    fiscal_year: int,
    rows: list[tuple[dict[str, Any], list[PriorAward]]],
) -> list[dict[str, Answer]]:
    """The per-profile engine's answers, row by row.

    In this process: a forked pool here once hung the suite (a child inherited a lock
    held by another thread of the xdist worker at the fork).
    """
    out = []
    for profile, history in rows:
        evaluations = evaluate_catalog(policies, profile, fiscal_year, history)
        out.append(
            {
                ev.policy_id: (
                    ev.status,
                    None if ev.amount is None else str(ev.amount),
                    ev.amount_basis,
                    tuple(sorted(ev.missing_facts)),
                    ev.findings_required,
                )
                for ev in evaluations
            }
        )
    return out


def _answer(result: Any, policy_id: str, row: int) -> Answer:
    amount = result.amount(policy_id, row)
    return (
        result.status_of(policy_id, row),
        None if amount is None else str(amount),
        result.basis(policy_id, row),
        tuple(sorted(result.missing_facts(policy_id, row))),
        result.findings_required(policy_id, row),
    )


def _compared(policies: list[PolicyFile], fiscal_year: int) -> list[PolicyFile]:
    """The policies the batch engine vectorises that year, and their exclusivity groups.

    (All of the catalog's now; a policy it could not vectorise would be answered by the
    per-profile engine inside the batch engine, and comparing it would hold that engine
    to itself.)
    """
    vectorised = [p for p in policies if compile_policy(p, fiscal_year).unsupported is None]
    groups = {
        v.exclusivity.group
        for p in vectorised
        if (v := select_version(p, fiscal_year)) is not None and v.exclusivity is not None
    }
    return [
        p
        for p in policies
        if p in vectorised
        or (
            (v := select_version(p, fiscal_year)) is not None
            and v.exclusivity is not None
            and v.exclusivity.group in groups
        )
    ]


def test_every_policy_is_vectorised(policies: list[PolicyFile]) -> None:
    for fiscal_year in YEARS:
        for policy in policies:
            reason = compile_policy(policy, fiscal_year).unsupported
            assert reason is None, (policy.id, reason)


@pytest.mark.parametrize("fiscal_year", YEARS)
def test_batch_matches_per_profile_engine(policies: list[PolicyFile], fiscal_year: int) -> None:
    policies = _compared(policies, fiscal_year)
    gen = Generator(seed=fiscal_year, fiscal_year=fiscal_year)
    profiles = [gen.profile() for _ in range(ROWS_PER_YEAR)]
    histories = {
        row: _history(gen.r, policies, fiscal_year)
        for row in range(ROWS_PER_YEAR)
        if gen.maybe(0.04)
    }
    table = table_from_profiles(profiles, required_columns(policies, fiscal_year))
    result = evaluate_population(policies, table, fiscal_year, histories)

    expected = _reference(
        policies, fiscal_year, [(p, histories.get(row, [])) for row, p in enumerate(profiles)]
    )
    mismatches = []
    for row, answers in enumerate(expected):
        assert len(answers) == len(policies)
        for policy_id, want in answers.items():
            got = _answer(result, policy_id, row)
            if got != want:
                mismatches.append((row, policy_id, got, want))
    assert not mismatches, f"{len(mismatches)} differences, first: {mismatches[:5]}"

    # The comparison must exercise the vectorised path, not only the fallback.
    vectorised = [p.id for p in policies if p.id not in result.unsupported]
    fallback = sum(n for pid, n in result.fallback_counts().items() if pid in vectorised)
    assert len(result.full_rows) < 0.1 * ROWS_PER_YEAR
    assert fallback < 0.02 * ROWS_PER_YEAR * len(vectorised)
    statuses = {s for pid in result.columns for s in result.status(pid).tolist()}
    assert statuses == {0, 1, 2}


NANJING = {"fact": "location.city", "op": "eq", "value": "nanjing"}
RD = {"fact": "years.{fy}.rd_expense"}
REVENUE = {"fact": "years.{fy}.revenue"}


def _inline_policies() -> list[PolicyFile]:
    """Constructs the catalog does not use yet, so the batch engine's general paths are
    compared too: top-up and highest-only groups (with ties), growth tiers, caps that
    leave nothing, half-fen ceilings, quotients of quotients, floats near thresholds."""
    from .builders import policy

    return [
        policy(
            {"all": [NANJING, {"fact": "years.{fy}.rd_expense", "op": "gt", "value": 0}]},
            {
                "share": {
                    "base": RD,
                    "rate": {
                        "default": "$base",
                        "by_growth": {
                            "expr": {"growth": "revenue", "span": 1},
                            "tiers": [{"min": "$hi", "rate": "1"}, {"min": "$mid", "rate": "$mr"}],
                        },
                    },
                }
            },
            {"per_award": "$cap"},
            policy_id="xx-share",
            params={"base": "0.5", "hi": "0.3", "mid": "0.15", "mr": "0.75", "cap": "1000000.005"},
            exclusivity=("xx-top", "top_up"),
        ),
        policy(
            NANJING,
            {"fixed": "$a"},
            policy_id="xx-fixed",
            params={"a": "100000"},
            exclusivity=("xx-top", "top_up"),
        ),
        policy(
            NANJING,
            {"fixed": "$a"},
            policy_id="xx-tie-b",
            params={"a": "100000"},
            exclusivity=("xx-high", "highest_only"),
        ),
        policy(
            {"any": [{"fact": "kind", "op": "in", "value": [1, "enterprise", True]}, NANJING]},
            {"fixed": "$a"},
            policy_id="xx-tie-a",
            params={"a": "100000"},
            exclusivity=("xx-high", "highest_only"),
        ),
        policy(
            {
                "not": {
                    "first_time_above": {
                        "fact": "operating_income",
                        "threshold": "$t",
                        "lookback": 2,
                    }
                }
            },
            {
                "per_unit": {
                    "quantity": {"fact": "lease.area_m2"},
                    "quantity_cap": "$area",
                    "unit_price_cap": "$price",
                    "periods": {"months_in_year": "lease.start_on"},
                    "rate": {"default": "$rate"},
                    "not_above": {"fact": "years.{fy}.rent_paid"},
                }
            },
            {"per_award": "$cap"},
            policy_id="xx-rent",
            params={
                "t": "100000000",
                "area": "500",
                "price": "80",
                "rate": "0.333",
                "cap": "123456.785",
            },
        ),
        policy(
            NANJING,
            {"fixed": "100"},
            {"per_award": "$zero"},
            policy_id="xx-spent",
            params={"zero": "0"},
        ),
        policy(
            NANJING,
            {"fixed": "100"},
            {"max_years": "$zero"},
            policy_id="xx-never",
            params={"zero": "0"},
        ),
        policy(
            {"fact": "compliance.serious_dishonesty", "op": "ne", "value": True},
            {
                "performance": {
                    "score": {
                        "ratio": [
                            {"fact": "years.{fy}.performance.nj-public-platform"},
                            {"fact": "niche_years"},
                        ]
                    },
                    "of": "$of",
                    "tiers": [{"min": "20", "share": "1"}, {"min": "12", "share": "0.6"}],
                }
            },
            policy_id="xx-perf",
            params={"of": "1000.01"},
        ),
        policy(
            {"fact": "years.{fy}.taxable_income", "op": "ne", "value": 0},
            {
                "tax_estimate": {
                    "base": {"fact": "years.{fy}.taxable_income"},
                    "share": "0.5",
                    "share_when": [
                        {
                            "when": {
                                "any": [
                                    {"fact": "industry", "op": "eq", "value": "manufacturing"},
                                    {"recognition": {"kind": "tech_sme", "valid_in_year": True}},
                                ]
                            },
                            "share": "1",
                        },
                        {"when": {"fact": "niche_years", "op": "ge", "value": 3}, "share": "1.2"},
                    ],
                    "tax_rate": "0.25",
                    "tax_rate_when": [
                        {
                            "when": {"fact": "tax.book_based", "op": "eq", "value": True},
                            "rate": "0.15",
                        },
                        {"when": {"fact": "employees", "op": "le", "value": 300}, "rate": "0.05"},
                    ],
                }
            },
            policy_id="xx-tax",
        ),
        policy(
            {
                "any": [
                    {"fact": "niche_years", "op": "not_in", "value": 3},
                    {
                        "all": [
                            {
                                "expr": {"ratio": [RD, REVENUE]},
                                "op": "ge",
                                "value": {
                                    "ratio": [
                                        {"fact": "years.{fy-1}.rd_expense"},
                                        {"fact": "years.{fy-1}.revenue"},
                                    ]
                                },
                            },
                            {
                                "expr": {"growth": "main_business_revenue", "span": 2},
                                "op": "lt",
                                "value": "0.5",
                            },
                            {
                                "expr": {
                                    "product": [
                                        {"ratio": [{"fact": "tech_staff"}, {"fact": "employees"}]},
                                        {"fact": "niche_years"},
                                    ]
                                },
                                "op": "gt",
                                "value": "0.2",
                            },
                            {"not": {"fact": "employees", "op": "eq", "value": 300}},
                            {"years_since": "registered_on", "op": "lt", "value": "2.5"},
                            {"date_within": "lease.start_on", "from_year": -1},
                        ]
                    },
                ]
            },
            {"no_amount": {"zh": "无", "en": "none"}},
            policy_id="xx-compare",
        ),
        policy(
            {
                "any": [
                    {"days_before_application": {"since": "registered_on", "min": "365"}},
                    {"days_before_application": {"since": "lease.start_on", "min": "1000.5"}},
                    {"finding": "xx_selected"},
                ]
            },
            {"fixed": "1000"},
            policy_id="xx-application",
        ),
    ]


def test_inline_constructs_match_per_profile_engine() -> None:
    fy = 2024
    policies = _inline_policies()
    gen = Generator(seed=99, fiscal_year=fy)
    profiles = [gen.profile() for _ in range(400)]
    histories = {row: _history(gen.r, policies, fy) for row in range(400) if gen.maybe(0.05)}
    table = table_from_profiles(profiles, required_columns(policies, fy))
    result = evaluate_population(policies, table, fy, histories)
    assert not result.unsupported
    rows = [(p, histories.get(row, [])) for row, p in enumerate(profiles)]
    expected = _reference(policies, fy, rows)
    mismatches = [
        (row, policy_id, got, want)
        for row, answers in enumerate(expected)
        for policy_id, want in answers.items()
        if (got := _answer(result, policy_id, row)) != want
    ]
    assert not mismatches, f"{len(mismatches)} differences, first: {mismatches[:5]}"
    assert {s for pid in result.columns for s in result.status(pid).tolist()} == {0, 1, 2}


def test_generated_columns_rebuild_the_same_answers(policies: list[PolicyFile]) -> None:
    """A table built from arrays (as the benchmark builds it) explains its rows alike."""
    fy = 2024
    n = 4
    table = ProfileTable.from_columns(
        n,
        num={
            "years.2024.taxable_income": NumColumn(_ints([250000000, 0, -100, 12345]), 2, _known(n))
        },
        cat={"kind": CatColumn(_ints([0, 0, 1, -1]), ("enterprise", "incubator"))},
    )
    sub = [p for p in policies if p.id == "cn-hte-tax-rate"]
    with pytest.raises(KeyError, match="recognitions"):
        evaluate_population(sub, table, fy)
    profile = table.profile(0)
    assert profile == {"kind": "enterprise", "years": {"2024": {"taxable_income": "2500000.00"}}}


def _ints(values: list[int]) -> Any:
    import numpy as np

    return np.array(values, dtype=np.int64)


def _known(n: int) -> Any:
    import numpy as np

    return np.ones(n, dtype=bool)
