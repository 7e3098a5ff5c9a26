"""Large imports as jobs: stored by the request, written by a worker.

``submit`` keeps the uploaded file in ``import_jobs`` (the caller queues the job in the
same transaction); ``execute`` is the job: it reads and checks the file outside any
transaction, then writes every accepted row, the report and the job's status in one
transaction. A worker that dies before that commit leaves nothing written and the job
``running``; the queue gives it to another worker, which starts over. A job already
done is not written twice.
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
from app.services.errors import NotFound, ServiceError
from app.services.import_source import ImportLimits

#: The errors a job's report lists, as the synchronous answer does.
MAX_ERRORS_LISTED = 1_000
UNFINISHED = ("queued", "running")


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


def _locked(session: Session, import_id: str) -> ImportJob | None:
    """The job, locked until the transaction ends, if no other execution finished it."""
    job = session.scalar(select(ImportJob).where(ImportJob.id == import_id).with_for_update())
    return job if job is not None and job.status in UNFINISHED else None


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
    try:
        prepared = bulk_import.prepare(catalog, source, actor, None, limits)
        with make_session.begin() as session:
            job = _locked(session, import_id)
            if job is None:
                return Outcome("skipped")
            report = bulk_import.apply(session, prepared, actor, dry_run=taken.dry_run)
            _finish(job, "done", report=report.as_json(MAX_ERRORS_LISTED))
    except ServiceError as exc:
        _fail(make_session, import_id, _problem(exc))
        return Outcome("failed")
    except Exception as exc:
        _fail(make_session, import_id, _unexpected(exc))
        raise
    written = 0 if report.dry_run else report.created + report.updated
    return Outcome("done", rows=report.rows, written=written)


def _fail(make_session: sessionmaker[Session], import_id: str, problem: dict[str, Any]) -> None:
    with make_session.begin() as session:
        if (job := _locked(session, import_id)) is not None:
            _finish(job, "failed", problem=problem)


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
