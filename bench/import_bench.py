"""Benchmark of the bulk import: a 100,000-row XLSX with some bad rows, on SQLite and
PostgreSQL, imported once (the good rows in one transaction) and then again (which
must change nothing).

    .venv/bin/python bench/import_bench.py                      # both backends
    .venv/bin/python bench/import_bench.py --rows 20000 --backends sqlite
    .venv/bin/python bench/import_bench.py --baseline-rev main  # and the code of main
    TEST_POSTGRES_URL=postgresql+psycopg://user@host/db .venv/bin/python bench/import_bench.py

PostgreSQL: a database is created on the server of ``TEST_POSTGRES_URL`` (default as
in the tests) and dropped afterwards. Prints seconds and rows per second for each
phase: reading and validating the file, writing, and the whole import.

``--baseline-rev REV``: the same file is then imported by the code of ``REV`` (taken
with ``git archive``, run in a child process) on fresh databases, right after this
code, and the ratios printed: on a busy machine only the ratio is worth reporting.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[1]
# The code measured: this checkout's, or a baseline's (``--baseline-rev``).
CODE = Path(os.environ.get("IMPORT_BENCH_CODE") or ROOT)
sys.path.insert(0, str(CODE))

from app.api.schemas.types import USCC_ALPHABET, uscc_check_character  # noqa: E402
from app.catalog.loader import load_catalog  # noqa: E402
from app.db.models import Enterprise, ProfileVersion  # noqa: E402
from app.db.session import make_engine, make_sessionmaker, migrate, normalize_url  # noqa: E402
from app.services import bulk_import  # noqa: E402
from app.services.actors import Actor  # noqa: E402
from bench._support import machine  # noqa: E402

CHILD_FLAG = "--figures-to-stdout"

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
HEADERS = [
    "统一社会信用代码", "企业名称", "主体类型", "成立日期", "省", "市", "区", "园区", "行业",
    "高新技术领域", "职工总数", "科技人员数", "研发人员数", "Ⅰ类知识产权", "Ⅱ类知识产权",
    "自主品牌", "严重失信", "营业收入_2023", "营业收入_2024", "研发费用_2023", "研发费用_2024",
    "资产总额_2024", "负债总额_2024", "应纳税所得额_2024", "认定",
]  # fmt: skip
DISTRICTS = {
    "jiangning": ["jiangning-high-tech-zone", "jiangning-development-zone", None],
    "xuanwu": ["xuzhuang-software-park", None],
    "gulou": [None],
    "qinhuai": [None],
}
INDUSTRIES = [
    "software_information",
    "manufacturing",
    "scientific_research_technical",
    "信息传输、软件和信息技术服务业",
]
FIELDS = ["electronic_information", "new_materials", "advanced_manufacturing_automation", None]


def uscc(rng: random.Random) -> str:
    body = "91" + "320115" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_character(body)


def row(rng: random.Random, n: int, code: str) -> list[Any]:
    district = rng.choice(list(DISTRICTS))
    revenue = rng.randint(100_000, 2_000_000_000)
    recognitions = rng.choice(
        [None, "无", "high_tech_enterprise:national:2023-11-30:2026-11-29", "tech_sme::2024-05-01"]
    )
    return [
        code, f"南京第{n}科技有限公司", "enterprise", f"20{rng.randint(0, 23):02d}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "jiangsu", "nanjing", district, rng.choice(DISTRICTS[district]), rng.choice(INDUSTRIES),
        rng.choice(FIELDS), rng.randint(1, 5000), rng.randint(0, 500), rng.randint(0, 300),
        rng.randint(0, 20), rng.randint(0, 50), rng.choice(["是", "否", None]), "否",
        revenue, int(revenue * 1.1), round(revenue * 0.05, 2), round(revenue * 0.06, 2),
        revenue * 2, revenue, rng.randint(-1_000_000, 10_000_000), recognitions,
    ]  # fmt: skip


def spoil(cells: list[Any], kind: int) -> None:
    """Five kinds of bad row, in turn."""
    if kind == 0:
        cells[0] = cells[0][:17] + ("0" if cells[0][17] != "0" else "1")  # check character
    elif kind == 1:
        cells[18] = -5  # negative revenue
    elif kind == 2:
        cells[8] = "software"  # unknown word
    elif kind == 3:
        cells[1] = None  # no name
    else:
        cells[10] = "十二"  # not a number


def make_csv(rows: int, bad_every: int, seed: int) -> tuple[bytes, int]:
    """The same rows as ``make_xlsx``, as UTF-8 CSV."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    bad = 0
    for cells in _rows(rows, bad_every, seed):
        bad = cells.pop()
        writer.writerow(["" if c is None else c for c in cells])
    return out.getvalue().encode(), bad


def _rows(rows: int, bad_every: int, seed: int) -> Iterator[list[Any]]:
    """Each row's cells, then the count of bad rows so far (popped by the caller)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    bad = 0
    for n in range(rows):
        code = uscc(rng)
        while code in seen:
            code = uscc(rng)
        seen.add(code)
        cells = row(rng, n, code)
        if bad_every and n % bad_every == bad_every - 1:
            spoil(cells, bad % 5)
            bad += 1
        yield [*cells, bad]


def make_xlsx(rows: int, bad_every: int, seed: int) -> tuple[bytes, int]:
    rng = random.Random(seed)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("企业")
    sheet.append(HEADERS)
    seen: set[str] = set()
    bad = 0
    for n in range(rows):
        code = uscc(rng)
        while code in seen:
            code = uscc(rng)
        seen.add(code)
        cells = row(rng, n, code)
        if bad_every and n % bad_every == bad_every - 1:
            spoil(cells, bad % 5)
            bad += 1
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), bad


@contextmanager
def database(backend: str, postgres: str) -> Iterator[URL]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield normalize_url(f"sqlite:///{tmp}/bench.db")
        return
    admin_url = normalize_url(postgres)
    name = f"incentives_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Clock:
    """Wall and CPU seconds of this process (the CPU figure is what a busy machine
    does not inflate)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        lap = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return lap


def import_once(
    url: URL, catalog: Any, data: bytes, kind: str = "csv"
) -> tuple[bulk_import.ImportReport, tuple[float, float], tuple[float, float], float | None]:
    """Read and check the file, then write it in one transaction (committed). Also the
    CPU seconds the PostgreSQL server process spent on the write, when it runs on this
    machine (what a busy machine does not inflate, as this process's CPU time)."""
    actor = Actor(name="bench", role="admin")
    source = bulk_import.ImportFile(f"bench.{kind}", kind, io.BytesIO(data))
    engine = make_engine(url)
    clock = Clock()
    prepared = bulk_import.prepare(catalog, source, actor)
    read = clock.lap()
    server_before = server = None
    with make_sessionmaker(engine).begin() as session:
        if engine.dialect.name == "postgresql":
            pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            server_before = _process_cpu(pid)
        report = bulk_import.apply(session, prepared, actor)
    write = clock.lap()
    if server_before is not None:
        after = _process_cpu(pid)
        server = None if after is None else after - server_before
    engine.dispose()
    return report, read, write, server


def _process_cpu(pid: Any) -> float | None:
    """User and system CPU seconds of a process of this machine (None: not here)."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(
    backend: str, url: URL, catalog: Any, data: bytes, rows: int, kind: str
) -> dict[str, Any]:
    migrate(url)
    figures: dict[str, Any] = {}
    for attempt in ("first import", "same file again"):
        report, read, write, server = import_once(url, catalog, data, kind)
        wall, cpu = read[0] + write[0], read[1] + write[1]
        figures[attempt] = {
            "write_server_cpu_s": None if server is None else round(server, 2),
            "read_check_s": round(read[0], 2),
            "read_check_cpu_s": round(read[1], 2),
            "write_s": round(write[0], 2),
            "write_cpu_s": round(write[1], 2),
            "total_s": round(wall, 2),
            "total_cpu_s": round(cpu, 2),
            "rows_per_s": round(rows / wall),
        }
        print(
            f"{backend:<9} {attempt:<16} read+check {read[0]:5.1f} s (cpu {read[1]:5.1f})  "
            f"write {write[0]:5.1f} s (cpu {write[1]:5.1f}"
            + ("" if server is None else f", server cpu {server:5.1f}")
            + f")  total {wall:5.1f} s (cpu {cpu:5.1f})  "
            f"{rows / wall:6.0f} rows/s ({rows / cpu:6.0f} per cpu-s)",
            flush=True,
        )
        print(
            f"{'':<9} {'':<16} accepted {report.accepted}, rejected {report.rejected}, "
            f"created {report.created}, updated {report.updated}, unchanged {report.unchanged}",
            flush=True,
        )
        if attempt == "same file again":
            assert (report.created, report.updated) == (0, 0), "the second import changed something"
    engine = make_engine(url)
    with engine.connect() as connection:
        enterprises = connection.scalar(select(func.count()).select_from(Enterprise))
        versions = connection.scalar(select(func.count()).select_from(ProfileVersion))
    engine.dispose()
    print(
        f"{backend:<9} stored: {enterprises} enterprises, {versions} profile versions", flush=True
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad-every", type=int, default=500, help="one bad row in N (0: none)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=20241)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--baseline-rev", help="also import the file with the code of REV")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, alternating the codes")
    parser.add_argument(CHILD_FLAG, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    postgres = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    catalog = load_catalog(CODE / "policy_catalog")

    started = time.perf_counter()
    make = make_csv if args.format == "csv" else make_xlsx
    data, bad = make(args.rows, args.bad_every, args.seed)
    print(
        f"generated {args.rows} rows x {len(HEADERS)} columns ({bad} bad) as {args.format}: "
        f"{len(data) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s",
        file=sys.stderr if args.figures_to_stdout else sys.stdout,
        flush=True,
    )
    results: dict[str, Any] = {
        "machine": machine(),
        "rows": args.rows,
        "bad_rows": bad,
        "format": args.format,
        "target": "first import of 100,000 CSV rows within 10 s, all or none",
        "code": str(Path(bulk_import.__file__).resolve().parents[2]),
    }
    if args.figures_to_stdout:
        results.update(measure(args, catalog, data, postgres))
        print(json.dumps(results))
        return 0
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        code = None
        if args.baseline_rev:
            from bench.engine import baseline_code

            code = baseline_code(args.baseline_rev, Path(tmp))
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}: this code", flush=True)
            this = measure(args, catalog, data, postgres)
            rounds.append({"this": this})
            if code is not None:
                print(f"round {number} of {args.rounds}: {args.baseline_rev}", flush=True)
                rounds[-1]["baseline"] = baseline(args, code)
    results["rounds"] = rounds
    if args.baseline_rev:
        results["baseline_rev"] = args.baseline_rev
        results["summary"] = summary(args, rounds)
    results["load_average_after"] = os.getloadavg()
    out = ROOT / "bench" / "results" / "import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


def measure(args: argparse.Namespace, catalog: Any, data: bytes, postgres: str) -> dict[str, Any]:
    """Each backend's figures for this process's code, on a fresh database each."""
    figures: dict[str, Any] = {}
    for backend in args.backends.split(","):
        load = os.getloadavg()
        print(f"load average before {backend}: {load[0]:.1f} on {os.cpu_count()} CPUs")
        with database(backend, postgres) as url:
            figures[backend] = bench(backend, url, catalog, data, args.rows, args.format)
        figures[backend]["load_average_before"] = load
    return figures


def baseline(args: argparse.Namespace, code: Path) -> dict[str, Any]:
    """The same benchmark run by the code of ``--baseline-rev``, in a child process."""
    command = [sys.executable, __file__, CHILD_FLAG, "--rows", str(args.rows)]
    command += ["--bad-every", str(args.bad_every), "--backends", args.backends]
    command += ["--seed", str(args.seed), "--format", args.format]
    env = {**os.environ, "IMPORT_BENCH_CODE": str(code), "PYTHONPATH": str(code)}
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
    *lines, last = done.stdout.splitlines()
    print("\n".join(lines), flush=True)
    figures: dict[str, Any] = json.loads(last)
    return figures


def summary(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds, this code's against the baseline's, and their ratios."""
    out: dict[str, Any] = {}
    for backend in args.backends.split(","):
        for attempt in ("first import", "same file again"):
            row: dict[str, Any] = {}
            for figure in (
                "total_s",
                "total_cpu_s",
                "read_check_cpu_s",
                "write_s",
                "write_cpu_s",
                "write_server_cpu_s",
            ):
                values = [r["this"][backend][attempt].get(figure) for r in rounds]
                baselines = [r["baseline"][backend][attempt].get(figure) for r in rounds]
                if None in values or None in baselines:
                    continue
                now, before = statistics.median(values), statistics.median(baselines)
                ratio = round(now / before, 2) if before else None
                row[figure] = {"this": now, "baseline": before, "ratio": ratio}
            row["total_s_ratio_by_round"] = [
                round(
                    r["this"][backend][attempt]["total_s"]
                    / r["baseline"][backend][attempt]["total_s"],
                    2,
                )
                for r in rounds
            ]
            out[f"{backend} {attempt}"] = row
            total, cpu = row["total_s"], row["total_cpu_s"]
            server = row.get("write_server_cpu_s")
            if server:
                print(
                    f"{backend:<9} {attempt:<16} the server's cpu for the write: median "
                    f"{server['this']:.1f} s against {server['baseline']:.1f} s "
                    f"({server['ratio']})"
                )
            print(
                f"{backend:<9} {attempt:<16} median {total['this']:5.1f} s against "
                f"{total['baseline']:5.1f} s for {args.baseline_rev}: {total['ratio']:.2f} of it "
                f"(cpu {cpu['this']:.1f} against {cpu['baseline']:.1f}: {cpu['ratio']:.2f}; "
                f"by round {row['total_s_ratio_by_round']})"
            )
    return out


if __name__ == "__main__":
    sys.exit(main())
