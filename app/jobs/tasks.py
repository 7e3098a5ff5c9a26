"""The job functions, the same whichever engine runs them (the queue's workers, or the
service's own thread on SQLite).

Each logs one ``job.step`` line as it starts and one as it ends (with its duration and
outcome) or fails: the task, what it works on (run and shard, import), and how much
(enterprises, rows); never a profile, a file's contents or a key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from app.api.idempotency import RETENTION
from app.db.repositories import get_shard, purge_idempotency_records
from app.jobs.runtime import Runtime
from app.observability.logs import log_event
from app.services import import_jobs
from app.services import matching_runs as runs
from app.services.import_source import ImportLimits

log = logging.getLogger("incentives")
STEP = "job.step"


@contextmanager
def job_step(task: str, runtime: Runtime, **about: Any) -> Iterator[dict[str, Any]]:
    """Log the job's start, then its end or failure; the caller adds to the end line
    by filling the dictionary it is given (outcome, counts)."""
    ends: dict[str, Any] = {"outcome": "done"}
    log_event(log, STEP, task=task, step="start", worker=runtime.worker, **about)
    started = time.perf_counter()
    try:
        yield ends
    except BaseException as exc:
        log_event(
            log,
            STEP,
            level=logging.ERROR,
            task=task,
            step="failed",
            worker=runtime.worker,
            **about,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            outcome="failed",
            error=type(exc).__name__,
        )
        raise
    log_event(
        log,
        STEP,
        task=task,
        step="end",
        worker=runtime.worker,
        **about,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        **ends,
    )


def run_shard(runtime: Runtime, run_id: str, shard: int) -> None:
    with job_step("run_shard", runtime, run_id=run_id, shard=shard) as ends:
        runs.execute_shard(
            runtime.make_session, runtime.catalog, run_id, shard, worker=runtime.worker
        )
        with runtime.make_session() as session:
            done = get_shard(session, run_id, shard)
            ends["enterprises"] = done.enterprises if done is not None else 0


def run_import(runtime: Runtime, import_id: str) -> None:
    with job_step("import", runtime, import_id=import_id) as ends:
        outcome = import_jobs.execute(
            runtime.make_session,
            runtime.catalog,
            import_id,
            ImportLimits.from_settings(runtime.settings),
        )
        ends.update(outcome=outcome.status, rows=outcome.rows, written=outcome.written)


def purge_idempotency(runtime: Runtime) -> int:
    """Forget the idempotency records older than their retention; how many."""
    with job_step("purge_idempotency", runtime) as ends:
        with runtime.make_session.begin() as session:
            purged = purge_idempotency_records(session, datetime.now(UTC) - RETENTION) or 0
        ends["purged"] = purged
    return purged


def audit_checkpoint(runtime: Runtime) -> None:
    """Append the audit log's head to AUDIT_CHECKPOINT_FILE, after checking the log
    against the checkpoints there; a log that no longer agrees fails the job (and is
    logged) with nothing appended."""
    from app.cli_audit import append_checkpoint

    path = runtime.settings.audit_checkpoint_file
    if path is None:
        return
    with job_step("audit_checkpoint", runtime):
        status, said = append_checkpoint(path, runtime.settings.database_url)
        if status != 0:
            raise RuntimeError(said)
    log.info("audit checkpoint appended to %s: %s", path, said)
