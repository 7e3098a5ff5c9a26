"""Large imports as jobs, over HTTP on both databases: the 202 and its Location, the
report once a worker has executed the job (the synchronous answer's, field for
field), a file that cannot be imported, a worker dying before its commit, a real
`incentives worker` taking the job, and the `job.step` log lines.

The service here executes no jobs itself (JOBS_IN_PROCESS=false), so an import stays
queued until the test executes its job (``tasks.run_import``) or starts a worker.
"""

from __future__ import annotations

import logging
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
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL

from app.db.models import Enterprise
from app.db.session import migrate
from app.jobs import tasks
from app.jobs.runtime import Runtime
from app.jobs.stats import queue_stats
from app.main import create_app
from app.services import bulk_import, import_jobs
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.conftest import _empty_database
from tests.imports.support import csv_bytes, good_row, many_rows, table

INCENTIVES = Path(sys.executable).with_name("incentives")

pytestmark = pytest.mark.xdist_group("import-jobs")


@dataclass
class World:
    url: URL
    client: TestClient
    runtime: Runtime
    admin: str

    def post(self, data: bytes, token: str | None = None, **params: Any) -> Any:
        return self.client.post(
            "/v1/imports",
            files={"file": ("名单.csv", data, "text/csv")},
            params=params,
            headers={"Authorization": f"Bearer {token or self.admin}"},
        )

    def get(self, path: str, token: str | None = None) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {token or self.admin}"})

    def jobs_from(self, size: int) -> None:
        """Files larger than ``size`` bytes are jobs from now on."""
        app: Any = self.client.app
        app.state.settings = app.state.settings.model_copy(update={"import_job_bytes": size})

    def enterprises(self) -> int:
        with self.runtime.make_session() as session:
            return session.scalar(select(func.count()).select_from(Enterprise)) or 0


@pytest.fixture(scope="module")
def world(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("import-jobs")) as url:
        migrate(url)
        settings = make_settings(url, jobs_in_process=False, import_job_bytes=0)
        with TestClient(create_app(settings)) as client:
            app: Any = client.app
            runtime = Runtime(settings, app.state.catalog, app.state.sessionmaker)
            world = World(url, client, runtime, issue_token(app))
            yield world


@pytest.fixture(autouse=True)
def every_file_a_job(world: World) -> None:
    world.jobs_from(0)


def _rows_with_a_rejected_one(count: int) -> bytes:
    rows = many_rows(count)
    rows[-1]["revenue_2024"] = "-1"
    return csv_bytes(table(rows, chinese=True))


def test_a_large_file_is_queued_and_its_report_is_the_synchronous_one(world: World) -> None:
    data = _rows_with_a_rejected_one(3)
    before = world.enterprises()
    queued = world.post(data)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert queued.headers["location"] == f"/v1/imports/{job['id']}"
    assert (job["status"], job["report"], job["attempts"]) == ("queued", None, 0)
    assert (job["file_name"], job["format"], job["file_bytes"]) == ("名单.csv", "csv", len(data))
    assert world.get(queued.headers["location"]).json()["status"] == "queued"
    assert world.enterprises() == before  # nothing written by the request

    tasks.run_import(world.runtime, job["id"])
    done = world.get(queued.headers["location"]).json()
    assert (done["status"], done["attempts"], done["problem"]) == ("done", 1, None)
    report = done["report"]
    assert (report["created"], report["rejected"], report["applied"]) == (2, 1, True)
    assert report["errors"] == [
        {"row": 4, "field": "营业收入_2024", "reason": "this amount cannot be negative"}
    ]
    assert world.enterprises() == before + 2

    # The same file again, synchronously then as a job: the same report.
    world.jobs_from(len(data))
    synchronous = world.post(data)
    assert synchronous.status_code == 200, synchronous.text
    world.jobs_from(0)
    again = world.post(data).json()
    tasks.run_import(world.runtime, again["id"])
    assert world.get(f"/v1/imports/{again['id']}").json()["report"] == synchronous.json()
    assert synchronous.json()["unchanged"] == 2

    # A job already done is not executed twice.
    tasks.run_import(world.runtime, job["id"])
    assert world.get(f"/v1/imports/{job['id']}").json()["attempts"] == 1


def test_a_dry_run_job_writes_nothing(world: World) -> None:
    before = world.enterprises()
    queued = world.post(csv_bytes(table([good_row()])), dry_run="true").json()
    tasks.run_import(world.runtime, queued["id"])
    done = world.get(f"/v1/imports/{queued['id']}").json()
    assert (done["status"], done["dry_run"]) == ("done", True)
    assert (done["report"]["created"], done["report"]["applied"]) == (1, False)
    assert world.enterprises() == before


def test_a_file_that_cannot_be_imported_fails_its_job_with_the_problem(world: World) -> None:
    cells = table([good_row()])
    cells[0][1] = "企业名字"
    queued = world.post(csv_bytes(cells))
    assert queued.status_code == 202  # the header is read by the worker
    before = world.enterprises()
    tasks.run_import(world.runtime, queued.json()["id"])
    failed = world.get(queued.headers["location"]).json()
    assert (failed["status"], failed["report"]) == ("failed", None)
    problem = failed["problem"]
    assert (problem["status"], problem["unknown_columns"]) == (422, ["企业名字"])
    assert "unknown column(s): `企业名字`" in problem["detail"]
    assert world.enterprises() == before


def test_what_may_read_an_import_and_what_may_send_one(world: World) -> None:
    app: Any = world.client.app
    jiangning = issue_token(app, "portal", jurisdiction="jiangning")
    queued = world.post(csv_bytes(table([good_row()])), jiangning)
    assert queued.status_code == 202, queued.text
    path = queued.headers["location"]
    readers = {
        "jiangning": jiangning,
        "nanjing": issue_token(app, "portal", jurisdiction="nanjing"),
        "auditor": issue_token(app, "auditor"),
        "admin": world.admin,
    }
    for name, token in readers.items():
        assert world.get(path, token).status_code == 200, name
    wuhan = issue_token(app, "portal", jurisdiction="wuhan")
    assert world.get(path, wuhan).json()["detail"] == f"no import {path.rsplit('/', 1)[1]}"
    assert world.get(path, wuhan).status_code == 404
    assert world.get("/v1/imports/no-such-import").status_code == 404
    assert world.client.get(path, headers={"Authorization": ""}).status_code == 401
    # An auditor reads imports but sends none, large or small.
    assert world.post(b"uscc\n", readers["auditor"]).status_code == 403


class WorkerKilled(BaseException):
    """A worker's death as its job sees it: nothing of the job's own handling runs."""


def test_an_unexpected_error_fails_the_job_with_nothing_written(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = world.post(csv_bytes(table(many_rows(2)))).json()
    before = world.enterprises()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(bulk_import, "apply", broken)
    with pytest.raises(ValueError):
        tasks.run_import(world.runtime, queued["id"])
    failed = world.get(f"/v1/imports/{queued['id']}").json()
    assert (failed["status"], failed["problem"]["status"]) == ("failed", 500)
    assert (
        "ValueError" in failed["problem"]["detail"] and "a bug" not in failed["problem"]["detail"]
    )
    assert world.enterprises() == before


def test_a_worker_dying_before_its_commit_leaves_nothing_and_the_retry_imports(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="incentives")
    rows = many_rows(3)
    queued = world.post(csv_bytes(table(rows))).json()
    before = world.enterprises()
    finish = import_jobs._finish

    def killed(*args: Any, **kwargs: Any) -> None:
        raise WorkerKilled  # after every row was written, before the commit

    monkeypatch.setattr(import_jobs, "_finish", killed)
    with pytest.raises(WorkerKilled):
        tasks.run_import(world.runtime, queued["id"])
    stalled = world.get(f"/v1/imports/{queued['id']}").json()
    assert (stalled["status"], stalled["attempts"], stalled["report"]) == ("running", 1, None)
    assert world.enterprises() == before

    monkeypatch.setattr(import_jobs, "_finish", finish)
    tasks.run_import(world.runtime, queued["id"])  # the queue's retry
    done = world.get(f"/v1/imports/{queued['id']}").json()
    assert (done["status"], done["attempts"], done["report"]["created"]) == ("done", 2, 3)
    assert world.enterprises() == before + 3

    steps = [r.fields for r in caplog.records if r.getMessage() == tasks.STEP]  # type: ignore[attr-defined]
    assert [(s["step"], s.get("outcome")) for s in steps] == [
        ("start", None),
        ("failed", "failed"),
        ("start", None),
        ("end", "done"),
    ]
    assert all(s["task"] == "import" and s["import_id"] == queued["id"] for s in steps)
    assert steps[1]["error"] == "WorkerKilled" and steps[1]["duration_ms"] >= 0
    assert (steps[3]["rows"], steps[3]["written"]) == (3, 3)
    assert steps[3]["worker"] == world.runtime.worker
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert not any(row["uscc"] in logged or row["name"] in logged for row in rows)


def test_a_run_shard_logs_its_steps_with_its_enterprises(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="incentives")
    run = world.client.post(
        "/v1/matching/runs",
        json={"fiscal_year": 2024},
        headers={"Authorization": f"Bearer {world.admin}"},
    ).json()
    tasks.run_shard(world.runtime, run["id"], 0)
    steps = [r.fields for r in caplog.records if r.getMessage() == tasks.STEP]  # type: ignore[attr-defined]
    assert [s["step"] for s in steps] == ["start", "end"]
    assert all((s["task"], s["run_id"], s["shard"]) == ("run_shard", run["id"], 0) for s in steps)
    assert steps[1]["outcome"] == "done"
    assert steps[1]["enterprises"] == world.enterprises() > 0


def test_incentives_worker_executes_a_queued_import(world: World) -> None:
    queued = world.post(csv_bytes(table(many_rows(2)))).json()
    with world.runtime.make_session() as session:
        assert queue_stats(session).waiting["imports"] >= 1  # as metrics show it
    if world.url.get_backend_name() == "postgresql":
        with world.runtime.make_session() as session:
            job = session.execute(
                text(
                    "SELECT queue_name, status::text FROM procrastinate_jobs "
                    "WHERE task_name = 'run_import' AND args->>'import_id' = :id"
                ),
                {"id": queued["id"]},
            ).one()
        assert tuple(job) == ("imports", "todo")
    environment = {
        **os.environ,
        "DATABASE_URL": world.url.render_as_string(hide_password=False),
        "CATALOG_DIR": str(CATALOG_DIR),
    }
    worker = subprocess.Popen(
        [str(INCENTIVES), "worker", "--queue", "imports"]
        if world.url.get_backend_name() == "postgresql"
        else [str(INCENTIVES), "worker"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        shown: dict[str, Any] = {}
        for _ in range(1200):
            shown = world.get(f"/v1/imports/{queued['id']}").json()
            if shown["status"] not in import_jobs.UNFINISHED:
                break
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert shown["status"] == "done", shown
    assert shown["report"]["created"] == 2
