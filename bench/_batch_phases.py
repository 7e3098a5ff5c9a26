"""The measurements of ``bench/batch.py``, each run in a fresh process by it.

``app`` is imported from wherever ``bench/batch.py`` put first on ``sys.path``: this
checkout, or an older engine's ``app`` for the "before" figures.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _profiles import float_baseline, generate

import app
from app.catalog.loader import load_catalog
from app.catalog.schema import PolicyFile
from app.domain.batch import ProfileTable, compile_policy, evaluate_population, required_columns

ROOT = Path(__file__).resolve().parents[1]


def _status_bytes(key: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status``, in bytes (Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return None


def rss() -> int | None:
    return _status_bytes("VmRSS")


def peak_rss() -> int | None:
    return _status_bytes("VmHWM")


def trim() -> None:
    """Hand the heap's free memory back to the system (glibc): the generator's
    temporaries, freed but kept by the allocator, are not the table's."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak() -> bool:
    """Start the peak RSS afresh from the current RSS (Linux ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def timed(fn: Callable[[], Any], runs: int) -> dict[str, Any]:
    """Median wall-clock and CPU seconds of ``runs`` calls (CPU shows what load hides)."""
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "median_s": round(statistics.median(walls), 3),
        "best_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "runs_s": [round(t, 3) for t in walls],
    }


def vectorised(fy: int, only: str | None = None) -> tuple[list[PolicyFile], list[str]]:
    """The policies the batch engine vectorises that year (the others it hands, for
    every row, to the per-profile engine: a million rows of those would time that);
    with ``only`` (comma-separated ids), just those of them."""
    catalog = list(load_catalog(ROOT / "policy_catalog"))
    policies = [p for p in catalog if compile_policy(p, fy).unsupported is None]
    if only is not None:
        wanted = set(only.split(","))
        policies = [p for p in policies if p.id in wanted]
    return policies, [p.id for p in catalog if p not in policies]


def engine_phase(args: argparse.Namespace) -> dict[str, Any]:
    fy, n, threads = args.fiscal_year, args.rows, len(os.sched_getaffinity(0))
    policies, skipped = vectorised(fy, args.only)
    ready = rss()
    start = time.perf_counter()
    table = generate(n, fy, args.seed, required_columns(policies, fy))
    generation = time.perf_counter() - start
    gc.collect()
    trim()
    with_table, generation_peak = rss(), peak_rss()
    reset = reset_peak()
    evaluate_population(policies, table, fy)  # the first evaluation: its peak is its own
    first_peak = peak_rss()
    rounds = {
        "threads": timed(lambda: evaluate_population(policies, table, fy), args.runs),
        "one_thread": timed(lambda: evaluate_population(policies, table, fy, workers=1), args.runs),
    }
    gc.collect()
    tracemalloc.start()
    result = evaluate_population(policies, table, fy)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peaks = [p for p in (generation_peak, peak_rss()) if p is not None]
    out: dict[str, Any] = {
        "code": str(Path(app.__file__).parents[1]),
        "policies": len(policies),
        "policy_ids": [p.id for p in policies],
        "per_profile_policies": skipped,
        "threads": threads,
        "generation_s": round(generation, 3),
        **rounds,
        "memory": {
            "rss_before_table": ready,
            "table_bytes": table_bytes(table),
            "rss_with_table": with_table,
            "evaluation_peak_rss_rise": (
                first_peak - with_table if reset and first_peak and with_table else None
            ),
            "evaluation_peak_traced": traced,
            "result_bytes": result_bytes(result),
            "generation_peak_rss": generation_peak,
            #: After generation: the table and the evaluations (tracemalloc's included).
            "evaluating_peak_rss": peak_rss() if reset else None,
            "process_peak_rss": max(peaks) if peaks else None,
        },
    }
    if args.checks:
        out.update(checks(args, policies, table, result))
    return out


def checks(
    args: argparse.Namespace, policies: list[PolicyFile], table: ProfileTable, result: Any
) -> dict[str, Any]:
    """Same-run references: the per-profile engine on a sample, float-only numpy rules."""
    from app.domain.engine import evaluate_catalog

    fy, n = args.fiscal_year, table.n
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
    totals = result.totals()
    return {
        "per_profile_ms": round(per_profile * 1000, 3),
        "per_profile_extrapolated_s": round(per_profile * n, 1),
        "float_baseline": timed(float_baseline(table, fy), args.runs),
        "fallback": {
            "full_rows": len(result.full_rows),
            "policy_rows": sum(result.fallback_counts().values()),
            "unsupported": dict(result.unsupported),
        },
        "sample_check": {"rows": len(sample), "mismatches": mismatches},
        "eligible": {pid: t.eligible for pid, t in totals.items()},
        "undetermined": {pid: t.undetermined for pid, t in totals.items()},
        "amount_yuan": {pid: str(t.amount) for pid, t in totals.items()},
    }


def stream_phase(args: argparse.Namespace) -> dict[str, Any]:
    """``--rows`` profiles a chunk at a time: generated, evaluated, summed, dropped.

    Three passes; the evaluation's time is the pass's less the generation's and the
    summing's (wall-clock and CPU alike). The peak RSS is the whole process's.
    """
    fy, n, size = args.fiscal_year, args.rows, args.stream_chunk
    policies, _ = vectorised(fy, args.only)
    specs = required_columns(policies, fy)
    aside = [0.0, 0.0]  # wall, CPU spent generating and summing

    @contextlib.contextmanager
    def set_aside() -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        aside[0] += time.perf_counter() - wall
        aside[1] += time.process_time() - cpu

    def chunks() -> Iterator[ProfileTable]:
        for i, start in enumerate(range(0, n, size)):
            with set_aside():
                table = generate(min(size, n - start), fy, args.seed + i, specs)
            yield table

    walls, cpus, eligible = [], [], 0
    for _ in range(3):
        aside[:] = [0.0, 0.0]
        eligible = 0
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            from app.domain.batch import evaluate_chunks

            results: Iterator[Any] = evaluate_chunks(policies, chunks(), fy)
        except ImportError:  # an engine without it: the same loop by hand
            results = (evaluate_population(policies, t, fy) for t in chunks())
        for result in results:
            with set_aside():
                eligible += sum(t.eligible for t in result.totals().values())
            del result
        walls.append(time.perf_counter() - wall - aside[0])
        cpus.append(time.process_time() - cpu - aside[1])
    return {
        "rows": n,
        "chunk_rows": size,
        "evaluation_s": round(statistics.median(walls), 3),
        "evaluation_cpu_s": round(statistics.median(cpus), 3),
        "runs_s": [round(t, 3) for t in walls],
        "eligible_answers": eligible,
        "process_peak_rss": peak_rss(),
    }


def table_bytes(table: ProfileTable) -> int:
    size = sum(c.value.nbytes + c.known.nbytes for c in table.num.values())
    size += sum(c.codes.nbytes for c in table.cat.values())
    size += sum(
        c.days.nbytes + c.known.nbytes + c.year.nbytes + c.month.nbytes for c in table.date.values()
    )
    rec = table.recognitions
    if rec is not None:
        size += sum(
            a.nbytes for a in (rec.known, rec.row, rec.kind, rec.level, rec.granted, rec.expires)
        )
    return size


def result_bytes(result: Any) -> int:
    """The arrays a result keeps (dense per row, and sparse)."""
    size = 0
    for col in result.columns.values():
        for name in ("status", "basis", "paid_rows", "paid_fen", "missing_rows", "missing_bits"):
            size += getattr(col, name).nbytes
    return size


def run_phase(args: argparse.Namespace) -> dict[str, Any]:
    return engine_phase(args) if args.phase == "engine" else stream_phase(args)
