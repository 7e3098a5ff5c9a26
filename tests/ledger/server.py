"""The server under test (uvicorn, several workers, as a subprocess) and concurrent calls."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.catalog.loader import Catalog, load_catalog
from app.db.session import make_engine, make_sessionmaker
from app.services.actors import SYSTEM
from app.services.keys import issue_key

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = REPO_ROOT / "policy_catalog"
WORKERS = 4
START_TIMEOUT = 180.0  # seconds: four workers import the app and load the catalog
STOP_TIMEOUT = 8.0
REQUEST_TIMEOUT = 90.0


@lru_cache(maxsize=4)
def catalog_at(directory: Path = CATALOG_DIR) -> Catalog:
    return load_catalog(directory)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class LedgerServer:
    """One uvicorn master with its workers, on one database."""

    db_url: URL
    workdir: Path
    workers: int = WORKERS
    admin_token: str = ""
    catalog_dir: Path = CATALOG_DIR
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    starts: int = 0
    #: Settings for this server beyond the defaults below (e.g. a low rate limit).
    env: dict[str, str] = field(default_factory=dict)
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        # NullPool: the tests' own connections never linger (and never hold SQLite locks).
        self.engine = make_engine(self.db_url, poolclass=NullPool)

    # ------------------------------------------------------------ direct database access

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def session(self) -> AbstractContextManager[Session]:
        """A session in a transaction that commits on exit (the service layer's unit of work)."""
        return make_sessionmaker(self.engine).begin()

    @property
    def catalog(self) -> Catalog:
        return catalog_at(self.catalog_dir)

    def issue(self, role: str = "admin", label: str | None = None, **scope: Any) -> str:
        """A new API key, issued through the service as ``incentives keys create`` does."""
        with self.session() as session:
            return issue_key(
                session,
                self.catalog,
                role=role,
                label=label or f"ledger-{role}",
                actor=SYSTEM,
                **scope,
            ).token

    # ------------------------------------------------------------ the server process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, catalog_dir: Path | None = None) -> None:
        assert self.process is None, "already running"
        if catalog_dir is not None:
            self.catalog_dir = catalog_dir
        problem = ""
        for _attempt in range(3):  # another process may take the free port first
            problem = self._try_start()
            if not problem:
                return
            if "address already in use" not in problem.lower():
                break
        pytest.fail(f"the server did not start:\n{problem}", pytrace=False)

    def _try_start(self) -> str:
        self.port = _free_port()
        self.starts += 1
        self.log_path = self.workdir / f"uvicorn-{self.starts}.log"
        env = {
            **os.environ,
            "DATABASE_URL": self.db_url.render_as_string(hide_password=False),
            "CATALOG_DIR": str(self.catalog_dir),
            "PUBLIC_RATE_LIMIT_PER_MINUTE": "100000",
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--workers",
            str(self.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            # As `incentives serve` runs it: the app, not uvicorn, decides which proxy
            # headers to believe (TRUSTED_PROXIES).
            "--no-proxy-headers",
            # A loaded test machine can be slow to answer the supervisor's ping while
            # four workers import the app at once; do not let it kill them for that.
            "--timeout-worker-healthcheck",
            "60",
            "--timeout-graceful-shutdown",
            "5",
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one at teardown
            )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=self.base_url, timeout=5.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    problem = f"uvicorn exited with {self.process.returncode}:\n{self.log_tail()}"
                    self.process = None
                    return problem
                if self.startups() >= self.workers:
                    try:
                        if client.get("/health").status_code == 200:
                            return ""
                    except httpx.TransportError:
                        pass
                time.sleep(0.1)
        self.stop()
        return f"not ready after {START_TIMEOUT:.0f} s:\n{self.log_tail()}"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
        # Whatever is left of the group this fixture started (its pgid is the master's pid).
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored: no wait long
            process.wait(timeout=STOP_TIMEOUT)

    def restart(self, catalog_dir: Path | None = None) -> None:
        self.stop()
        self.start(catalog_dir)

    def worker_pids(self) -> list[int]:
        """The live worker processes: children of the master started by multiprocessing
        spawn (the master also has a resource-tracker child, which serves no requests)."""
        assert self.process is not None
        master = self.process.pid
        children: list[int] = []
        for task in Path(f"/proc/{master}/task").glob("*"):
            try:
                children += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        if not children:
            found = subprocess.run(
                ["pgrep", "-P", str(master)], capture_output=True, text=True, timeout=10
            )
            children = [int(p) for p in found.stdout.split()]
        workers = []
        for pid in sorted(set(children)):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                workers.append(pid)
        return workers

    def connections_by_worker(self) -> dict[int, int]:
        """How many client connections each worker holds open right now (ESTABLISHED
        TCP sockets on the server's port, matched to the workers' file descriptors)."""
        established = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == self.port and fields[3] == "01":
                    established.add(fields[9])  # the socket's inode
        counts = {}
        for pid in self.worker_pids():
            inodes = set()
            try:
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
            except OSError:
                continue
            counts[pid] = len(inodes & established)
        return counts

    def startups(self) -> int:
        """How many worker processes have finished their start-up (replacements too)."""
        return self.log().count("Application startup complete.")

    def wait_for_workers(self, startups: int, timeout: float = START_TIMEOUT) -> None:
        """Until ``startups`` start-ups are logged and every worker is alive, e.g. after
        the supervisor replaced a killed worker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.startups() >= startups and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.1)
        raise AssertionError(f"the workers did not come back:\n{self.log_tail()}")

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # ------------------------------------------------------------ HTTP

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers=auth(token),
            timeout=REQUEST_TIMEOUT,
            trust_env=False,
        )


# ---------------------------------------------------------------- concurrent requests


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Outcome = httpx.Response | BaseException


def async_client(base_url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=REQUEST_TIMEOUT,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        trust_env=False,
    )


def burst(base_url: str, token: str | None, calls: Sequence[Call]) -> list[Outcome]:
    """Send every call at once (one connection each); the responses or exceptions, in order."""

    async def run() -> list[Outcome]:
        async with async_client(base_url, len(calls)) as client:
            sends = [
                client.request(c.method, c.path, json=c.json, headers={**auth(token), **c.headers})
                for c in calls
            ]
            return await asyncio.wait_for(
                asyncio.gather(*sends, return_exceptions=True), REQUEST_TIMEOUT + 30
            )

    return asyncio.run(run())
