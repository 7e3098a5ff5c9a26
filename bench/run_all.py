"""Every benchmark in turn, each with its own defaults: ``make bench``.

    .venv/bin/python bench/run_all.py [--only api batch] [--skip population]

A benchmark is a program ``bench/<name>.py`` (modules starting with ``_``, the
baselines' app and this file excepted); each prints its figures and writes
``bench/results/<name>.json``. One that fails is reported and the others still run;
the exit status is non-zero if any failed. The database benchmarks use the
PostgreSQL server of ``TEST_POSTGRES_URL`` (as the tests do); bench/api.py needs wrk.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
NOT_PROGRAMS = {"run_all", "bare_app"}


def programs() -> list[str]:
    return sorted(
        p.stem
        for p in BENCH.glob("*.py")
        if not p.stem.startswith("_") and p.stem not in NOT_PROGRAMS
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="run only these")
    parser.add_argument("--skip", nargs="*", default=[], help="do not run these")
    args = parser.parse_args()
    names = [n for n in programs() if (args.only is None or n in args.only) and n not in args.skip]
    outcomes: list[tuple[str, int, float]] = []
    for name in names:
        print(f"== bench/{name}.py", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(BENCH / f"{name}.py")], cwd=BENCH.parent)
        outcomes.append((name, code, time.monotonic() - started))
    print("\n== summary")
    for name, code, seconds in outcomes:
        print(f"{name:16} {'ok' if code == 0 else f'FAILED ({code})':12} {seconds:8.1f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
