"""The job queue on PostgreSQL: procrastinate, its tables in our own database.

Why procrastinate: a PostgreSQL shop needs no new infrastructure (no broker to run,
back up and secure); a job is enqueued in the transaction that records the run, so a
run never exists without its jobs nor jobs without their run; periodic tasks are
scheduled by the workers themselves (at most one defer per tick across all of them);
and workers beat a heartbeat, so the jobs of a worker that died are found and given
to another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import procrastinate
from procrastinate.types import JSONDict
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import Settings
from app.jobs import tasks
from app.jobs.runtime import Runtime

log = logging.getLogger("incentives")

#: A run's shards, large imports; the periodic work has a queue of its own and goes first.
RUNS, IMPORTS, MAINTENANCE = "runs", "imports", "maintenance"
RUN_SHARD, RUN_IMPORT = "run_shard", "run_import"
#: How often the workers look for jobs of dead workers (cron, with seconds).
STALLED_CHECK = "* * * * * */5"


def conninfo(database_url: str) -> str:
    """The SQLAlchemy URL as libpq understands it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def enqueue_shards(session: Session, run_id: str, shards: int) -> None:
    """Queue one job per shard, in the session's own transaction (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    raw = session.connection().connection.driver_connection
    deferrer = procrastinate.App(connector=procrastinate.SyncPsycopgConnector()).configure_task(
        RUN_SHARD, queue=RUNS, connection=raw
    )
    jobs: list[JSONDict] = [{"run_id": run_id, "shard": shard} for shard in range(shards)]
    deferrer.batch_defer(*jobs)


def enqueue_import(session: Session, import_id: str) -> None:
    """Queue a stored import's job, in the session's own transaction (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    raw = session.connection().connection.driver_connection
    deferrer = procrastinate.App(connector=procrastinate.SyncPsycopgConnector()).configure_task(
        RUN_IMPORT, queue=IMPORTS, connection=raw
    )
    deferrer.defer(import_id=import_id)


def cancel_queued_shards(session: Session, run_id: str) -> int:
    """Take a cancelled run's shards not yet started off the queue, in the session's
    transaction (a shard already taken writes nothing once it sees the run cancelled)."""
    return _cancel_queued(session, RUN_SHARD, "run_id", run_id)


def cancel_queued_import(session: Session, import_id: str) -> int:
    """Take a cancelled import's job off the queue if no worker has taken it yet, in the
    session's transaction (a job already taken finds the import cancelled and stops)."""
    return _cancel_queued(session, RUN_IMPORT, "import_id", import_id)


def _cancel_queued(session: Session, task: str, argument: str, value: str) -> int:
    """Cancel the jobs of ``task`` not yet taken whose ``argument`` is ``value``; how many
    (none on SQLite, which has no queue)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return len(
        session.execute(
            text(
                "SELECT procrastinate_cancel_job_v1(id, false, false) FROM procrastinate_jobs "
                "WHERE task_name = :task AND status = 'todo' AND args->>:argument = :value"
            ),
            {"task": task, "argument": argument, "value": value},
        ).all()
    )


def worker_app(runtime: Runtime) -> procrastinate.App:
    """The queue as a worker sees it: every task, and the periodic ones scheduled."""
    settings = runtime.settings
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(settings.database_url))
    )

    @app.task(name=RUN_SHARD, queue=RUNS)
    def run_shard(run_id: str, shard: int) -> None:
        tasks.run_shard(runtime, run_id, shard)

    # A worker that dies mid-import has written nothing: the stalled job is retried.
    @app.task(name=RUN_IMPORT, queue=IMPORTS)
    def run_import(import_id: str) -> None:
        tasks.run_import(runtime, import_id)

    @app.periodic(cron=settings.idempotency_purge_cron)
    @app.task(name="purge_idempotency", queue=MAINTENANCE, priority=10)
    def purge_idempotency(timestamp: int) -> None:
        tasks.purge_idempotency(runtime)

    if settings.audit_checkpoint_file is not None:

        @app.periodic(cron=settings.audit_checkpoint_cron)
        @app.task(name="audit_checkpoint", queue=MAINTENANCE, priority=10)
        def audit_checkpoint(timestamp: int) -> None:
            tasks.audit_checkpoint(runtime)

    @app.periodic(cron=STALLED_CHECK)
    @app.task(name="retry_stalled_jobs", queue=MAINTENANCE, priority=10, pass_context=True)
    async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        await retry_stalled(context.app, settings)

    return app


async def retry_stalled(app: procrastinate.App, settings: Settings) -> int:
    """Put back in the queue the jobs of workers silent for WORKER_STALLED_SECONDS."""
    stalled = await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.worker_stalled_seconds
    )
    retried = 0
    for job in stalled:
        await app.job_manager.retry_job(job)
        log.warning("job %s (%s %s) of a dead worker queued again", job.id, job.task_name,
                    job.task_kwargs)  # fmt: skip
        retried += 1
    return retried


def worker_options(settings: Settings, queues: Sequence[str] | None = None) -> dict[str, Any]:
    return {
        "queues": list(queues) if queues else None,
        "concurrency": 1,  # one job at a time: the evaluation is CPU-bound (add processes)
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.worker_stalled_seconds,
        "delete_jobs": "successful",  # failed jobs are kept for the failure count
    }
