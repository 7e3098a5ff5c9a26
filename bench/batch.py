"""The population path on a million synthetic profiles: evaluation time and peak memory.

    .venv/bin/python bench/batch.py [--rows 1000000] [--runs 5] [--sample 2000]
        [--fiscal-year 2024] [--seed 7]

Generates the profiles directly as columns (log-normal revenue and staff, rare
honours, some facts missing: see ``generate``), evaluates the full catalog for one
fiscal year several times and reports the median (generation excluded), the peak
memory, and two baselines measured in the same run: the per-profile engine on a
sample (extrapolated to all rows; its answers are also checked against the batch
engine's on that sample), and a float-only numpy evaluation of a dozen simple award
rules without three-valued logic, missing facts or exact amounts. Prints a table and
writes ``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.catalog.loader import load_catalog  # noqa: E402
from app.domain.batch import (  # noqa: E402
    FALSE_CODE,
    MISSING_CODE,
    NO_DATE,
    TRUE_CODE,
    CatColumn,
    DateColumn,
    NumColumn,
    ProfileTable,
    RecognitionColumn,
    day_number,
    evaluate_population,
    required_columns,
)
from app.domain.engine import evaluate_catalog  # noqa: E402

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


def generate(n: int, fy: int, seed: int) -> ProfileTable:
    """A synthetic population as columns, for every fact the catalog reads."""
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
    return ProfileTable.from_columns(n, num, cat, dates, _recognitions(n, fy, rng))


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


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each run (CPU time shows what other load hides)."""
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def summary(walls: list[float], cpus: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(walls), 3),
        "best_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "runs_s": [round(t, 3) for t in walls],
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--fiscal-year", type=int, default=2024)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    fy, n = args.fiscal_year, args.rows
    policies = list(load_catalog(ROOT / "policy_catalog"))

    start = time.perf_counter()
    table = generate(n, fy, args.seed)
    generation = time.perf_counter() - start
    missing = set(required_columns(policies, fy)) - {
        s for s in required_columns(policies, fy) if table.has(s) or "*" in s[0]
    }
    assert not missing, f"the generator lacks {missing}"
    table_bytes = sum(c.value.nbytes + c.known.nbytes for c in table.num.values())
    table_bytes += sum(c.codes.nbytes for c in table.cat.values())
    table_bytes += sum(
        c.days.nbytes + c.known.nbytes + c.year.nbytes + c.month.nbytes for c in table.date.values()
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    load_before = os.getloadavg()
    evaluate_population(policies, table, fy)  # compiles the catalog once
    threads = len(os.sched_getaffinity(0))
    batch = summary(*timed(lambda: evaluate_population(policies, table, fy), args.runs))
    single = summary(*timed(lambda: evaluate_population(policies, table, fy, workers=1), args.runs))
    gc.collect()
    tracemalloc.start()
    result = evaluate_population(policies, table, fy)
    _, eval_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    # Same-session baselines: the per-profile engine on a sample, float numpy rules.
    sample = np.random.default_rng(args.seed).choice(n, min(args.sample, n), replace=False)
    profiles = [table.profile(int(i)) for i in sample]
    start = time.perf_counter()
    answers = [evaluate_catalog(policies, p, fy) for p in profiles]
    per_profile = (time.perf_counter() - start) / len(profiles)
    mismatches = sum(
        (
            result.status_of(ev.policy_id, int(i)),
            result.amount(ev.policy_id, int(i)),
            result.basis(ev.policy_id, int(i)),
            result.missing_facts(ev.policy_id, int(i)),
        )
        != (ev.status, ev.amount, ev.amount_basis, ev.missing_facts)
        for i, evs in zip(sample, answers, strict=True)
        for ev in evs
    )
    floats = summary(*timed(float_baseline(table, fy), args.runs))
    load_after = os.getloadavg()

    totals = result.totals()
    report = {
        "rows": n,
        "policies": len(policies),
        "fiscal_year": fy,
        "machine": machine(),
        "load_average_before_after": [load_before, load_after],
        "generation_s": round(generation, 3),
        "batch": {"threads": threads, **batch},
        "batch_one_thread": single,
        "per_profile_ms": round(per_profile * 1000, 3),
        "per_profile_extrapolated_s": round(per_profile * n, 1),
        "speedup": round(per_profile * n / batch["median_s"]),
        "float_baseline": floats,
        "memory": {
            "table_bytes": table_bytes,
            "peak_rss_bytes_after_generation": rss_before,
            "peak_rss_bytes": peak_rss,
            "evaluation_peak_traced_bytes": eval_peak,
        },
        "fallback": {
            "full_rows": len(result.full_rows),
            "policy_rows": sum(result.fallback_counts().values()),
            "by_policy": {k: v for k, v in result.fallback_counts().items() if v},
            "unsupported": dict(result.unsupported),
        },
        "sample_check": {"rows": len(sample), "mismatches": mismatches},
        "eligible": {pid: t.eligible for pid, t in totals.items()},
        "undetermined": {pid: t.undetermined for pid, t in totals.items()},
        "amount_yuan": {pid: str(t.amount) for pid, t in totals.items()},
    }
    out = ROOT / "bench" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _print(report)


def _print(r: dict[str, Any]) -> None:
    gib = 2**30
    m = r["machine"]
    print(f"{r['rows']:,} profiles x {r['policies']} policies, fiscal year {r['fiscal_year']}")
    print(f"machine: {m['nproc']} cores, {m['cpu']}, python {m['python']}, numpy {m['numpy']}")
    print(f"{'what':<44} {'value':>16}")
    b, one, fl = r["batch"], r["batch_one_thread"], r["float_baseline"]
    rows = [
        ("generation (not in the timings)", f"{r['generation_s']:.2f} s"),
        (f"batch engine, {b['threads']} threads: median", f"{b['median_s']:.3f} s"),
        ("  best run / CPU time (median)", f"{b['best_s']:.3f} / {b['cpu_median_s']:.3f} s"),
        ("batch engine, 1 thread: median", f"{one['median_s']:.3f} s"),
        ("  best run / CPU time (median)", f"{one['best_s']:.3f} / {one['cpu_median_s']:.3f} s"),
        ("float numpy, 12 rules, 1 thread: median", f"{fl['median_s']:.3f} s"),
        ("per-profile engine, per profile", f"{r['per_profile_ms']:.2f} ms"),
        ("per-profile engine, extrapolated", f"{r['per_profile_extrapolated_s']:,.0f} s"),
        ("speed-up over per-profile", f"{r['speedup']:,}x"),
        ("table (columns)", f"{r['memory']['table_bytes'] / gib:.2f} GiB"),
        (
            "evaluation working memory (traced)",
            f"{r['memory']['evaluation_peak_traced_bytes'] / gib:.2f} GiB",
        ),
        ("peak RSS of the process", f"{r['memory']['peak_rss_bytes'] / gib:.2f} GiB"),
        (
            "rows left to per-profile (policy / whole)",
            f"{r['fallback']['policy_rows']} / {r['fallback']['full_rows']}",
        ),
        ("sample check vs per-profile (mismatches)", f"{r['sample_check']['mismatches']}"),
        (
            "load average before / after",
            "{:.1f} / {:.1f}".format(*(x[0] for x in r["load_average_before_after"])),
        ),
    ]
    for name, value in rows:
        print(f"{name:<44} {value:>16}")


if __name__ == "__main__":
    main()
