"""Throughput and latency of POST /v1/eligibility with a full profile, beside a bare
FastAPI endpoint returning a body of the same size, same server settings, same run.

    .venv/bin/python bench/api.py [--requests 2000] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, load, machine, median, server

PROFILE = {
    "uscc": "91320115MA1W9KXT49",
    "name": "南京示例科技有限公司",
    "kind": "enterprise",
    "registered_on": "2018-03-15",
    "industry": "software_information",
    "industry_chain": "software_information",
    "hte_field": "electronic_information",
    "location": {
        "province": "jiangsu",
        "city": "nanjing",
        "district": "jiangning",
        "park": "jiangning-high-tech-zone",
    },
    "employees": 120,
    "tech_staff": 40,
    "rd_staff": 30,
    "recognitions": [
        {
            "kind": "high_tech_enterprise",
            "level": "national",
            "granted_on": "2023-11-30",
            "expires_on": "2026-11-29",
        },
        {"kind": "green_factory", "level": "national", "granted_on": "2024-05-01"},
    ],
    "ip": {"class_i": 3, "class_ii": 10},
    "niche_years": 8,
    "national_market_share": "0.12",
    "own_brand": True,
    "own_rd_institution": True,
    "innovation_score": "78",
    "tech_sme_score": "80",
    "specialized_sme_score": "75",
    "compliance": {"serious_dishonesty": False, "major_incident_last_year": False},
    "lease": {"area_m2": "800", "start_on": "2022-01-01"},
    "tax": {"book_based": True},
    "years": {
        str(y): {
            "revenue": f"{40000000 + 4000000 * (y - 2021)}.00",
            "main_business_revenue": f"{36000000 + 4000000 * (y - 2021)}.00",
            "high_tech_revenue": f"{32000000 + 3000000 * (y - 2021)}.00",
            "operating_income": f"{40000000 + 4000000 * (y - 2021)}.00",
            "rd_expense": "3600000.00",
            "rd_expense_domestic": "3600000.00",
            "taxable_income": "5000000.00",
            "total_assets": "60000000.00",
            "total_liabilities": "20000000.00",
            "equity_raised": "0.00",
            "rent_paid": "480000.00",
            "performance": {"nj-innovation-consortium": 92},
        }
        for y in (2021, 2022, 2023, 2024)
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = {"profile": PROFILE, "fiscal_year": 2024}
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/bench.db"
        from app.db.session import migrate

        migrate(db)
        env = {
            "DATABASE_URL": db,
            "CATALOG_DIR": str(ROOT / "policy_catalog"),
            "PUBLIC_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        with server("app.main:create_app", env, factory=True) as url:
            answer = httpx.post(url + "/v1/eligibility", json=body, timeout=30)
            answer.raise_for_status()
            (Path(tmp) / "body.json").write_bytes(answer.content)
            results = {"calculator": [], "bare": []}  # type: ignore[var-annotated]
            with server(
                "bench.bare_app:app", {"BARE_BODY_FILE": str(Path(tmp) / "body.json")}
            ) as bare_url:
                for _ in range(args.rounds):  # alternate, so both see the same machine state
                    for name, target in (("calculator", url), ("bare", bare_url)):
                        load(
                            target + "/v1/eligibility", "POST", body, 200, args.concurrency
                        )  # warm-up
                        results[name].append(
                            load(
                                target + "/v1/eligibility",
                                "POST",
                                body,
                                args.requests,
                                args.concurrency,
                            )
                        )
    report = {
        "machine": machine(),
        "response_bytes": len(answer.content),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
    }
    for name, runs in results.items():
        assert all(set(r.statuses) == {200} for r in runs), {name: [r.statuses for r in runs]}
        report[name] = {
            "throughput_rps": round(median([r.throughput for r in runs]), 1),
            "p50_ms": round(median([r.percentile(0.5) for r in runs]), 2),
            "p99_ms": round(median([r.percentile(0.99) for r in runs]), 2),
        }
    report["ratio"] = round(
        report["calculator"]["throughput_rps"] / report["bare"]["throughput_rps"], 3
    )
    print(json.dumps(report, indent=2, ensure_ascii=False))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "api.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
