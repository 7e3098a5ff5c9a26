"""Large imports as jobs: stored by the request, written by a worker.

``submit`` keeps the uploaded file in ``import_jobs`` (the caller queues the job in the
same transaction); ``execute`` is the job: it reads and checks the file outside any
transaction, then writes every accepted row, the report and the job's status in one
transaction. A worker that dies before that commit leaves nothing written and the job
``running``; the queue gives it to another worker, which starts over. A job already
done is not written twice.

``cancel`` stops an import not finished: a queued one is never executed; a running one
looks every thousand rows read or written (``_Watch``) and, once cancelled, stops and
rolls its transaction back, so nothing of it is written. The job's row is locked only
at the very end of the writing transaction (to mark it done), so a cancel is not kept
waiting behind a long import on PostgreSQL; on SQLite a cancel waits for the writing
transaction's one write lock, and then finds the import done. Whichever execution took the job last
(``attempts``) is the one that may finish it: an older one that a retry replaced
writes nothing either.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import Catalog
from app.db import bounds
from app.db.models import ImportJob
from app.db.types import utcnow
from app.services import bulk_import
from app.services.access import require_reader, scope_of
from app.services.actors import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.import_source import ImportLimits

#: The errors a job's report lists, as the synchronous answer does.
MAX_ERRORS_LISTED = 1_000
UNFINISHED = ("queued", "running")


class _Stopped(Exception):
    """The job was cancelled, or another execution took it, while this one worked."""


@dataclass(frozen=True)
class Outcome:
    """What one execution of the job came to, for its log line."""

    status: str
    rows: int = 0
    written: int = 0


def submit(
    session: Session, source: bulk_import.ImportFile, actor: Actor, *, dry_run: bool
) -> ImportJob:
    """Store the file and who sent it; the import is ``queued``. Never commits."""
    source.data.seek(0)
    data = source.data.read()
    job = ImportJob(
        status="queued",
        actor_name=actor.name,
        actor_role=actor.role,
        actor_jurisdiction=actor.jurisdiction,
        api_key_id=actor.api_key_id,
        file_name=source.name[: bounds.FILE_NAME],
        file_format=source.format,
        file_bytes=len(data),
        data=data,
        dry_run=dry_run,
    )
    session.add(job)
    session.flush()
    return job


def _actor(job: ImportJob) -> Actor:
    return Actor(
        name=job.actor_name,
        role=job.actor_role,  # type: ignore[arg-type]  # stored from an Actor
        jurisdiction=job.actor_jurisdiction,
        api_key_id=job.api_key_id,
    )


def _take(make_session: sessionmaker[Session], import_id: str) -> ImportJob | None:
    """Mark the job running (one more attempt) and return it; None if it is finished."""
    with make_session.begin() as session:
        job = session.get(ImportJob, import_id)
        if job is None or job.status not in UNFINISHED:
            return None
        job.status, job.started_at, job.attempts = "running", utcnow(), job.attempts + 1
        session.flush()
        session.expunge(job)
        return job


def _locked(session: Session, import_id: str, attempt: int) -> ImportJob | None:
    """The job, locked until the transaction ends, if it is still this execution's:
    running, not cancelled, and not taken since by another execution."""
    job = session.scalar(select(ImportJob).where(ImportJob.id == import_id).with_for_update())
    if job is None or job.status != "running" or job.attempts != attempt:
        return None
    return job


class _Watch:
    """The import's progress callback: at each call (every thousand rows read, every
    chunk written) it asks, in a short session of its own, whether the job is still this
    execution's, and stops the import (``_Stopped``) if it is not.

    Not while SQLite writes (``writing_on_sqlite``): the writing transaction holds the
    database's one write lock, which the session asking would wait for, and no cancel
    can be committed meanwhile anyway. (The writing transaction's own connection cannot
    ask either: it is streaming COPY on PostgreSQL.)"""

    def __init__(self, make_session: sessionmaker[Session], import_id: str, attempt: int):
        self.make_session, self.import_id, self.attempt = make_session, import_id, attempt
        self.writing_on_sqlite = False

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.writing_on_sqlite:
            return
        with self.make_session() as session:
            row = session.execute(
                select(ImportJob.status, ImportJob.attempts).where(ImportJob.id == self.import_id)
            ).one_or_none()
        if row is None or tuple(row) != ("running", self.attempt):
            raise _Stopped


def _finish(job: ImportJob, status: str, **fields: Any) -> None:
    job.status, job.finished_at, job.data = status, utcnow(), None
    for name, value in fields.items():
        setattr(job, name, value)


def _problem(exc: ServiceError) -> dict[str, Any]:
    """The problem document the synchronous route answers, without its request path."""
    extra = {k: v for k, v in exc.extra().items() if v is not None}
    return {"title": exc.title, "status": exc.status, "detail": exc.detail, **extra}


def execute(
    make_session: sessionmaker[Session], catalog: Catalog, import_id: str, limits: ImportLimits
) -> Outcome:
    """Import the stored file: every accepted row and the report in one transaction.

    A job cancelled meanwhile stops with nothing written (see the module docstring).
    A file that cannot be imported at all (a bad header, past a limit) finishes the
    job ``failed`` with the problem the synchronous route would have answered. An
    unexpected error fails it too, with nothing written, and is raised again for the
    queue to count (retrying it every poll on SQLite would only fail again); a worker
    killed outright leaves it ``running`` for the queue to retry.
    """
    taken = _take(make_session, import_id)
    if taken is None or taken.data is None:
        return Outcome("skipped")
    actor = _actor(taken)
    source = bulk_import.ImportFile(taken.file_name, taken.file_format, io.BytesIO(taken.data))  # type: ignore[arg-type]
    watch = _Watch(make_session, import_id, taken.attempts)
    try:
        prepared = bulk_import.prepare(catalog, source, actor, watch, limits)
        with make_session.begin() as session:
            watch.writing_on_sqlite = session.get_bind().dialect.name == "sqlite"
            report = bulk_import.apply(
                session, prepared, actor, dry_run=taken.dry_run, progress=watch
            )
            # Locked only now: a cancel committed before this point wins.
            job = _locked(session, import_id, taken.attempts)
            if job is None:
                raise _Stopped
            _finish(job, "done", report=report.as_json(MAX_ERRORS_LISTED))
    except _Stopped:  # the transaction (if any) was rolled back: nothing written
        with make_session() as session:
            status = session.scalar(select(ImportJob.status).where(ImportJob.id == import_id))
        # Else another execution took the job over (a retry): it is that one's to finish.
        return Outcome("cancelled" if status == "cancelled" else "skipped")
    except ServiceError as exc:
        _fail(make_session, import_id, taken.attempts, _problem(exc))
        return Outcome("failed")
    except Exception as exc:
        _fail(make_session, import_id, taken.attempts, _unexpected(exc))
        raise
    written = 0 if report.dry_run else report.created + report.updated
    return Outcome("done", rows=report.rows, written=written)


def _fail(
    make_session: sessionmaker[Session], import_id: str, attempt: int, problem: dict[str, Any]
) -> None:
    with make_session.begin() as session:
        if (job := _locked(session, import_id, attempt)) is not None:
            _finish(job, "failed", problem=problem)


def cancel(session: Session, job: ImportJob) -> ImportJob:
    """Cancel a queued or running import (its file's bytes are dropped at once); the
    caller takes its queued job off the queue in the same transaction. 409 once it
    has finished."""
    locked = session.scalar(
        select(ImportJob)
        .where(ImportJob.id == job.id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the status as committed, not as read
    )
    job = locked or job
    if job.status not in UNFINISHED:
        raise Conflict(
            f"the import has already finished ({job.status}): only a queued or running "
            "import can be cancelled"
        )
    _finish(job, "cancelled")
    return job


def _unexpected(exc: Exception) -> dict[str, Any]:
    return {
        "title": "Internal server error",
        "status": 500,
        "detail": f"the import stopped on an unexpected error ({type(exc).__name__}) and "
        "nothing was written; the service's log has the details",
    }


def pending(session: Session) -> list[str]:
    """Imports not finished, oldest first (the embedded default's worker takes them)."""
    return list(
        session.scalars(
            select(ImportJob.id)
            .where(ImportJob.status.in_(UNFINISHED))
            .order_by(ImportJob.created_at, ImportJob.id)
        )
    )


def check_visible(
    actor: Actor, catalog: Catalog, job: ImportJob | None, import_id: str
) -> ImportJob:
    """An import the actor may read: admins and auditors every one, a portal those sent
    by a portal of its area (its own, or its districts'); 404 otherwise."""
    require_reader(actor, "auditor", "portal")
    scope = scope_of(actor, catalog)
    if job is None or not (
        scope.everything or actor.role == "auditor" or scope.reaches_place(job.actor_jurisdiction)
    ):
        raise NotFound(f"no import {import_id}")
    return job


def job_json(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "file_name": job.file_name,
        "format": job.file_format,
        "file_bytes": job.file_bytes,
        "dry_run": job.dry_run,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "report": job.report,
        "problem": job.problem,
    }
