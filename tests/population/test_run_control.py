"""Runs as jobs, on both databases: progress in shards, the per-tenant limit, cancelling
over HTTP and from the command line, and `incentives worker` executing what is queued.

The service here executes no jobs itself (JOBS_IN_PROCESS=false), so runs stay queued
until the test starts a worker process: what the API answers meanwhile is fixed.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from app.db.session import make_engine, make_sessionmaker, migrate
from app.jobs.stats import queue_stats
from app.main import create_app
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.conftest import _empty_database
from tests.helpers import random_uscc
from tests.population.test_runs_over_http import START_UP

INCENTIVES = Path(sys.executable).with_name("incentives")
FY = 2024
ENTERPRISES = 12
SHARD = 5

pytestmark = pytest.mark.xdist_group("run-control")


@dataclass
class World:
    url: URL
    client: TestClient
    admin: str
    nanjing: str
    wuhan: str

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        return self.client.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.url.render_as_string(hide_password=False),
            "CATALOG_DIR": str(CATALOG_DIR),
            "RUN_SHARD_SIZE": str(SHARD),
        }

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(INCENTIVES), *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def world(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("control")) as url:
        migrate(url)
        settings = make_settings(
            url, jobs_in_process=False, runs_per_tenant=1, run_shard_size=SHARD
        )
        with TestClient(create_app(settings)) as client:
            app: Any = client.app
            world = World(
                url,
                client,
                admin=issue_token(app),
                nanjing=issue_token(app, "portal", jurisdiction="nanjing"),
                wuhan=issue_token(app, "portal", jurisdiction="wuhan"),
            )
            for _ in range(ENTERPRISES):
                body = copy.deepcopy(START_UP) | {"uscc": random_uscc()}
                assert world.call("POST", "/v1/enterprises", world.admin, json=body).is_success
            yield world


def _waiting(world: World) -> int:
    """Jobs waiting in the queue (on SQLite: shards not done of unfinished runs)."""
    engine = make_engine(world.url)
    try:
        with make_sessionmaker(engine)() as session:
            return queue_stats(session).waiting.get("runs", 0)
    finally:
        engine.dispose()


def test_a_run_is_queued_in_shards_and_a_tenant_has_one_at_a_time(world: World) -> None:
    started = world.call("POST", "/v1/matching/runs", world.nanjing, json={"fiscal_year": FY})
    assert started.status_code == 202, started.text
    run = started.json()
    # 12 enterprises in shards of 5: two full ones and the open-ended rest.
    assert (run["status"], run["progress"], run["shards"]) == (
        "queued",
        0,
        {"done": 0, "total": 3},
    )

    # Nanjing has one queued: its next run or simulation is refused, naming the setting.
    for path, body in (
        ("/v1/matching/runs", {"fiscal_year": FY}),
        ("/v1/simulations", {"fiscal_year": FY, "changes": [{"policy_id": "nj-startup-rent-subsidy", "enabled": False}]}),
    ):  # fmt: skip
        refused = world.call("POST", path, world.nanjing, json=body)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "RUNS_PER_TENANT" in refused.json()["detail"]
    # Other tenants are not held up by Nanjing's run.
    other = world.call("POST", "/v1/matching/runs", world.wuhan, json={"fiscal_year": FY})
    assert other.status_code == 202, other.text
    assert other.json()["shards"] == {"done": 0, "total": 1}  # no Wuhan enterprises

    # Cancelled, the run frees its tenant's place; cancelling it again is a 409.
    path = f"/v1/matching/runs/{run['id']}"
    refused = world.call("POST", f"{path}/cancel", world.wuhan)
    assert refused.status_code == 404  # not Wuhan's run
    waiting = _waiting(world)
    cancelled = world.call("POST", f"{path}/cancel", world.nanjing)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert _waiting(world) == waiting - 3  # its three shards are off the queue
    assert world.call("GET", path, world.nanjing).json()["status"] == "cancelled"
    again = world.call("POST", f"{path}/cancel", world.nanjing)
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]
    assert (
        world.call("POST", "/v1/matching/runs/no-such-run/cancel", world.admin).status_code == 404
    )


def test_the_worker_executes_what_is_queued_and_skips_what_was_cancelled(world: World) -> None:
    started = world.call(
        "POST",
        "/v1/simulations",
        world.nanjing,
        json={"fiscal_year": FY, "changes": [{"policy_id": "nj-startup-rent-subsidy", "enabled": False}]},
    )  # fmt: skip
    assert started.status_code == 202, started.text
    path = f"/v1/simulations/{started.json()['id']}"
    auditor = issue_token(world.client.app, "auditor")  # type: ignore[arg-type]
    assert world.call("POST", f"{path}/cancel", auditor).status_code == 403  # reads only
    run = world.call("POST", "/v1/matching/runs", world.admin, json={"fiscal_year": FY}).json()

    worker = subprocess.Popen(
        [str(INCENTIVES), "worker"],
        env=world.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        finished = {}
        for _ in range(1200):
            finished = {
                p: world.call("GET", p, world.admin).json()
                for p in (path, f"/v1/matching/runs/{run['id']}")
            }
            if all(r["status"] not in ("queued", "running") for r in finished.values()):
                break
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert "taking jobs" in stderr
    simulation, matching = finished[path], finished[f"/v1/matching/runs/{run['id']}"]
    assert simulation["status"] == "done", simulation["error"]
    assert simulation["result"]["baseline"]["nj-startup-rent-subsidy"]["eligible"] == ENTERPRISES
    assert simulation["shards"] == {"done": 3, "total": 3}
    assert matching["status"] == "done", matching["error"]
    assert (matching["progress"], matching["total"]) == (ENTERPRISES, ENTERPRISES)
    assert matching["result"]["policies"]["nj-startup-rent-subsidy"]["eligible"] == ENTERPRISES

    # A finished run cannot be cancelled, from the command line either.
    done = world.cli("runs", "cancel", run["id"])
    assert done.returncode == 1
    assert "only a queued or running run" in done.stderr
    missing = world.cli("runs", "cancel", "no-such-run")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no run no-such-run")


def test_the_command_line_cancels_a_queued_run(world: World) -> None:
    run = world.call("POST", "/v1/matching/runs", world.admin, json={"fiscal_year": FY}).json()
    waiting = _waiting(world)
    cancelled = world.cli("runs", "cancel", run["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert _waiting(world) == waiting - run["shards"]["total"]
    assert cancelled.stdout.strip() == f"run {run['id']} cancelled"
    shown = world.call("GET", f"/v1/matching/runs/{run['id']}", world.admin).json()
    assert shown["status"] == "cancelled"
