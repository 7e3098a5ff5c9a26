"""Proactive matching end to end from PostgreSQL: stored enterprises evaluated against
the full catalog, from the run's start to its results stored.

    .venv/bin/python bench/population.py [--sizes 100000 1000000] [--repeat 3]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

For each size a scratch database beside the one named is filled with synthetic
enterprises (bulk inserts, which write the fact projection too), then matching runs
are executed, each in a fresh process so that its peak memory is its own. Reported
per size: the median run (start to results stored) with its phases (evaluating, and
the time the run waited for a chunk to be read and for its results to be stored: on
PostgreSQL both go on in threads while the run evaluates), the peak resident memory, and a baseline measured in the same session: reading
and decoding every current profile document, what the runs did before the projection.
Results go to bench/results/population.json.

``--baseline-rev REV``: runs by the code of ``REV`` (taken with ``git archive``) take
turns with this code's on the same enterprises, for a before and after on one machine
state. The baseline's runs read a copy of the filled database that this code's
migrations took down to ``REV``'s schema (``REV`` must be an ancestor), and the report
gives both medians and their ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, machine, median


def _fill(url: str, count: int) -> None:
    from app.catalog.loader import canonical_json
    from app.db.models import new_ids
    from app.db.repositories import enterprises as repo
    from app.db.session import make_engine, make_sessionmaker, migrate
    from tests.helpers import random_uscc
    from tests.population.conftest import random_profile

    migrate(url)
    engine = make_engine(url)
    make_session = make_sessionmaker(engine)
    rng = random.Random(1)
    now = datetime.now(UTC)
    for start in range(0, count, 20_000):
        enterprises, versions = [], []
        # Ids as the service makes them (time first), registered one batch after another.
        size = min(count, start + 20_000) - start
        for eid, vid in zip(new_ids(size), new_ids(size), strict=True):
            profile = random_profile(rng)
            profile["uscc"] = random_uscc(rng)
            place = profile["location"]
            enterprises.append(
                {"id": eid, "uscc": profile["uscc"], "name": profile["name"],
                 "kind": "enterprise", "province": place["province"], "city": place["city"],
                 "district": place["district"], "park": None, "current_version": 1,
                 "created_at": now, "updated_at": now}
            )  # fmt: skip
            versions.append(
                {"id": vid, "enterprise_id": eid, "version": 1,
                 "profile": profile, "created_at": now, "created_by": "bench",
                 "profile_hash": hashlib.sha256(canonical_json(profile).encode()).hexdigest()}
            )  # fmt: skip
        with make_session.begin() as session:
            repo.insert_enterprises(session, enterprises)
            repo.insert_profile_versions(session, versions)
    with make_session.begin() as session:
        from app.db.projection import analyze_all

        analyze_all(session)
    engine.dispose()  # (a baseline's copy of the database needs it unused)


def run_once(url: str, vectorised_only: bool = False) -> dict[str, object]:
    """One matching run in this process: seconds, phases, peak memory.

    ``vectorised_only``: the catalog cut to the policies the batch engine vectorises
    for the year, to see the cost of moving data apart from the per-profile engine."""
    import dataclasses

    from app.catalog.loader import load_catalog
    from app.db.session import make_engine, make_sessionmaker
    from app.domain.batch.engine import compile_policy
    from app.services.actors import SYSTEM
    from app.services.matching_runs import execute_run, start_run

    catalog = load_catalog(ROOT / "policy_catalog")
    if vectorised_only:
        kept = {
            k: p
            for k, p in catalog.policies.items()
            if compile_policy(p, 2024).eligibility is not None
            or compile_policy(p, 2024).version is None
        }
        catalog = dataclasses.replace(catalog, policies=kept)
    make_session = make_sessionmaker(make_engine(url))
    with make_session.begin() as session:
        run_id = start_run(session, catalog, SYSTEM, 2024).id
    phases: dict[str, float] = {}
    started = time.perf_counter()
    execute_run(make_session, catalog, run_id, phases)
    seconds = time.perf_counter() - started
    with make_session() as session:
        status, total = session.execute(
            text("SELECT status, total FROM matching_runs WHERE id = :id"), {"id": run_id}
        ).one()
        stored = session.execute(
            text(
                "SELECT count(*) FROM matching_results JOIN matching_runs"
                " ON matching_runs.number = matching_results.run_number WHERE matching_runs.id = :id"
            ),
            {"id": run_id},
        ).scalar_one()
    assert status == "done", status
    return {
        "seconds": round(seconds, 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "enterprises": total,
        "results_stored": stored,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def read_documents(url: str) -> dict[str, object]:
    """The baseline: every current profile document fetched and decoded."""
    from app.db import repositories as repo
    from app.db.session import make_engine, make_sessionmaker

    make_session = make_sessionmaker(make_engine(url))
    started = time.perf_counter()
    count = 0
    with make_session() as session:
        for batch in repo.iterate_population(session, batch=2000):
            count += len(batch)
    return {"seconds": round(time.perf_counter() - started, 3), "enterprises": count}


def _child(mode: str, url: str, *extra: str, code: Path = ROOT) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, str(code / "bench" / "population.py"), f"--{mode}", url, *extra],
        check=True,
        capture_output=True,
        text=True,
        cwd=code,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _schema_of(admin: Engine, name: str, code: Path) -> str:
    """A copy of database ``name`` taken down to the schema of the baseline ``code``."""
    from alembic.script import ScriptDirectory

    from app.db.session import alembic_config, downgrade

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    theirs = subprocess.run(
        [sys.executable, "-c", _THEIR_HEAD], check=True, capture_output=True, text=True, cwd=code
    ).stdout.strip()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}_before" TEMPLATE "{name}"'))
    url = admin.url.set(database=f"{name}_before").render_as_string(hide_password=False)
    if theirs != head:
        downgrade(url, theirs)
    return url


# Run in the baseline's directory: the head of its migrations.
_THEIR_HEAD = (
    "from alembic.script import ScriptDirectory\n"
    "from app.db.session import alembic_config\n"
    "print(ScriptDirectory.from_config(alembic_config()).get_current_head())"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--baseline-rev", help="also run the code of REV, turn about")
    parser.add_argument("--run-only", help=argparse.SUPPRESS)
    parser.add_argument("--documents-only", help=argparse.SUPPRESS)
    parser.add_argument(
        "--vectorised-only",
        action="store_true",
        help="evaluate only the policies the batch engine vectorises (the data's own cost)",
    )
    args = parser.parse_args()
    extra = ["--vectorised-only"] if args.vectorised_only else []
    if args.run_only:
        print(json.dumps(run_once(args.run_only, args.vectorised_only)))
        return
    if args.documents_only:
        print(json.dumps(read_documents(args.documents_only)))
        return
    code = None
    if args.baseline_rev:
        from bench.engine import baseline_code

        code = baseline_code(args.baseline_rev, Path(tempfile.mkdtemp(prefix="population-")))
    admin = create_engine(args.database, isolation_level="AUTOCOMMIT")
    report: dict[str, object] = {
        "machine": machine(),
        "policies": "vectorised only" if args.vectorised_only else "all",
        "sizes": {},
    }
    for size in args.sizes:
        name = f"incentives_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        before_url = None
        try:
            started = time.perf_counter()
            _fill(url, size)
            fill = time.perf_counter() - started
            if code is not None:
                before_url = _schema_of(admin, name, code)
            runs, before = [], []
            for _ in range(args.repeat):
                runs.append(_child("run-only", url, *extra))
                if code is not None and before_url is not None:
                    before.append(_child("run-only", before_url, *extra, code=code))
            documents = [_child("documents-only", url) for _ in range(args.repeat)]
            seconds = median([float(r["seconds"]) for r in runs])  # type: ignore[arg-type]
            baseline = median([float(d["seconds"]) for d in documents])  # type: ignore[arg-type]
            entry = {
                "enterprises": size,
                "fill_seconds": round(fill, 1),
                "run_seconds_median": seconds,
                "phases_median": {
                    k: median([r["phases"][k] for r in runs])  # type: ignore[index]
                    for k in ("read", "evaluate", "write")
                },
                "peak_rss_mib_max": max(float(r["peak_rss_mib"]) for r in runs),  # type: ignore[arg-type]
                "results_stored": runs[0]["results_stored"],
                "baseline_read_documents_seconds_median": baseline,
                "run_over_baseline": round(seconds / baseline, 2) if baseline else None,
                "runs": runs,
            }
            if before:
                then = median([float(r["seconds"]) for r in before])  # type: ignore[arg-type]
                entry["baseline_rev"] = {
                    "rev": args.baseline_rev,
                    "run_seconds_median": then,
                    "phases_median": {
                        k: median([r["phases"][k] for r in before])  # type: ignore[index]
                        for k in ("read", "evaluate", "write")
                    },
                    "this_over_baseline": round(seconds / then, 2) if then else None,
                    "runs": before,
                }
            report["sizes"][str(size)] = entry  # type: ignore[index]
            print(json.dumps(entry, indent=2), flush=True)
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}_before" WITH (FORCE)'))
    admin.dispose()
    with open("/proc/loadavg") as f:
        report["loadavg"] = f.read().split()[:3]
    print(json.dumps(report, indent=2, ensure_ascii=False))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "population.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
