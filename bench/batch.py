"""The batch engine on a million synthetic profiles: time and memory, before and after.

    .venv/bin/python bench/batch.py [--rows 1000000] [--runs 5] [--sample 2000]
        [--fiscal-year 2024] [--seed 7] [--stream-chunk 100000]
        [--baseline-ref REF | --no-baseline]

Each measurement runs in a fresh process, so its memory figures are its own:

* ``engine``: the whole population as one table in memory (``bench/_profiles.py``),
  every policy the batch engine vectorises that year. Reports the median wall-clock
  and CPU time of ``--runs`` evaluations on every core and on one thread; the
  evaluation's own peak, as the rise of the peak RSS above the generated table during
  the first evaluation and as tracemalloc's peak (which sees numpy's buffers); and the
  peak RSS of the whole process (interpreter, catalog, table, evaluation).
* ``stream``: the same number of profiles generated and evaluated a chunk at a time
  (``evaluate_chunks``), each chunk's answers summed and dropped, as a population run
  over the database does: the peak RSS of the whole process, and the evaluation time.

Both run twice in the same session: with this checkout's engine ("after") and with the
engine at ``--baseline-ref`` ("before", extracted with ``git archive``; by default the
engine before it evaluated slices of rows), on the same population and policies, and
the table gives after ÷ before. The run with this checkout also checks a sample of
rows against the per-profile engine and times a float-only numpy baseline of a dozen
simple rules. Prints a table and writes ``bench/results/batch.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The engine before it evaluated a table a slice of rows at a time.
BASELINE_REF = "9671041a684079bbaebc6bbacb60e1e6c66c0da5"


def _code_root() -> Path:
    """Where ``app`` is imported from: this checkout, or ``--code`` (another version)."""
    if "--code" in sys.argv:
        return Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    return ROOT


sys.path[:0] = [str(_code_root()), str(ROOT / "bench")]

import numpy as np  # noqa: E402

# ---------------------------------------------------------------- the run (parent)


@contextlib.contextmanager
def baseline_code(ref: str) -> Iterator[Path]:
    """The ``app`` package at ``ref``, extracted to a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="batch-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "app"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def child(
    args: argparse.Namespace, phase: str, code: Path | None = None, only: list[str] | None = None
) -> dict[str, Any]:
    """One measurement in a fresh process; its report, or the error that stopped it."""
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase]
    for name in ("rows", "runs", "sample", "fiscal_year", "seed", "stream_chunk"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if only is not None:
        command += ["--only", ",".join(only)]
    if code is not None:
        command += ["--code", str(code)]
    elif phase == "engine" and only is None:
        command.append("--checks")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--fiscal-year", type=int, default=2024)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stream-chunk", type=int, default=100_000)
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--phase", choices=["engine", "stream"], help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--checks", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        from _batch_phases import run_phase

        print(json.dumps(run_phase(args)))
        return

    load_before = os.getloadavg()
    runs: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        try:
            old = (
                None if args.no_baseline else stack.enter_context(baseline_code(args.baseline_ref))
            )
        except subprocess.CalledProcessError as exc:
            parser.error(f"--baseline-ref {args.baseline_ref}: {exc.stderr.decode().strip()}")
        # Before and after alternate, so that a change of load hits both alike. After
        # evaluates the policies before did (like for like); the whole catalog, which
        # may hold policies the baseline could not vectorise, is measured apart.
        for phase in ("engine", "stream"):
            same: list[str] | None = None
            if old is not None:
                runs[f"{phase}_before"] = child(args, phase, old)
                same = runs["engine_before"].get("policy_ids")
            runs[f"{phase}_after"] = child(args, phase, only=same)
        if old is not None:
            runs["engine_whole_catalog"] = child(args, "engine")
    report = {
        "rows": args.rows,
        "fiscal_year": args.fiscal_year,
        "baseline_ref": None if args.no_baseline else args.baseline_ref,
        "machine": machine(),
        "load_average_before_after": [load_before, os.getloadavg()],
        **runs,
    }
    out = ROOT / "bench" / "results" / "batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _print(report)


def _print(r: dict[str, Any]) -> None:
    m = r["machine"]
    after = r["engine_after"]
    print(f"{r['rows']:,} profiles, fiscal year {r['fiscal_year']}, machine: {m['nproc']} cores, ")
    print(f"  {m['cpu']}, python {m['python']}, numpy {m['numpy']}")
    for key in ("engine_before", "engine_after", "stream_before", "stream_after"):
        if "error" in r.get(key, {}):
            print(f"{key}: failed: {r[key]['error']}")
    if "policies" in after and "engine_before" in r:
        print(f"before and after: the {after['policies']} policies both vectorise")
    whole = r.get("engine_whole_catalog", after)
    if "policies" in whole:
        left_out = sorted(set(whole["per_profile_policies"]))
        print(
            f"whole catalog, after: {whole['policies']} policies vectorised (left to the"
            f" per-profile engine: {', '.join(left_out) or 'none'})"
        )
    mib = 2**20

    def get(key: str, *path: str) -> Any:
        node: Any = r.get(key, {})
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return node

    lines = [
        ("batch engine, all cores: median wall s", ("threads", "median_s"), 1),
        ("  CPU s (median)", ("threads", "cpu_median_s"), 1),
        ("batch engine, 1 thread: median wall s", ("one_thread", "median_s"), 1),
        ("  CPU s (median)", ("one_thread", "cpu_median_s"), 1),
        ("table (columns) MiB", ("memory", "table_bytes"), mib),
        ("evaluation peak: RSS rise above table MiB", ("memory", "evaluation_peak_rss_rise"), mib),
        ("evaluation peak: traced MiB", ("memory", "evaluation_peak_traced"), mib),
        ("result arrays MiB", ("memory", "result_bytes"), mib),
        ("peak RSS while generating the table MiB", ("memory", "generation_peak_rss"), mib),
        ("peak RSS after, table + evaluations MiB", ("memory", "evaluating_peak_rss"), mib),
        ("process peak RSS, table in memory MiB", ("memory", "process_peak_rss"), mib),
    ]
    print(f"{'what':<44} {'before':>10} {'after':>10} {'after/before':>13}")
    rows = [(name, "engine", path, unit) for name, path, unit in lines]
    rows += [
        (
            f"streamed in chunks of {get('stream_after', 'chunk_rows')}: wall s",
            "stream",
            ("evaluation_s",),
            1,
        ),
        ("  CPU s", "stream", ("evaluation_cpu_s",), 1),
        ("streamed: process peak RSS MiB", "stream", ("process_peak_rss",), mib),
    ]
    for name, phase, path, unit in rows:
        before, now = get(f"{phase}_before", *path), get(f"{phase}_after", *path)
        cells = [
            f"{v / unit:10.3f}"
            if unit == 1 and v is not None
            else f"{v / unit:10.0f}"
            if v is not None
            else f"{'-':>10}"
            for v in (before, now)
        ]
        ratio = f"{now / before:13.2f}" if before and now is not None else f"{'-':>13}"
        print(f"{name:<44} {cells[0]} {cells[1]} {ratio}")
    if "engine_whole_catalog" in r and "threads" in whole:
        memory = whole["memory"]
        print(
            f"whole catalog, after: median wall {whole['threads']['median_s']:.3f} s (CPU"
            f" {whole['threads']['cpu_median_s']:.3f} s) on all cores, 1 thread"
            f" {whole['one_thread']['median_s']:.3f} s; evaluation peak: RSS rise"
            f" {(memory['evaluation_peak_rss_rise'] or 0) / mib:.0f} MiB, traced"
            f" {memory['evaluation_peak_traced'] / mib:.0f} MiB; process peak"
            f" {(memory['process_peak_rss'] or 0) / mib:.0f} MiB"
        )
    after = whole if "sample_check" in whole else after
    if "sample_check" in after:
        print(
            f"per-profile engine: {after['per_profile_ms']:.2f} ms a profile; sample of "
            f"{after['sample_check']['rows']} rows vs batch: {after['sample_check']['mismatches']} mismatches"
        )
        print(
            f"float numpy, 12 simple rules, 1 thread: median {after['float_baseline']['median_s']:.3f} s"
        )
        fb = after["fallback"]
        print(
            f"rows left to the per-profile engine (policy / whole): {fb['policy_rows']} / {fb['full_rows']}"
        )
    print(
        "load average before / after: {:.1f} / {:.1f}".format(
            *(x[0] for x in r["load_average_before_after"])
        )
    )


if __name__ == "__main__":
    main()
