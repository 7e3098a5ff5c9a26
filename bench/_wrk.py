"""Load from wrk (Debian package ``wrk``): a server process, a POST script, CPU on both sides.

An HTTP client written in Python tops out near 600 requests/s here, below what a
bare endpoint serves, so every ratio it gave was too kind. wrk is written in C and
reaches tens of thousands of requests/s on one thread; ``run`` records its own CPU
time beside the server's, so a report shows that the load generator was not the
bottleneck.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._support import ROOT, free_port

WRK = shutil.which("wrk") or "/usr/bin/wrk"
TICKS = os.sysconf("SC_CLK_TCK")

# wrk runs this script once per thread. The body is read from a file named in the
# environment (``BENCH_BODIES``: one body a line, sent in turn, each thread from its
# own place), and `done` prints one JSON line that `run` picks out of the output.
LUA = """
wrk.method = os.getenv("BENCH_METHOD")
local path = os.getenv("BENCH_BODY")
if path ~= nil and path ~= "" then
  local f = io.open(path, "rb")
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
local many = os.getenv("BENCH_BODIES")
if many ~= nil and many ~= "" then
  local bodies = {}
  for line in io.lines(many) do bodies[#bodies + 1] = line end
  local turn = math.random(#bodies)
  wrk.headers["Content-Type"] = "application/json"
  request = function()
    turn = turn % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[turn])
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n@@{"requests":%d,"duration_us":%d,"bytes":%d,"non_2xx":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def require_wrk() -> None:
    if not Path(WRK).exists():
        sys.exit("bench/api.py needs wrk: `apt-get install wrk` (Debian/Ubuntu package `wrk`)")


def version() -> str:
    out = subprocess.run([WRK, "-v"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).split("\n", 1)[0].strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime are fields 14-17 of stat(5); the split drops 1-2.
    return sum(int(v) for v in fields[11:15]) / TICKS


@dataclass
class Server:
    url: str
    pid: int


@contextlib.contextmanager
def serve(
    target: str, env: dict[str, str], factory: bool = False, code: Path | None = None
) -> Iterator[Server]:
    """One uvicorn worker on a free loopback port with the settings every target shares;
    ``code`` serves it from another copy of the code (this checkout's by default)."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", "1", "--log-level", "warning", "--no-access-log", "--no-proxy-headers"),
    ]
    if factory:
        command.append("--factory")
    env = {**os.environ, **env}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    process = subprocess.Popen(command, cwd=code or ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{target} did not start")
            time.sleep(0.2)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # the server's CPU time per request
    wrk_cpu_share: float  # wrk's CPU time over the run's wall time (1.0 = one core busy)


def run(
    server: Server,
    path: str,
    *,
    seconds: float,
    connections: int,
    threads: int,
    body: Path | None = None,
    bodies: Path | None = None,
    script: Path,
) -> Run:
    """Drive ``path`` for ``seconds`` with wrk; every response must be a 2xx. A POST
    sends ``body``, or each line of ``bodies`` in turn."""
    env = {
        **os.environ,
        "BENCH_METHOD": "POST" if body or bodies else "GET",
        "BENCH_BODY": str(body or ""),
        "BENCH_BODIES": str(bodies or ""),
    }
    command = [
        *(
            WRK,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
        ),
        *("-s", str(script), server.url + path),
    ]
    server_before = cpu_seconds(server.pid)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    server_cpu = cpu_seconds(server.pid) - server_before
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{out}")
    line = next(x for x in out.splitlines() if x.startswith("@@"))
    figures = json.loads(line[2:])
    errors = {k: figures[k] for k in ("non_2xx", "connect", "read", "write", "timeout")}
    if any(errors.values()):
        raise RuntimeError(f"{server.url}{path}: errors under load {errors}")
    wall = figures["duration_us"] / 1e6
    return Run(
        rps=figures["requests"] / wall,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu_ms=1000 * server_cpu / max(1, figures["requests"]),
        wrk_cpu_share=(usage.ru_utime + usage.ru_stime) / wall,
    )


def write_script(directory: Path) -> Path:
    path = directory / "load.lua"
    path.write_text(LUA, encoding="utf-8")
    return path
