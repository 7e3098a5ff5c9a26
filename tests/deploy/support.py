"""Running the command line as a separate process, and a server it starts.

The deploy tests run ``incentives`` the way an operator does (a process with its own
environment and working directory), so what they prove holds outside pytest's
interpreter: the installed package, the README tour, the database roles.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

START_TIMEOUT = 120.0  # seconds: a loaded 2-core machine imports the app and loads the catalog
STOP_TIMEOUT = 8.0
COMMAND_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(
    command: Sequence[str | Path], env: Mapping[str, str], cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; with ``check``, fail showing its output."""
    done = subprocess.run(
        [str(part) for part in command],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    if check:
        assert done.returncode == 0, (
            f"{' '.join(map(str, command))} exited with {done.returncode}:\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return done


@contextmanager
def serving(
    command: Sequence[str | Path], env: Mapping[str, str], cwd: Path, port: int, log: Path
) -> Iterator[str]:
    """Start a server (``incentives serve`` on ``port``), wait for /health, stop it at exit.

    Yields the base URL. The server gets a process group of its own, which is what is
    stopped at the end: only what this fixture started.
    """
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(part) for part in command],
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, base_url, log)
        yield base_url
    finally:
        _stop(process)


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=base_url, timeout=5.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}"
                )
            with suppress(httpx.TransportError):
                if client.get("/health").status_code == 200:
                    return
            time.sleep(0.2)
    raise AssertionError(f"the server was not healthy in time:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT)
