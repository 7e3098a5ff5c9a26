"""``incentives serve`` as deployed: a client behind no trusted proxy cannot pick its address.

uvicorn, left to itself, believes ``X-Forwarded-For`` from 127.0.0.1; the command runs
it without that, so only the application's TRUSTED_PROXIES decides (empty here).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from app.db.session import migrate
from tests.ledger.server import _free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``incentives serve`` on one worker and an SQLite file; its base URL."""
    database = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate(database)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "CATALOG_DIR": str(ROOT / "policy_catalog"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "PUBLIC_RATE_LIMIT_PER_MINUTE": "1",
    }
    env.pop("TRUSTED_PROXIES", None)
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            with suppress(httpx.TransportError):
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            pytest.fail(f"not serving:\n{(tmp_path / 'serve.log').read_text()}")
        yield base
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_serve_does_not_let_a_local_client_rotate_its_address(served: str) -> None:
    body = {"fiscal_year": 2024, "profile": {"name": "南京示例科技有限公司"}}
    with httpx.Client(base_url=served, timeout=60, trust_env=False) as http:
        first = http.post("/v1/eligibility", json=body, headers={"X-Forwarded-For": "203.0.113.1"})
        second = http.post("/v1/eligibility", json=body, headers={"X-Forwarded-For": "203.0.113.2"})
    assert first.status_code == 200, first.text
    assert second.status_code == 429, second.text
