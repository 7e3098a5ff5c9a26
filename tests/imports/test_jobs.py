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

from app.db.models import Enterprise, ImportJob
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

    def cancel(self, import_id: str, token: str | None = None) -> Any:
        return self.client.post(
            f"/v1/imports/{import_id}/cancel",
            headers={"Authorization": f"Bearer {token or self.admin}"},
        )

    def enterprises(self) -> int:
        with self.runtime.make_session() as session:
            return session.scalar(select(func.count()).select_from(Enterprise)) or 0

    def stored_bytes(self, import_id: str) -> bytes | None:
        """The uploaded file as the job keeps it (None once it is dropped)."""
        with self.runtime.make_session() as session:
            return session.scalar(select(ImportJob.data).where(ImportJob.id == import_id))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(INCENTIVES), *args],
            env={
                **os.environ,
                "DATABASE_URL": self.url.render_as_string(hide_password=False),
                "CATALOG_DIR": str(CATALOG_DIR),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )


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


# ------------------------------------------------------------------ cancelling


def _queued_jobs_of(world: World, import_id: str) -> list[str]:
    """The queue's jobs for the import, by status (PostgreSQL; none on SQLite)."""
    if world.url.get_backend_name() != "postgresql":
        return []
    with world.runtime.make_session() as session:
        return list(
            session.scalars(
                text(
                    "SELECT status::text FROM procrastinate_jobs "
                    "WHERE task_name = 'run_import' AND args->>'import_id' = :id"
                ),
                {"id": import_id},
            )
        )


def test_a_queued_import_cancelled_is_never_executed(world: World) -> None:
    queued = world.post(csv_bytes(table(many_rows(2)))).json()
    before = world.enterprises()
    assert world.stored_bytes(queued["id"]) is not None
    cancelled = world.cancel(queued["id"])
    assert cancelled.status_code == 200, cancelled.text
    shown = cancelled.json()
    assert (shown["status"], shown["attempts"], shown["report"]) == ("cancelled", 0, None)
    assert shown["finished_at"] is not None
    assert world.stored_bytes(queued["id"]) is None  # the file is dropped at once
    if world.url.get_backend_name() == "postgresql":
        assert _queued_jobs_of(world, queued["id"]) == ["cancelled"]  # off the queue

    tasks.run_import(world.runtime, queued["id"])  # a worker that took it anyway
    assert world.get(f"/v1/imports/{queued['id']}").json()["status"] == "cancelled"
    assert world.get(f"/v1/imports/{queued['id']}").json()["attempts"] == 0
    assert world.enterprises() == before

    again = world.cancel(queued["id"])
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "already finished (cancelled)" in again.json()["detail"]


def test_a_finished_import_cannot_be_cancelled_and_keeps_its_report_not_its_file(
    world: World,
) -> None:
    done = world.post(csv_bytes(table([good_row()]))).json()
    cells = table([good_row()])
    cells[0][1] = "企业名字"
    failed = world.post(csv_bytes(cells)).json()
    for job in (done, failed):
        tasks.run_import(world.runtime, job["id"])
        assert world.stored_bytes(job["id"]) is None
    assert world.get(f"/v1/imports/{done['id']}").json()["report"]["created"] == 1
    assert world.get(f"/v1/imports/{failed['id']}").json()["problem"]["status"] == 422
    for job, status in ((done, "done"), (failed, "failed")):
        refused = world.cancel(job["id"])
        assert refused.status_code == 409, refused.text
        assert f"the import has already finished ({status})" in refused.json()["detail"]
        assert world.get(f"/v1/imports/{job['id']}").json()["status"] == status


def test_an_import_cancelled_while_its_file_is_read_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = world.post(csv_bytes(table(many_rows(3)))).json()
    before = world.enterprises()
    prepare, applied = bulk_import.prepare, []

    def cancelled_meanwhile(*args: Any, **kwargs: Any) -> Any:
        assert world.get(f"/v1/imports/{queued['id']}").json()["status"] == "running"
        assert world.cancel(queued["id"]).status_code == 200
        return prepare(*args, **kwargs)

    monkeypatch.setattr(bulk_import, "prepare", cancelled_meanwhile)
    monkeypatch.setattr(bulk_import, "apply", lambda *a, **k: applied.append(a))
    tasks.run_import(world.runtime, queued["id"])
    shown = world.get(f"/v1/imports/{queued['id']}").json()
    assert (shown["status"], shown["attempts"], shown["report"]) == ("cancelled", 1, None)
    assert applied == []  # stopped at the reading's end, before anything was written
    assert world.enterprises() == before


def test_an_import_cancelled_while_it_writes_rolls_back(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The cancel is committed between two chunks of the writing transaction, which
    then stops and rolls back. On PostgreSQL only: on SQLite the writing transaction
    holds the database's one write lock, so a cancel waits until the import is done
    (and is then a 409)."""
    if world.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite has one writer: a cancel waits for the writing transaction")
    caplog.set_level(logging.INFO, logger="incentives")
    rows = 2_500  # three chunks of profile versions
    queued = world.post(csv_bytes(table(many_rows(rows)))).json()
    before = world.enterprises()
    apply, chunks = bulk_import.apply, []

    def cancelled_after_a_chunk(*args: Any, progress: Any, **kwargs: Any) -> Any:
        def between_chunks(phase: str, done: int, total: int | None) -> None:
            chunks.append(done)
            if len(chunks) == 1:  # a thousand rows written, uncommitted
                assert world.cancel(queued["id"]).status_code == 200
            progress(phase, done, total)

        return apply(*args, progress=between_chunks, **kwargs)

    monkeypatch.setattr(bulk_import, "apply", cancelled_after_a_chunk)
    tasks.run_import(world.runtime, queued["id"])
    assert chunks == [1000]  # it stopped at the first chunk boundary after the cancel
    shown = world.get(f"/v1/imports/{queued['id']}").json()
    assert (shown["status"], shown["report"]) == ("cancelled", None)
    assert world.enterprises() == before
    steps = [r.fields for r in caplog.records if r.getMessage() == tasks.STEP]  # type: ignore[attr-defined]
    assert steps[-1]["outcome"] == "cancelled" and steps[-1]["written"] == 0


def test_who_may_cancel_an_import(world: World) -> None:
    app: Any = world.client.app
    jiangning = issue_token(app, "portal", jurisdiction="jiangning")
    queued = world.post(csv_bytes(table([good_row()])), jiangning).json()
    auditor = world.cancel(queued["id"], issue_token(app, "auditor"))
    assert auditor.status_code == 403, auditor.text  # auditors read imports, never stop them
    wuhan = world.cancel(queued["id"], issue_token(app, "portal", jurisdiction="wuhan"))
    assert (wuhan.status_code, wuhan.json()["detail"]) == (404, f"no import {queued['id']}")
    assert world.cancel("no-such-import").status_code == 404
    assert world.get(f"/v1/imports/{queued['id']}").json()["status"] == "queued"
    nanjing = world.cancel(queued["id"], issue_token(app, "portal", jurisdiction="nanjing"))
    assert nanjing.status_code == 200, nanjing.text
    assert nanjing.json()["status"] == "cancelled"


def test_the_command_line_cancels_a_queued_import(world: World) -> None:
    queued = world.post(csv_bytes(table([good_row()]))).json()
    cancelled = world.cli("imports", "cancel", queued["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"import {queued['id']} cancelled"
    assert world.get(f"/v1/imports/{queued['id']}").json()["status"] == "cancelled"
    if world.url.get_backend_name() == "postgresql":
        assert _queued_jobs_of(world, queued["id"]) == ["cancelled"]
    again = world.cli("imports", "cancel", queued["id"])
    assert again.returncode == 1
    assert "the import has already finished (cancelled)" in again.stderr
    missing = world.cli("imports", "cancel", "no-such-import")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no import no-such-import")


def test_an_execution_that_a_retry_replaced_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker thought dead (its job given to another) that carries on after all:
    the retry imports, and the first execution stops with nothing written."""
    caplog.set_level(logging.INFO, logger="incentives")
    queued = world.post(csv_bytes(table(many_rows(3)))).json()
    before = world.enterprises()
    prepare = bulk_import.prepare

    def retried_meanwhile(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(bulk_import, "prepare", prepare)
        tasks.run_import(world.runtime, queued["id"])  # the retry, to the end
        return prepare(*args, **kwargs)

    monkeypatch.setattr(bulk_import, "prepare", retried_meanwhile)
    tasks.run_import(world.runtime, queued["id"])
    shown = world.get(f"/v1/imports/{queued['id']}").json()
    assert (shown["status"], shown["attempts"], shown["report"]["created"]) == ("done", 2, 3)
    assert world.enterprises() == before + 3
    steps = [r.fields for r in caplog.records if r.getMessage() == tasks.STEP]  # type: ignore[attr-defined]
    ends = [s["outcome"] for s in steps if s["step"] == "end"]
    assert ends == ["done", "skipped"]  # the retry's end, then the first execution's
