"""The calculator's latency while a 100,000-enterprise matching run executes, against
its latency at rest, in the same session.

    .venv/bin/python bench/run_latency.py [--enterprises 100000] [--rounds 7]
        [--seconds 5] [--connections 4] [--workers 1]
        [--shard-size N] [--api-nice 0]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

A scratch PostgreSQL database beside the one named is filled with synthetic
enterprises (as bench/population.py does). The API runs as one uvicorn worker that
executes no jobs (JOBS_IN_PROCESS=false, as in docker compose); ``--workers``
`incentives worker` processes take the run's shards from the queue at their lower CPU
priority (WORKER_NICE). Each round measures ``POST /v1/eligibility`` with wrk (its
latency percentiles) at rest, then starts a run over the API and measures again while
it executes; a measurement that outlasts the run is reported as such.

``--shard-size`` sets RUN_SHARD_SIZE (how many enterprises a shard job evaluates and
writes in one transaction). ``--api-nice N`` runs the API N steps above the default
CPU priority, as a single host that favours the API over the database's bulk work
would (docker compose's ``cpu_shares``; README, "Operations"); at rest and during runs
alike. Reported: the
median p99 at rest and during runs, their ratio (the goal: at most 1.5), throughput,
and the run's own duration. Results go to bench/results/run_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import Settings
from bench._support import ROOT, machine, median
from bench._wrk import require_wrk, run, serve, write_script
from bench.api import PROFILE, loadavg
from bench.population import _fill

INCENTIVES = Path(sys.executable).with_name("incentives")


def _admin_token(url: str) -> str:
    from app.catalog.loader import load_catalog
    from app.db.session import make_engine, make_sessionmaker
    from app.services.actors import SYSTEM
    from app.services.keys import issue_key

    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        token = issue_key(
            session, load_catalog(ROOT / "policy_catalog"), role="admin", label="bench",
            actor=SYSTEM,
        ).token  # fmt: skip
    engine.dispose()
    return token


def _run_status(api: str, token: str, run_id: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{api}/v1/matching/runs/{run_id}", headers={"Authorization": f"Bearer {token}"}
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def _raise_priority(pid: int, steps: int) -> None:
    """Every thread of the process ``steps`` above the default priority (Linux sets a
    nice value per thread; threads made later inherit their maker's)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), -steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=5, help="each measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="`incentives worker` processes")
    parser.add_argument(
        "--shard-size", type=int, default=Settings.model_fields["run_shard_size"].default,
        help="RUN_SHARD_SIZE (the setting's default unless given)",
    )  # fmt: skip
    parser.add_argument(
        "--api-nice", type=int, default=0, help="raise the API's CPU priority by this much"
    )
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    require_wrk()
    load_before = loadavg()
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    name = f"incentives_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    rounds: list[dict[str, Any]] = []
    workers: list[subprocess.Popen[bytes]] = []
    try:
        _fill(url, args.enterprises)
        token = _admin_token(url)
        env = {
            "DATABASE_URL": url,
            "CATALOG_DIR": str(ROOT / "policy_catalog"),
            "PUBLIC_RATE_LIMIT_PER_MINUTE": "1000000000",
            "JOBS_IN_PROCESS": "false",
            "RUNS_PER_TENANT": "100",
            "RUN_SHARD_SIZE": str(args.shard_size),
        }
        workers = [
            subprocess.Popen([str(INCENTIVES), "worker"], env={**os.environ, **env})
            for _ in range(args.workers)
        ]
        with (
            tempfile.TemporaryDirectory() as tmp_name,
            serve("app.main:create_app", env, factory=True) as api,
        ):
            tmp = Path(tmp_name)
            if args.api_nice:
                _raise_priority(api.pid, args.api_nice)
            body = tmp / "request.json"
            body.write_text(
                json.dumps({"profile": PROFILE, "fiscal_year": 2024}, ensure_ascii=False),
                encoding="utf-8",
            )
            script = write_script(tmp)

            def measure() -> Any:
                return run(
                    api, "/v1/eligibility", seconds=args.seconds,
                    connections=args.connections, threads=1, body=body, script=script,
                )  # fmt: skip

            measure()  # warm-up: the catalog compiled, connections open
            for _ in range(args.rounds):
                rest = measure()
                started = httpx.post(
                    f"{api.url}/v1/matching/runs",
                    json={"fiscal_year": 2024},
                    headers={"Authorization": f"Bearer {token}"},
                )
                started.raise_for_status()
                run_id, began = started.json()["id"], time.perf_counter()
                during = measure()
                outlasted = _run_status(api.url, token, run_id)["status"] in ("done", "failed")
                while (status := _run_status(api.url, token, run_id))["status"] in (
                    "queued",
                    "running",
                ):
                    time.sleep(0.5)
                assert status["status"] == "done", status["error"]
                rounds.append(
                    {
                        "rest": vars(rest),
                        "during_run": vars(during),
                        "run_seconds": round(time.perf_counter() - began, 1),
                        "run_ended_before_measurement": outlasted,
                        "enterprises": status["total"],
                    }
                )
                print(json.dumps(rounds[-1]), flush=True)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=120)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    rest_p99 = median([r["rest"]["p99_ms"] for r in rounds])
    during_p99 = median([r["during_run"]["p99_ms"] for r in rounds])
    report = {
        "machine": machine(),
        "enterprises": args.enterprises,
        "workers": args.workers,
        "connections": args.connections,
        "shard_size": args.shard_size,
        "api_nice": args.api_nice,
        "seconds_per_measurement": args.seconds,
        "p99_ms_at_rest_median": round(rest_p99, 2),
        "p99_ms_during_run_median": round(during_p99, 2),
        "p99_during_over_rest": round(during_p99 / rest_p99, 2),
        "rps_at_rest_median": round(median([r["rest"]["rps"] for r in rounds]), 1),
        "rps_during_run_median": round(median([r["during_run"]["rps"] for r in rounds]), 1),
        "run_seconds_median": median([r["run_seconds"] for r in rounds]),
        "rounds": rounds,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "run_latency.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
