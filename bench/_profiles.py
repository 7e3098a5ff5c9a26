"""A synthetic population of profiles as columns, for the batch engine's benchmark.

Generated directly as arrays, never as dicts: log-normal revenue (median 20 million
yuan, four years with a yearly growth factor) and staff, R&D shares from beta
distributions, a lease on a quarter of the rows, rare honours, performance scores on
1 % of rows, and facts missing at 1 %–80 % depending on the fact. The same seed gives
the same population with any version of the engine (``bench/batch.py`` compares two).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import numpy as np

from app.domain.batch import (
    FALSE_CODE,
    MISSING_CODE,
    NO_DATE,
    TRUE_CODE,
    CatColumn,
    DateColumn,
    NumColumn,
    ProfileTable,
    RecognitionColumn,
    Spec,
    day_number,
)

NANJING_DISTRICTS = ["xuanwu", "qinhuai", "jianye", "gulou", "pukou", "qixia", "yuhuatai"]
NANJING_DISTRICTS += ["jiangning", "liuhe", "lishui", "gaochun"]
#: Recognition kinds with the share of entities holding one: common titles, rare honours.
HONOURS = {
    "tech_sme": 0.25,
    "high_tech_enterprise": 0.12,
    "innovative_sme": 0.06,
    "specialized_sme": 0.04,
    "little_giant": 0.005,
    "single_champion": 0.002,
    "tech_innovation_demo": 0.01,
    "quality_benchmark": 0.01,
    "ip_benchmark": 0.015,
    "green_factory": 0.02,
    "green_supply_chain": 0.005,
    "service_manufacturing_demo": 0.005,
    "industrial_design_center": 0.01,
    "consortium_leader": 0.003,
    "new_rd_institution": 0.005,
    "generic_tech_platform": 0.003,
    "public_platform": 0.002,
    "ai_computing_center": 0.001,
    "overseas_innovation_base": 0.002,
    "incubator": 0.01,
    "maker_space": 0.01,
}


class Gen:
    """Vectorised draws for ``n`` rows."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.rng = n, np.random.default_rng(seed)

    def mask(self, p: float) -> Any:
        return self.rng.random(self.n) < p

    def cat(self, words: list[str], weights: list[float], missing: float) -> CatColumn:
        p = np.array(weights, dtype=float)
        codes = self.rng.choice(len(words), self.n, p=p / p.sum()).astype(np.int8)
        codes[self.mask(missing)] = MISSING_CODE
        return CatColumn(codes, tuple(words))

    def flag(self, p_true: float, missing: float) -> CatColumn:
        codes = np.where(self.mask(p_true), TRUE_CODE, FALSE_CODE).astype(np.int8)
        codes[self.mask(missing)] = MISSING_CODE
        return CatColumn(codes, ())

    def num(self, values: Any, scale: int, missing: float, dtype: Any = np.int64) -> NumColumn:
        known = ~self.mask(missing)
        return NumColumn(np.where(known, values, 0).astype(dtype), scale, known)

    def dates(self, first: date, last: date, missing: float) -> DateColumn:
        days = self.rng.integers(day_number(first), day_number(last) + 1, self.n, dtype=np.int32)
        known = ~self.mask(missing)
        return DateColumn.of(np.where(known, days, 0).astype(np.int32), known)


def generate(n: int, fy: int, seed: int, specs: Iterable[Spec] = ()) -> ProfileTable:
    """A synthetic population as columns, for every fact the catalog reads.

    Facts of ``specs`` it does not model (rare awards, official lists, sub-scores) are
    given by no row: their clauses stay unknown, as for an enterprise that never said.
    """
    g, rng = Gen(n, seed), np.random.default_rng(seed + 1)
    cat = {
        "kind": g.cat(
            ["enterprise", "incubator", "rd_institution", "platform"], [93, 3, 2, 2], 0.01
        ),
        "location.province": g.cat(["jiangsu", "hubei"], [80, 20], 0.02),
        "location.city": g.cat(["nanjing", "suzhou", "wuxi", "wuhan"], [40, 25, 15, 20], 0.02),
        "location.district": g.cat(NANJING_DISTRICTS, [1] * len(NANJING_DISTRICTS), 0.05),
        "industry": g.cat(
            [
                "manufacturing",
                "software_information",
                "wholesale_retail",
                "scientific_research_technical",
                "real_estate",
                "leasing_business_services",
            ],
            [35, 20, 20, 15, 5, 5],
            0.03,
        ),
        "industry_chain": g.cat(
            [
                "integrated_circuits",
                "artificial_intelligence",
                "biomedicine",
                "smart_grid",
                "other",
            ],
            [5, 5, 5, 5, 30],
            0.5,
        ),
        "hte_field": g.cat(
            [
                "electronic_information",
                "biomedicine",
                "new_materials",
                "advanced_manufacturing_automation",
            ],
            [4, 2, 2, 3],
            0.4,
        ),
        "own_brand": g.flag(0.4, 0.2),
        "own_rd_institution": g.flag(0.3, 0.2),
        "compliance.serious_dishonesty": g.flag(0.01, 0.05),
        "compliance.major_incident_last_year": g.flag(0.005, 0.05),
        "tax.book_based": g.flag(0.9, 0.05),
        "foreign_invested": g.flag(0.05, 0.3),
        "overseas_rd_institution": g.flag(0.01, 0.6),
        "innovation_center_bid": g.flag(0.01, 0.6),
        f"years.{fy}.ic_rd_list": g.flag(0.005, 0.5),
        f"years.{fy}.machine_tool_rd_list": g.flag(0.005, 0.5),
    }
    employees = np.maximum(1, rng.lognormal(3.4, 1.2, n)).astype(np.int64)
    num = {
        "employees": g.num(employees, 0, 0.03, np.int32),
        "tech_staff": g.num((employees * rng.beta(2, 8, n)).astype(np.int64), 0, 0.1, np.int32),
        "rd_staff": g.num((employees * rng.beta(2, 10, n)).astype(np.int64), 0, 0.1, np.int32),
        "ip.class_i": g.num(rng.poisson(0.8, n), 0, 0.1, np.int32),
        "ip.class_ii": g.num(rng.poisson(3.0, n), 0, 0.1, np.int32),
        "innovation_score": g.num(rng.integers(40, 101, n), 0, 0.7, np.int32),
        "tech_sme_score": g.num(rng.integers(30, 101, n), 0, 0.6, np.int32),
        "specialized_sme_score": g.num(rng.integers(30, 101, n), 0, 0.8, np.int32),
        "niche_years": g.num(rng.integers(0, 16, n), 0, 0.5, np.int32),
        "national_market_share": g.num(
            (rng.beta(1, 30, n) * 10_000).astype(np.int64), 4, 0.7, np.int32
        ),
    }
    # Money in fen: log-normal revenue (median 20 million yuan), a yearly growth factor.
    revenue = rng.lognormal(np.log(2e9), 1.6, n)
    for year in range(fy, fy - 4, -1):
        p = f"years.{year}."
        rd = revenue * rng.beta(2, 40, n)
        num[p + "revenue"] = g.num(revenue.astype(np.int64), 2, 0.05)
        num[p + "main_business_revenue"] = g.num(
            (revenue * rng.beta(20, 3, n)).astype(np.int64), 2, 0.15
        )
        num[p + "high_tech_revenue"] = g.num((revenue * rng.beta(3, 3, n)).astype(np.int64), 2, 0.4)
        num[p + "operating_income"] = g.num(
            (revenue * rng.uniform(0.9, 1.0, n)).astype(np.int64), 2, 0.1
        )
        num[p + "rd_expense"] = g.num(rd.astype(np.int64), 2, 0.1)
        num[p + "rd_expense_domestic"] = g.num((rd * rng.beta(9, 1, n)).astype(np.int64), 2, 0.2)
        num[p + "equity_raised"] = g.num(
            np.where(g.mask(0.05), revenue * rng.uniform(0.1, 3, n), 0).astype(np.int64), 2, 0.2
        )
        if year == fy:
            assets = revenue * rng.lognormal(0.2, 0.5, n)
            num[p + "taxable_income"] = g.num(
                (revenue * rng.normal(0.06, 0.08, n)).astype(np.int64), 2, 0.1
            )
            num[p + "total_assets"] = g.num(assets.astype(np.int64), 2, 0.1)
            num[p + "total_liabilities"] = g.num(
                (assets * rng.beta(4, 4, n)).astype(np.int64), 2, 0.15
            )
        revenue = revenue / rng.lognormal(0.08, 0.2, n)
    # Leases: a quarter of the rows rent premises; the rent paid follows area and price.
    leased = g.mask(0.25)
    area = np.where(leased, rng.lognormal(np.log(400), 0.8, n), 0)
    num["lease.area_m2"] = NumColumn((area * 100).astype(np.int64), 2, leased)
    start = g.dates(date(fy - 4, 1, 1), date(fy + 1, 6, 30), 0.0)
    dates = {"lease.start_on": DateColumn.of(start.days, leased)}
    months = np.clip(np.where(start.year < fy, 12, 13 - start.month.astype(np.int64)), 0, 12)
    rent = area * rng.lognormal(np.log(60), 0.4, n) * months * 100
    num[f"years.{fy}.rent_paid"] = NumColumn(rent.astype(np.int64), 2, leased & ~g.mask(0.1))
    dates["registered_on"] = g.dates(date(fy - 25, 1, 1), date(fy, 12, 31), 0.02)
    # Performance scores: only the few platforms and carriers a department rated.
    # Loan interest: a fifth of the rows borrow; interest follows revenue.
    interest = revenue * rng.beta(2, 60, n) * 1.1**3
    num[f"years.{fy}.loan_interest_paid"] = g.num(
        np.where(g.mask(0.2), interest, 0).astype(np.int64), 2, 0.3
    )
    for policy in [
        "nj-generic-tech-platform",
        "nj-innovation-consortium",
        "nj-new-rd-institution-appraisal",
        "nj-overseas-innovation",
        "nj-public-platform",
    ]:
        num[f"years.{fy}.performance.{policy}"] = g.num(rng.integers(50, 101, n), 0, 0.99, np.int32)
    recognitions = _recognitions(n, fy, rng)
    # Half the rows say when they applied for a recognition: in the year after the accounts.
    dates["application_date"] = g.dates(date(fy + 1, 1, 1), date(fy + 1, 12, 31), 0.5)
    for path, view in specs:
        if view == "num" and path not in num and "*" not in path:
            num[path] = NumColumn(np.zeros(n, dtype=np.int32), 0, np.zeros(n, dtype=bool))
        elif view == "cat" and path not in cat:
            cat[path] = CatColumn(np.full(n, MISSING_CODE, dtype=np.int8), ())
        elif view == "date" and path not in dates:
            dates[path] = DateColumn.of(np.zeros(n, dtype=np.int32), np.zeros(n, dtype=bool))
    return ProfileTable.from_columns(n, num, cat, dates, recognitions)


def _recognitions(n: int, fy: int, rng: np.random.Generator) -> RecognitionColumn:
    """Each kind held independently at its rate; grant dates over six years, some undated."""
    kinds = sorted(HONOURS)
    rows, codes = [], []
    for code, kind in enumerate(kinds):
        holders = np.flatnonzero(rng.random(n) < HONOURS[kind])
        rows.append(holders)
        codes.append(np.full(len(holders), code, dtype=np.int32))
    row, kind = np.concatenate(rows).astype(np.int32), np.concatenate(codes)
    m = len(row)
    levels = ("national", "provincial", "municipal", "district")
    level = rng.choice(4, m, p=[0.5, 0.3, 0.15, 0.05]).astype(np.int16)
    granted = rng.integers(day_number(date(fy - 6, 1, 1)), day_number(date(fy, 12, 31)), m)
    expires = np.where(rng.random(m) < 0.7, granted + 3 * 365, NO_DATE)
    granted = np.where(rng.random(m) < 0.02, NO_DATE, granted)
    return RecognitionColumn(
        ~(rng.random(n) < 0.05),
        row,
        kind,
        tuple(kinds),
        level,
        levels,
        granted.astype(np.int32),
        expires.astype(np.int32),
    )


def float_baseline(table: ProfileTable, fy: int) -> Callable[[], float]:
    """A dozen simple award rules in float numpy: no unknowns, no explanations, no fen."""
    f = {p: c.value / 10.0**c.scale for p, c in table.num.items()}
    city = table.cat["location.city"].codes == 0
    kind = table.cat["kind"].codes == 0
    y = f"years.{fy}."

    def run() -> float:
        revenue, rd = f[y + "revenue"], f[y + "rd_expense"]
        rules = [
            city & kind & (revenue >= 5e7) & (rd / np.maximum(revenue, 1) >= 0.04),
            kind & (f["employees"] <= 500) & (revenue <= 2e8) & (f[y + "total_assets"] <= 2e8),
            kind & (f["tech_staff"] >= 0.1 * f["employees"]) & (f["tech_sme_score"] >= 60),
            city & (f[y + "rent_paid"] > 0) & (f["lease.area_m2"] > 0),
            kind & (f[y + "taxable_income"] > 0) & (f[y + "taxable_income"] <= 3e6),
            kind & (rd > 0),
            (f["niche_years"] >= 2) & (rd >= 1e6) & (rd / np.maximum(revenue, 1) >= 0.03),
            (f[y + "main_business_revenue"] / np.maximum(revenue, 1) >= 0.7),
            (f[y + "total_liabilities"] / np.maximum(f[y + "total_assets"], 1) <= 0.7),
            (f["national_market_share"] >= 0.1) & (f["ip.class_i"] >= 2),
            (f["innovation_score"] > 70)
            & (f[y + "high_tech_revenue"] / np.maximum(revenue, 1) >= 0.6),
            city & (f[y + "operating_income"] > 1e8),
        ]
        amounts = [
            np.where(rules[0], 500_000.0, 0),
            np.where(rules[3], np.minimum(f[y + "rent_paid"], f["lease.area_m2"] * 80 * 12), 0),
            np.where(rules[4], f[y + "taxable_income"] * 0.1, 0),
            np.where(rules[5], rd * 0.25, 0),
        ]
        return float(sum(a.sum() for a in amounts)) + float(sum(r.sum() for r in rules))

    return run
