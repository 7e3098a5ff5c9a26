"""Throughput of the open calculator against its own baselines, all measured in one run.

    .venv/bin/python bench/api.py [--seconds 10] [--rounds 3] [--connections 16]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--baseline-rev REV]

Load comes from wrk (apt package ``wrk``; see bench/README.md), never from a Python
client. Four targets, each one uvicorn worker with the same settings:

- ``bare``: a plain ASGI app that reads the body and sends the calculator's answer
  bytes (bench/bare_app.py): the ceiling of any route on this server;
- ``floor``: a FastAPI endpoint that validates the same request model
  (``EligibilityRequest``) and sends the same bytes: the framework's own floor;
- ``eligibility``: the real ``POST /v1/eligibility`` (full profile, the whole catalog,
  rate limit counted in the database, SQLite by default, set high enough to admit
  every call);
- ``policies``: the real ``GET /v1/policies``, for scale;
- with ``--baseline-rev``, ``eligibility_before``: the same route served by the code
  of that revision (``git archive``; same catalog, database and load), whose answer
  must be the same bytes: a before and after in one run, on one machine state;
- ``eligibility_varied`` (and ``eligibility_varied_before``): the same route sent
  ``--profiles`` different profiles in turn (default 1,000: the full profile with its
  industry, staff, dates, scores and every yearly figure drawn at random, seeded). One
  body sent again and again meets answers the compiled catalog keeps (an outcome for a
  word, a composite of kept outcomes); many enterprises do not, and their answers are
  longer (more policies settle on numbers). ``--profiles 0`` leaves it out.

Targets take turns in each round so they all see the same machine; the report gives
the median of the rounds, the ratios eligibility/floor and eligibility/bare, the
server's CPU per request and wrk's own CPU (it must stay well below one core).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import random
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, machine, median
from bench._wrk import Run, Server, require_wrk, run, serve, write_script
from bench._wrk import version as wrk_version
from bench.engine import baseline_code

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


INDUSTRIES = (
    "software_information",
    "software_it_services",
    "manufacturing",
    "wholesale",
    "construction",
    "transport",
)
YEARLY_MONEY = (
    "revenue",
    "main_business_revenue",
    "high_tech_revenue",
    "operating_income",
    "rd_expense",
    "rd_expense_domestic",
    "taxable_income",
    "total_assets",
    "total_liabilities",
    "rent_paid",
)


def varied_profiles(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` profiles of the full profile's shape, words and numbers drawn at random."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        profile = copy.deepcopy(PROFILE)
        profile["industry"] = rng.choice(INDUSTRIES)
        profile["employees"] = rng.randint(10, 2000)
        profile["tech_staff"] = rng.randint(1, profile["employees"])
        profile["rd_staff"] = rng.randint(1, profile["tech_staff"])
        day = f"{rng.randint(2005, 2023)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        profile["registered_on"] = day
        for score in ("innovation_score", "tech_sme_score", "specialized_sme_score"):
            profile[score] = str(rng.randint(40, 100))
        profile["niche_years"] = rng.randint(0, 15)
        profile["ip"] = {"class_i": rng.randint(0, 8), "class_ii": rng.randint(0, 20)}
        for year in profile["years"].values():
            for name in YEARLY_MONEY:
                year[name] = f"{rng.uniform(1e6, 5e8):.2f}"
        out.append(profile)
    return out


def engine_kind() -> str:
    """How the served code runs its rule engine (app/native): as this process does, whose
    environment (NATIVE, NATIVE_DIR) the server inherits."""
    from app.native.loader import status

    return "compiled" if status()["in_use"] else "interpreted"


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


@contextlib.contextmanager
def database(tmp: Path, postgres: str | None) -> Iterator[str]:
    """A migrated database for the calculator: a file in ``tmp``, or with ``postgres`` a
    scratch database beside the one named, dropped afterwards."""
    from sqlalchemy import create_engine, text

    from app.db.session import migrate

    if postgres is None:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        yield url
        return
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"incentives_bench_api_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def summary(runs: list[Run]) -> dict[str, Any]:
    return {
        "throughput_rps": round(median([r.rps for r in runs]), 1),
        "p50_ms": round(median([r.p50_ms for r in runs]), 2),
        "p99_ms": round(median([r.p99_ms for r in runs]), 2),
        "server_cpu_ms_per_request": round(median([r.server_cpu_ms for r in runs]), 3),
        "wrk_cpu_share": round(median([r.wrk_cpu_share for r in runs]), 3),
        "rounds_rps": [round(r.rps, 1) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="each measurement")
    parser.add_argument("--warmup", type=float, default=2, help="before each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the calculator on a scratch PostgreSQL database beside URL (default: SQLite)",
    )
    parser.add_argument(
        "--baseline-rev",
        metavar="REV",
        help="also serve the route from the code of REV (e.g. the commit before a change)",
    )
    parser.add_argument(
        "--profiles",
        type=int,
        default=1000,
        help="different profiles sent in turn to eligibility_varied (0: leave it out)",
    )
    args = parser.parse_args()
    require_wrk()
    load_before = loadavg()
    body = {"profile": PROFILE, "fiscal_year": 2024}
    results: dict[str, list[Run]] = {"bare": [], "floor": [], "eligibility": [], "policies": []}
    with (
        tempfile.TemporaryDirectory() as tmp_name,
        database(Path(tmp_name), args.postgres) as db,
        contextlib.ExitStack() as stack,
    ):
        tmp = Path(tmp_name)
        request_file = tmp / "request.json"
        request_file.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        varied = [
            {"profile": profile, "fiscal_year": 2024} for profile in varied_profiles(args.profiles)
        ]
        varied_file = tmp / "requests.jsonl"
        varied_file.write_text(
            "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in varied), encoding="utf-8"
        )
        script = write_script(tmp)
        env = {
            "DATABASE_URL": db,
            "CATALOG_DIR": str(ROOT / "policy_catalog"),
            "PUBLIC_RATE_LIMIT_PER_MINUTE": "1000000000",
        }
        with serve("app.main:create_app", env, factory=True) as app:
            answer = httpx.post(app.url + "/v1/eligibility", json=body, timeout=30)
            answer.raise_for_status()
            (tmp / "answer.json").write_bytes(answer.content)
            bare_env = {"BARE_BODY_FILE": str(tmp / "answer.json")}
            with (
                serve("bench.bare_app:bare", bare_env) as bare,
                serve("bench.bare_app:floor", bare_env) as floor,
            ):
                # A target: its server, its path, one body or a file of bodies in turn.
                targets: dict[str, tuple[Server, str, Path | None, Path | None]] = {
                    "bare": (bare, "/v1/eligibility", request_file, None),
                    "floor": (floor, "/v1/eligibility", request_file, None),
                    "eligibility": (app, "/v1/eligibility", request_file, None),
                    "policies": (app, "/v1/policies", None, None),
                }
                if varied:
                    targets["eligibility_varied"] = (app, "/v1/eligibility", None, varied_file)
                    results["eligibility_varied"] = []
                if args.baseline_rev:
                    code = baseline_code(args.baseline_rev, tmp)
                    before = stack.enter_context(
                        serve("app.main:create_app", env, factory=True, code=code)
                    )
                    answered = httpx.post(before.url + "/v1/eligibility", json=body, timeout=30)
                    if answered.content != answer.content:
                        raise RuntimeError(f"{args.baseline_rev} answers with other bytes")
                    for sample in varied[:20]:
                        now = httpx.post(app.url + "/v1/eligibility", json=sample, timeout=30)
                        then = httpx.post(before.url + "/v1/eligibility", json=sample, timeout=30)
                        if now.content != then.content:
                            raise RuntimeError(f"{args.baseline_rev} answers with other bytes")
                    targets["eligibility_before"] = (
                        before, "/v1/eligibility", request_file, None
                    )  # fmt: skip
                    results["eligibility_before"] = []
                    if varied:
                        targets["eligibility_varied_before"] = (
                            before, "/v1/eligibility", None, varied_file
                        )  # fmt: skip
                        results["eligibility_varied_before"] = []
                for i in range(args.rounds):
                    for name, (server, path, payload, payloads) in targets.items():
                        drive = functools.partial(
                            run,
                            server,
                            path,
                            connections=args.connections,
                            threads=args.threads,
                            body=payload,
                            bodies=payloads,
                            script=script,
                        )
                        drive(seconds=args.warmup)
                        measured = drive(seconds=args.seconds)
                        results[name].append(measured)
                        print(
                            f"round {i + 1} {name:18} {measured.rps:9.1f} req/s  "
                            f"server {measured.server_cpu_ms:6.3f} ms CPU/req  "
                            f"wrk {measured.wrk_cpu_share:5.2f} core",
                            file=sys.stderr,
                        )
    report: dict[str, object] = {
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "load": wrk_version(),
        "connections": args.connections,
        "wrk_threads": args.threads,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "database": "postgresql" if args.postgres else "sqlite",
        "engine": engine_kind(),
        "request_bytes": len(json.dumps(body, ensure_ascii=False).encode()),
        "response_bytes": len(answer.content),
    }
    figures = {name: summary(runs) for name, runs in results.items()}
    report.update(figures)
    eligibility = figures["eligibility"]["throughput_rps"]
    report["ratio_eligibility_to_floor"] = round(
        eligibility / figures["floor"]["throughput_rps"], 3
    )
    report["ratio_eligibility_to_bare"] = round(eligibility / figures["bare"]["throughput_rps"], 3)
    if "eligibility_varied" in figures:
        report["profiles"] = args.profiles
        report["ratio_varied_to_floor"] = round(
            figures["eligibility_varied"]["throughput_rps"] / figures["floor"]["throughput_rps"], 3
        )
        report["ratio_varied_to_one_body"] = round(
            figures["eligibility_varied"]["throughput_rps"] / eligibility, 3
        )
    if "eligibility_varied_before" in figures:
        report["ratio_varied_to_before"] = round(
            figures["eligibility_varied"]["throughput_rps"]
            / figures["eligibility_varied_before"]["throughput_rps"],
            3,
        )
    if "eligibility_before" in figures:
        report["baseline_rev"] = args.baseline_rev
        report["ratio_eligibility_to_before"] = round(
            eligibility / figures["eligibility_before"]["throughput_rps"], 3
        )
        report["cpu_ratio_eligibility_to_before"] = round(
            figures["eligibility_before"]["server_cpu_ms_per_request"]
            / figures["eligibility"]["server_cpu_ms_per_request"],
            3,
        )
    # The same ratios from the server's CPU per request: steadier than throughput on
    # a machine that other work shares.
    cpu = {name: figures[name]["server_cpu_ms_per_request"] for name in figures}
    report["cpu_ratio_eligibility_to_floor"] = round(cpu["floor"] / cpu["eligibility"], 3)
    report["cpu_ratio_eligibility_to_bare"] = round(cpu["bare"] / cpu["eligibility"], 3)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(
        f"\n{'target':18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'wrk cores':>10}"
    )
    for name, f in figures.items():
        print(
            f"{name:18} {f['throughput_rps']:9.1f} {f['p50_ms']:8.2f} {f['p99_ms']:8.2f} "
            f"{f['server_cpu_ms_per_request']:11.3f} {f['wrk_cpu_share']:10.2f}"
        )
    print(
        f"eligibility/floor {report['ratio_eligibility_to_floor']} "
        f"(CPU {report['cpu_ratio_eligibility_to_floor']}), "
        f"eligibility/bare {report['ratio_eligibility_to_bare']} "
        f"(CPU {report['cpu_ratio_eligibility_to_bare']}); load average "
        f"{' '.join(load_before)} before, {' '.join(loadavg())} after"
    )
    if "ratio_varied_to_floor" in report:
        print(
            f"{args.profiles} profiles in turn: eligibility_varied/floor "
            f"{report['ratio_varied_to_floor']}, against one body "
            f"{report['ratio_varied_to_one_body']}"
            + (
                f", against {args.baseline_rev} {report['ratio_varied_to_before']}"
                if "ratio_varied_to_before" in report
                else ""
            )
        )
    if "baseline_rev" in report:
        print(
            f"eligibility/eligibility_before ({args.baseline_rev}) "
            f"{report['ratio_eligibility_to_before']} "
            f"(CPU {report['cpu_ratio_eligibility_to_before']})"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "api.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
