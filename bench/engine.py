"""The per-profile engine's cost for one answer: the README tour's full profile against
the whole catalog for one fiscal year, engine alone, engine + answer shaping (the
dicts), and the answer's JSON bytes as the calculator sends them (engine, shaping and
serialisation: ``eligibility_bytes`` where the code has it, else the shaped dicts
serialised as the route did).

    .venv/bin/python bench/engine.py [--runs 2000] [--rounds 5] [--fiscal-year 2025]
        [--baseline-rev 9671041]

Each figure is the median over ``rounds`` of the mean time of ``runs`` calls, in the
process's CPU time (the engine is single-threaded: on a quiet machine that is its
wall-clock time, and on a shared one it does not count the time others run). The
baseline is the same measurement on the code of ``--baseline-rev`` (the engine before
the catalog was compiled), checked out with ``git archive`` into a temporary directory
and run in a subprocess; its rounds alternate with this code's in the same session, so
the ratio compares like with like.
Prints a table and writes ``bench/results/engine.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measure(code_root: Path, fiscal_year: int, runs: int) -> dict[str, Any]:
    """One round: the mean time of ``runs`` calls, for the code under ``code_root``."""
    sys.path.insert(0, str(code_root))
    from app.catalog.loader import load_catalog
    from app.domain.engine import evaluate_catalog
    from app.services.matching import check_eligibility

    try:
        from app.services.answer_bytes import eligibility_bytes
    except ImportError:  # (code from before the answer was assembled from fragments)

        def eligibility_bytes(catalog: Any, facts: Any, fiscal_year: int) -> bytes:
            return _serialised(check_eligibility(catalog, facts, fiscal_year))

    sys.path.insert(0, str(ROOT / "bench"))
    from api import PROFILE  # the README tour's full profile, as the API bench sends it

    key = str(code_root)
    if key not in _CATALOGS:
        _CATALOGS[key] = load_catalog(code_root / "policy_catalog")
    catalog = _CATALOGS[key]
    policies = list(catalog)

    def engine() -> Any:
        return evaluate_catalog(policies, PROFILE, fiscal_year)

    def shaped() -> Any:
        return check_eligibility(catalog, PROFILE, fiscal_year)

    def sent() -> Any:
        return eligibility_bytes(catalog, PROFILE, fiscal_year)

    out: dict[str, Any] = {"policies": len(policies)}
    calls = (("engine_ms", engine), ("engine_and_shaping_ms", shaped), ("answer_bytes_ms", sent))
    for name, call in calls:
        call()  # warm: the first call compiles or fills caches
        start = time.process_time()
        for _ in range(runs):
            call()
        out[name] = (time.process_time() - start) / runs * 1000
    # Lists, not tuples: the baseline's figures come back through JSON.
    out["statuses"] = sorted([e.policy_id, e.status, str(e.amount)] for e in engine())
    return out


_CATALOGS: dict[str, Any] = {}


def _serialised(payload: Any) -> bytes:
    """The answer's bytes as the code of the time serialised them: ``dumps`` since the
    JSON was made in one place, the route's response before."""
    from app.api import fastjson

    if hasattr(fastjson, "dumps"):
        return bytes(fastjson.dumps(payload))
    return bytes(fastjson.json_response(payload).body)


def baseline_code(rev: str, into: Path) -> Path:
    """The code of ``rev``, extracted with ``git archive``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev], cwd=ROOT, check=True, capture_output=True
    ).stdout
    tar_path = into / "code.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into / "code", filter="data")
    return into / "code"


def baseline_round(code: Path, fiscal_year: int, runs: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(code)]
    command += ["--fiscal-year", str(fiscal_year), "--runs", str(runs)]
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fiscal-year", type=int, default=2025)
    parser.add_argument("--baseline-rev", default="9671041")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.fiscal_year, args.runs)))
        return

    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    names = ("engine_ms", "engine_and_shaping_ms", "answer_bytes_ms")
    rounds: dict[str, dict[str, list[float]]] = {"baseline": {}, "now": {}}
    same = True
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        code = baseline_code(args.baseline_rev, Path(tmp))
        # Rounds alternate between the two, so that a change of load hits both alike.
        for _ in range(args.rounds):
            before = baseline_round(code, args.fiscal_year, args.runs)
            now = measure(ROOT, args.fiscal_year, args.runs)
            same = same and before.pop("statuses") == now.pop("statuses")
            for side, result in (("baseline", before), ("now", now)):
                for name in names:
                    rounds[side].setdefault(name, []).append(result[name])
    before = {name: statistics.median(rounds["baseline"][name]) for name in names}
    now = {name: statistics.median(rounds["now"][name]) for name in names}
    now["policies"] = len(list(_CATALOGS[str(ROOT)]))
    load += Path("/proc/loadavg").read_text().split()[:1] if load else []
    rows = {
        name: {
            "baseline": round(before[name], 4),
            "now": round(now[name], 4),
            "ratio_baseline_over_now": round(before[name] / now[name], 2),
        }
        for name in names
    }
    print(
        f"fiscal year {args.fiscal_year}, {now['policies']} policies,"
        f" load average {' '.join(load[:3])} (at the end: {' '.join(load[3:])})"
    )
    print(f"{'ms per profile':<24}{'baseline':>10}{'now':>10}{'speed-up':>10}")
    for name, row in rows.items():
        print(
            f"{name:<24}{row['baseline']:>10.3f}{row['now']:>10.3f}{row['ratio_baseline_over_now']:>9.1f}x"
        )
    print("same answers as the baseline:", same)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    report = {
        "fiscal_year": args.fiscal_year,
        "policies": now["policies"],
        "baseline_rev": args.baseline_rev,
        "runs": args.runs,
        "rounds": args.rounds,
        "loadavg": load,
        "same_answers": same,
        "figures": rows,
    }
    (results / "engine.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
