"""Runs executed by `incentives worker` processes from the PostgreSQL queue.

Two workers share a run started over HTTP; one is killed (SIGKILL, as the OOM killer
does) while it holds a shard. Its heartbeat stops, the other worker gives the shard
back to the queue, takes it, and the run finishes with exactly the results and totals
of the same run executed cleanly by one process.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog, load_catalog
from app.db import repositories as repo
from app.db.models import MatchingResult, MatchingRunShard
from app.db.repositories.matching import run_number_of
from app.db.session import make_engine, make_sessionmaker, migrate
from app.main import create_app
from app.services import matching_runs as runs
from app.services.actors import SYSTEM
from app.services.enterprises import create_enterprise
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.conftest import _postgres_database
from tests.population.conftest import random_profile

INCENTIVES = Path(sys.executable).with_name("incentives")
FY = 2024
SHARD = 15

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("workers")]


@pytest.fixture(scope="module")
def database(postgres_admin_url: URL) -> Iterator[tuple[URL, sessionmaker[Session], Catalog]]:
    with _postgres_database(postgres_admin_url) as url:
        migrate(url)
        engine = make_engine(url)
        make_session = make_sessionmaker(engine)
        catalog = load_catalog(CATALOG_DIR)
        rng = random.Random(7)
        with make_session.begin() as session:
            for _ in range(240):
                profile = EnterpriseProfile.model_validate(random_profile(rng))
                create_enterprise(session, catalog, profile, SYSTEM)
        yield url, make_session, catalog
        engine.dispose()


def _environment(url: URL) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "CATALOG_DIR": str(CATALOG_DIR),
        "WORKER_HEARTBEAT_SECONDS": "0.5",
        "WORKER_STALLED_SECONDS": "2",
    }


def _start_worker(url: URL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(INCENTIVES), "worker"],
        env=_environment(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _results(make_session: sessionmaker[Session], run_id: str) -> list[tuple[Any, ...]]:
    with make_session() as session:
        rows = session.scalars(
            select(MatchingResult).where(MatchingResult.run_number == run_number_of(run_id))
        )
        return sorted(
            (r.enterprise_id, r.policy_id, r.status, r.amount, str(r.missing_facts)) for r in rows
        )


def _clean_run(make_session: sessionmaker[Session], catalog: Catalog) -> tuple[str, Any]:
    """The same run, executed here from start to end by one process."""
    with make_session.begin() as session:
        run_id = runs.start_run(session, catalog, SYSTEM, FY, shard_size=SHARD).id
    runs.execute_run(make_session, catalog, run_id)
    with make_session() as session:
        run = repo.get_matching_run(session, run_id)
        assert run is not None and run.status == "done", run and run.error
        return run_id, run.result


def _shard_taken_by(
    make_session: sessionmaker[Session], run_id: str, pids: set[int]
) -> tuple[int, int] | None:
    """(shard, pid) of a shard being evaluated by one of ``pids``, if any."""
    with make_session() as session:
        for shard in session.scalars(
            select(MatchingRunShard).where(
                MatchingRunShard.run_id == run_id, MatchingRunShard.status == "running"
            )
        ):
            pid = int((shard.taken_by or ":0").rsplit(":", 1)[1])
            if pid in pids:
                return shard.shard, pid
    return None


def _wait_for(run_path: str, client: TestClient, token: str) -> dict[str, Any]:
    for _ in range(1200):
        run: dict[str, Any] = client.get(
            run_path, headers={"Authorization": f"Bearer {token}"}
        ).json()
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    pytest.fail(f"{run_path} did not finish")


def test_a_worker_killed_mid_run_leaves_the_same_results(
    database: tuple[URL, sessionmaker[Session], Catalog],
) -> None:
    url, make_session, catalog = database
    workers = [_start_worker(url), _start_worker(url)]
    try:
        settings = make_settings(url, run_shard_size=SHARD, jobs_in_process=False)
        with TestClient(create_app(settings)) as client:
            token = issue_token(client.app)  # type: ignore[arg-type]
            started = client.post(
                "/v1/matching/runs",
                json={"fiscal_year": FY},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert started.status_code == 202, started.text
            run_id = started.json()["id"]
            assert started.json()["shards"] == {"done": 0, "total": 240 // SHARD + 1}

            # The moment one worker holds a shard, kill it.
            pids = {w.pid for w in workers}
            taken = None
            for _ in range(3000):
                taken = _shard_taken_by(make_session, run_id, pids)
                if taken is not None:
                    break
                time.sleep(0.01)
            assert taken is not None, "no worker took a shard"
            shard, victim = taken
            os.kill(victim, signal.SIGKILL)
            with make_session() as session:
                held = repo.get_shard(session, run_id, shard)
                assert held is not None and held.status == "running"

            run = _wait_for(f"/v1/matching/runs/{run_id}", client, token)
        assert run["status"] == "done", run["error"]
        assert run["shards"] == {"done": 240 // SHARD + 1, "total": 240 // SHARD + 1}
        assert run["progress"] == run["total"] == 240
        with make_session() as session:
            redone = repo.get_shard(session, run_id, shard)
            assert redone is not None and redone.status == "done"
            # Finished by the worker that lived.
            assert redone.taken_by is not None and not redone.taken_by.endswith(f":{victim}")

        clean_id, clean_result = _clean_run(make_session, catalog)
        assert run["result"] == clean_result
        assert _results(make_session, run_id) == [r for r in _results(make_session, clean_id)]
        assert len(_results(make_session, run_id)) > 0
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
