"""What the queue looks like, for metrics and readiness: jobs waiting, running and
failed per queue or task, how long shards took, and whether workers are alive.

Read from the database, so any API process answers for every worker on every host.
On SQLite (no queue engine) the waiting and running jobs are the shards of unfinished
runs and the unfinished imports, and a failure is a failed run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from app.db.models import ImportJob, MatchingRun, MatchingRunShard


@dataclass(frozen=True)
class QueueStats:
    #: queue -> jobs waiting to be taken
    waiting: dict[str, int]
    #: queue -> jobs being executed
    running: dict[str, int]
    #: task -> jobs that failed (kept until removed; successful jobs are not kept)
    failed: dict[str, int]


def queue_stats(session: Session) -> QueueStats:
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT queue_name, task_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing', 'failed') GROUP BY 1, 2, 3"
            )
        ).all()
        waiting: dict[str, int] = {}
        running: dict[str, int] = {}
        failed: dict[str, int] = {}
        for queue, task, status, count in rows:
            if status == "failed":
                failed[task] = failed.get(task, 0) + count
            else:
                into = waiting if status == "todo" else running
                into[queue] = into.get(queue, 0) + count
        return QueueStats(waiting, running, failed)
    by_status: dict[str, int] = {
        status: count
        for status, count in session.execute(
            select(MatchingRunShard.status, func.count())
            .join(MatchingRun, MatchingRun.id == MatchingRunShard.run_id)
            .where(MatchingRun.status.in_(("queued", "running")))
            .group_by(MatchingRunShard.status)
        )
    }
    failures = session.scalar(select(func.count()).where(MatchingRun.status == "failed"))
    imports: dict[str, int] = {
        status: count
        for status, count in session.execute(
            select(ImportJob.status, func.count())
            .where(ImportJob.status.in_(("queued", "running")))
            .group_by(ImportJob.status)
        )
    }
    counts = (
        {"runs": by_status.get("queued", 0), "imports": imports.get("queued", 0)},
        {"runs": by_status.get("running", 0), "imports": imports.get("running", 0)},
        {"run_shard": failures or 0},
    )
    # Like PostgreSQL's GROUP BY: what there is none of is not named.
    waiting, running, failed = ({k: n for k, n in c.items() if n} for c in counts)
    return QueueStats(waiting, running, failed)


def shard_durations(session: Session, finished_after: datetime) -> list[tuple[datetime, float]]:
    """(finished at, seconds from taken to done) of every shard finished after the
    given time, oldest first: a metrics collector observes them once each by keeping
    the last time it saw."""
    rows = session.execute(
        select(MatchingRunShard.finished_at, MatchingRunShard.taken_at)
        .where(
            MatchingRunShard.finished_at > finished_after,
            MatchingRunShard.taken_at.is_not(None),
        )
        .order_by(MatchingRunShard.finished_at)
    ).all()
    return [(done, (done - taken).total_seconds()) for done, taken in rows if done and taken]


def shards_done(session: Session) -> tuple[int, float]:
    """How many shards are done, and the seconds they took in all (taken to done)."""
    taken, finished = MatchingRunShard.taken_at, MatchingRunShard.finished_at
    seconds: ColumnElement[Any]
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", finished - taken)
    else:
        seconds = (func.julianday(finished) - func.julianday(taken)) * 86400
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(seconds), 0)).where(
            finished.is_not(None), taken.is_not(None)
        )
    ).one()
    return int(count), float(total)


def workers_seen(session: Session, within: timedelta) -> int | None:
    """Workers whose heartbeat is more recent than ``within`` (WORKER_STALLED_SECONDS
    is the natural bound); None on SQLite, where the service executes jobs itself."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(
        session.execute(
            text(
                "SELECT count(*) FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => :seconds)"
            ),
            {"seconds": within.total_seconds()},
        ).scalar_one()
    )
