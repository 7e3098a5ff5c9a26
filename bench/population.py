"""Proactive matching end to end from PostgreSQL: 100,000 stored enterprises evaluated
against the full catalog, while the API keeps answering.

    .venv/bin/python bench/population.py [--enterprises 100000]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

A scratch database beside the one named is filled with synthetic enterprises (bulk
inserts), then a matching run is started through the API (2 workers) and GET /health
is timed while the run goes on. The run's own duration covers reading every profile
and its awards from the database, evaluating, and storing the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, machine, median, server


def _fill(url: str, count: int) -> str:
    from app.catalog.loader import canonical_json, load_catalog
    from app.db.repositories import enterprises as repo
    from app.db.session import make_engine, make_sessionmaker, migrate
    from app.services import keys
    from app.services.actors import SYSTEM
    from tests.helpers import random_uscc
    from tests.population.conftest import random_profile

    migrate(url)
    catalog = load_catalog(ROOT / "policy_catalog")
    make_session = make_sessionmaker(make_engine(url))
    rng = random.Random(1)
    now = datetime.now(UTC)
    with make_session.begin() as session:
        token = keys.issue_key(session, catalog, role="admin", label="bench", actor=SYSTEM).token
        for start in range(0, count, 5000):
            enterprises, versions = [], []
            for _ in range(start, min(count, start + 5000)):
                profile = random_profile(rng)
                profile["uscc"] = random_uscc(rng)
                eid = str(uuid.uuid4())
                place = profile["location"]
                enterprises.append(
                    {
                        "id": eid,
                        "uscc": profile["uscc"],
                        "name": profile["name"],
                        "kind": "enterprise",
                        "province": place["province"],
                        "city": place["city"],
                        "district": place["district"],
                        "park": None,
                        "current_version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                versions.append(
                    {
                        "id": str(uuid.uuid4()),
                        "enterprise_id": eid,
                        "version": 1,
                        "profile": profile,
                        "profile_hash": hashlib.sha256(
                            canonical_json(profile).encode()
                        ).hexdigest(),
                        "created_at": now,
                        "created_by": "bench",
                    }
                )
            repo.insert_enterprises(session, enterprises)
            repo.insert_profile_versions(session, versions)
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    name = f"incentives_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        token = _fill(url, args.enterprises)
        fill_seconds = time.perf_counter() - started
        env = {"DATABASE_URL": url, "CATALOG_DIR": str(ROOT / "policy_catalog")}
        headers = {"authorization": f"Bearer {token}"}
        with server("app.main:create_app", env, workers=2, factory=True) as base:
            idle = [_timed(base) for _ in range(50)]
            run = httpx.post(
                base + "/v1/matching/runs", json={"fiscal_year": 2024}, headers=headers
            ).json()
            during: list[float] = []
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                during.append(_timed(base))
                state = httpx.get(
                    f"{base}/v1/matching/runs/{run['id']}", headers=headers, timeout=30
                ).json()
                if state["status"] in ("done", "failed"):
                    break
                time.sleep(0.1)
        assert state["status"] == "done", state
        seconds = datetime.fromisoformat(state["finished_at"]) - datetime.fromisoformat(
            state["created_at"]
        )
        green = state["result"]["policies"]["nj-green-manufacturing"]
        report = {
            "machine": machine(),
            "enterprises": state["total"],
            "fill_seconds": round(fill_seconds, 1),
            "matching_run_seconds": round(seconds.total_seconds(), 2),
            "health_while_idle_ms": {"p50": _pct(idle, 0.5), "p99": _pct(idle, 0.99)},
            "health_during_run_ms": {
                "p50": _pct(during, 0.5),
                "p99": _pct(during, 0.99),
                "samples": len(during),
                "max": round(max(during), 1),
            },
            "example_policy": {"nj-green-manufacturing": green},
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        (ROOT / "bench" / "results" / "population.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False)
        )
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _timed(base: str) -> float:
    started = time.perf_counter()
    httpx.get(base + "/health", timeout=30).raise_for_status()
    return (time.perf_counter() - started) * 1000


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


__all__ = ["main", "median"]

if __name__ == "__main__":
    main()
