"""Approvals per second over HTTP (4 uvicorn workers, load by wrk) against the tps of an
approval-shaped pgbench script, in the same run; then the ledger's guarantees.

    .venv/bin/python bench/ledger.py [--awards 1500] [--clients 16] [--rounds 3]
        [--seconds 10] [--code DIR] [--baseline DIR]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

- Seeds a scratch database through the service layer: ``--awards`` awards at the end
  of their public notice and one budget covering 90 % of them (the last tenth is
  refused with 409: the contended path of the no-overspend guarantee). ANALYZE.
- Clones it (``CREATE DATABASE … TEMPLATE``) for pgbench, which runs
  bench/approval.pgbench there: lock the budget row, conditional UPDATE, UPDATE award,
  INSERT audit row, COMMIT, with the same number of clients as wrk has connections.
- Each round: pgbench for ``--seconds``, then wrk approving every award once
  (bench/approvals.lua). After each HTTP round the budget must not be overspent and
  must hold exactly the approved awards' sum; the awards and the budget are then put
  back for the next round (outside the API, in this scratch database only: the audit
  log keeps growing and stays a valid chain), and both databases are VACUUMed.
- Finally GET /v1/audit/verify must say the chain is intact.

``--code DIR`` serves the API from another checkout (its ``.venv``, or this one's), e.g. the code
before a change, with the same seed, schema and load: the database schema must match.
``--baseline DIR`` serves a second checkout beside it (e.g. the code before a change):
each round then approves every award once through each server in turn (the order
alternating between rounds: use an even ``--rounds``) after the same pgbench round, so
both ratios and both CPU figures come from the same run and the same load.
Prints medians of the rounds and writes bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, free_port, machine
from bench.ledger_fixtures import POLICY, ledger_state, scratch_database, seed

WORKERS = 4
COVERED = 0.9


def _libpq(url: str) -> list[str]:
    """pgbench's connection options for a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]


def _sql(url: str, *statements: str) -> list[Any]:
    """Run each statement in autocommit (VACUUM needs it); the rows of the last."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            for statement in statements:
                result = c.execute(text(statement))
            return list(result.fetchall()) if result.returns_rows else []
    finally:
        engine.dispose()


def _prepare_pgbench(url: str) -> str:
    """The budget's id after numbering the awards and making a sequence past the log."""
    rows = _sql(
        url,
        "CREATE TABLE bench_awards AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM awards",
        "CREATE UNIQUE INDEX ON bench_awards (n)",
        "CREATE SEQUENCE bench_audit_seq",
        "SELECT setval('bench_audit_seq', (SELECT max(seq) FROM audit_log))",
        "UPDATE budgets SET amount = 1e12",
        "ANALYZE",
        f"SELECT id FROM budgets WHERE policy_id = '{POLICY}'",
    )
    return str(rows[0][0])


def _pgbench(url: str, budget: str, awards: int, clients: int, seconds: int) -> float:
    from sqlalchemy.engine import make_url

    command = [
        "pgbench",
        *_libpq(url),
        "-n",
        "-M",
        "prepared",  # as psycopg does after a statement's fifth run
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-D",
        f"budget={budget}",
        "-D",
        f"awards={awards}",
        "-f",
        str(ROOT / "bench" / "approval.pgbench"),
        str(make_url(url).database),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    assert match, out
    return float(match.group(1))


def _wrk(base: str, token: str, ids_file: str, clients: int, url: str, covered: int) -> dict:
    """Approve every award once; wrk is stopped (SIGINT) once the budget is spent and
    the refusals after it are in. wrk's own clock counts its whole ``-d``, so the rate
    comes from the awards' approval times instead (``_approval_rate``)."""
    threads = 2
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_IDS": ids_file, "BENCH_THREADS": str(threads)}
    command = ["wrk", "-t", str(threads), "-c", str(clients), "-d", "600s", "--timeout", "60s"]
    command += ["-s", str(ROOT / "bench" / "approvals.lua"), base]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.25)
            with engine.connect() as c:
                done = c.execute(text("SELECT count(*) FROM awards WHERE status = 'approved'"))
                if done.scalar_one() >= covered:
                    break
        time.sleep(1.0)  # the refusals of the last tenth
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    finally:
        engine.dispose()
        if process.poll() is None:
            process.kill()
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


def _approval_rate(url: str) -> float:
    """Approvals per second between the first and the last approval of the round."""
    rows = _sql(
        url,
        "SELECT count(*), extract(epoch FROM max(updated_at) - min(updated_at)) "
        "FROM awards WHERE status = 'approved'",
    )
    count, seconds = rows[0]
    return float(count - 1) / float(seconds)


def _reset(url: str) -> None:
    """Put the awards back at the end of their notice and empty the budget (bench only).

    Then a CHECKPOINT: the pages pgbench or the last round dirtied are written now, not
    during the next HTTP round (in a run with ``--baseline`` before it, the server
    measured first after pgbench was the slower one in every round, whichever code it
    served; the order still shows in the rounds, so alternate it over an even number)."""
    _sql(
        url,
        f"UPDATE awards SET status = 'public_notice', budget_id = NULL WHERE policy_id = '{POLICY}'",
        "UPDATE budgets SET committed = 0, disbursed = 0, released = 0",
        "VACUUM ANALYZE",
        "CHECKPOINT",
    )


def _cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its descendants (the uvicorn master and its
    workers), from /proc: how much server CPU an approval costs."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, grown = {root}, True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        grown = bool(more)
        tree |= more
    return sum(times.get(pid, 0.0) for pid in tree)


def _server(code: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    # The checkout's own environment if it has one; else this one, with the checkout's
    # package first on the path (its `app` shadows the one installed here).
    python = code / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    command = [str(python), "-m", "uvicorn", "app.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    command += ["--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "DATABASE_URL": url, "CATALOG_DIR": str(code / "policy_catalog")}
    env["PYTHONPATH"] = str(code)
    process = subprocess.Popen(command, cwd=code, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


def _http_round(
    process: subprocess.Popen[bytes],
    base: str,
    token: str,
    ids_file: Path,
    url: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Approve every award once through one server; its rate, CPU and the ledger after."""
    covered = int(args.awards * COVERED)
    cpu = _cpu_seconds(process.pid)
    summary = _wrk(base, token, str(ids_file), args.clients, url, covered)
    cpu = _cpu_seconds(process.pid) - cpu
    state = ledger_state(url)
    rate = _approval_rate(url)
    summary["server_cpu_ms_per_request"] = round(cpu / summary["requests"] * 1000, 2)
    return {"approvals_per_second": round(rate, 1), "http": summary, **state}


def _summary(code: Path, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of one server's rounds, each against the pgbench round before it."""
    approvals = statistics.median(r["approvals_per_second"] for r in rounds)
    tps = statistics.median(r["pgbench_tps"] for r in rounds)
    return {
        "code": str(code),
        "rounds": rounds,
        "approvals_per_second": round(approvals, 1),
        "pgbench_tps": round(tps, 1),
        "ratio": round(approvals / tps, 3),
        "server_cpu_ms_per_request": round(
            statistics.median(r["http"]["server_cpu_ms_per_request"] for r in rounds), 2
        ),
        "overspent": any(r["overspent"] for r in rounds),
        "committed_equals_approved": all(r["committed_equals_approved"] for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--awards", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="length of a pgbench round")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout that serves the API")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="a second checkout measured in the same run"
    )
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    loadavg = [Path("/proc/loadavg").read_text().split()[:3]]
    with scratch_database(args.database) as url:
        covered = int(args.awards * COVERED)
        token, ids = seed(url, args.awards, covered=covered)
        name = url.rsplit("/", 1)[1]
        with scratch_database(args.database, "i9_ledger_pgbench", template=name) as bench_url:
            budget = _prepare_pgbench(bench_url)
            ids_file = Path(tempfile.mkdtemp(prefix="i9-ledger-")) / "ids.txt"
            ids_file.write_text("\n".join(ids) + "\n")
            codes = {"code": args.code.resolve()}
            if args.baseline is not None:
                codes["baseline"] = args.baseline.resolve()
            servers = {label: _server(code, url) for label, code in codes.items()}
            rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in codes}
            try:
                # Warm-up: every worker, both paths (approved, refused).
                for _, base in servers.values():
                    _wrk(base, token, str(ids_file), args.clients, url, covered)
                    _reset(url)
                for number in range(args.rounds):
                    tps = _pgbench(bench_url, budget, args.awards, args.clients, args.seconds)
                    _sql(bench_url, "VACUUM ANALYZE", "CHECKPOINT")
                    order = list(servers) if number % 2 == 0 else list(reversed(servers))
                    for label in order:
                        process, base = servers[label]
                        measured = _http_round(process, base, token, ids_file, url, args)
                        rounds[label].append({"pgbench_tps": round(tps, 1), **measured})
                        print(json.dumps({label: rounds[label][-1]}), flush=True)
                        _reset(url)
                _, base = servers["code"]
                verify = httpx.get(
                    base + "/v1/audit/verify",
                    headers={"authorization": f"Bearer {token}"},
                    timeout=300,
                ).json()
            finally:
                for process, _ in servers.values():
                    process.terminate()
                    process.wait(timeout=30)
    loadavg.append(Path("/proc/loadavg").read_text().split()[:3])
    report = {
        "machine": machine(),
        "loadavg_before_after": loadavg,
        "awards": args.awards,
        "clients": args.clients,
        "workers": WORKERS,
        **_summary(codes["code"], rounds["code"]),
        "audit_chain_ok": verify["ok"],
    }
    if "baseline" in rounds:
        report["baseline"] = _summary(codes["baseline"], rounds["baseline"])
        report["ratio_against_baseline"] = round(report["ratio"] / report["baseline"]["ratio"], 2)
        report["cpu_against_baseline"] = round(
            report["server_cpu_ms_per_request"] / report["baseline"]["server_cpu_ms_per_request"],
            2,
        )
    shown = {k: v for k, v in report.items() if k != "rounds"}
    if "baseline" in shown:
        shown["baseline"] = {k: v for k, v in report["baseline"].items() if k != "rounds"}
    print(json.dumps(shown, indent=2))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "ledger.json").write_text(json.dumps(report, indent=2))
    for summary in (report, report.get("baseline", report)):
        assert not summary["overspent"] and summary["committed_equals_approved"]
    assert report["audit_chain_ok"], verify


if __name__ == "__main__":
    main()
