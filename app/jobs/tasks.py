"""The job functions, the same whichever engine runs them (the queue's workers, or the
service's own thread on SQLite)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from app.api.idempotency import RETENTION
from app.db.repositories import purge_idempotency_records
from app.jobs.runtime import Runtime
from app.services import matching_runs as runs

log = logging.getLogger("incentives")


def run_shard(runtime: Runtime, run_id: str, shard: int) -> None:
    runs.execute_shard(runtime.make_session, runtime.catalog, run_id, shard, worker=runtime.worker)


def purge_idempotency(runtime: Runtime) -> int:
    """Forget the idempotency records older than their retention; how many."""
    with runtime.make_session.begin() as session:
        purged = purge_idempotency_records(session, datetime.now(UTC) - RETENTION)
    log.info("purged %d expired idempotency record(s)", purged or 0)
    return purged or 0


def audit_checkpoint(runtime: Runtime) -> None:
    """Append the audit log's head to AUDIT_CHECKPOINT_FILE, after checking the log
    against the checkpoints there; a log that no longer agrees fails the job (and is
    logged) with nothing appended."""
    from app.cli_audit import append_checkpoint

    path = runtime.settings.audit_checkpoint_file
    if path is None:
        return
    status, said = append_checkpoint(path, runtime.settings.database_url)
    if status != 0:
        raise RuntimeError(said)
    log.info("audit checkpoint appended to %s: %s", path, said)
