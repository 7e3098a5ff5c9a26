"""``POST /v1/imports``: bulk import of enterprise profiles from a CSV or XLSX file.

The file comes as a multipart upload (field ``file``) or as the raw body with its
type (``text/csv`` or the XLSX type). The answer is the import report; with
``?dry_run=true`` nothing is written. Column mapping: ``policy_catalog/IMPORT.md``.

A file larger than IMPORT_JOB_BYTES is not imported within the request: it is stored
with a job that a worker executes (``app/services/import_jobs.py``), the answer is a
202 with its Location, and ``GET /v1/imports/{import_id}`` shows its status and, once
done, the very report the synchronous answer would have given;
``POST /v1/imports/{import_id}/cancel`` stops it with nothing written.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep, SettingsDep
from app.api.errors import responses
from app.catalog.loader import Catalog
from app.config import Settings
from app.db.models import ImportJob
from app.jobs.queue import cancel_queued_import, enqueue_import
from app.profile.bounded import ImportId
from app.services import bulk_import, import_jobs
from app.services.access import require_writer
from app.services.actors import Actor
from app.services.errors import Invalid
from app.services.import_source import ImportLimits

router = APIRouter(prefix="/imports", tags=["enterprises"])

MAX_ERRORS_LISTED = import_jobs.MAX_ERRORS_LISTED
_SPOOL_BYTES = 4 * 1024 * 1024


class ImportRowError(BaseModel):
    row: int = Field(description="the row number as the spreadsheet shows it (headers are row 1)")
    field: str = Field(description="the column header as written in the file")
    reason: str


class ImportReportOut(BaseModel):
    file_name: str
    format: str = Field(description="csv or xlsx")
    file_sha256: str
    rows: int = Field(description="data rows read (empty rows are skipped)")
    accepted: int
    rejected: int
    created: int = Field(description="enterprises registered")
    updated: int = Field(description="enterprises given a new profile version")
    unchanged: int = Field(description="rows equal to the stored current profile")
    errors: list[ImportRowError] = Field(
        description=f"the rejected rows' problems, at most {MAX_ERRORS_LISTED}"
    )
    errors_total: int
    applied: bool = Field(description="true when the accepted rows were written")
    dry_run: bool
    import_id: str | None = Field(
        default=None, description="the import's id in the audit log, when it changed something"
    )


class ImportJobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, done, failed or cancelled")
    file_name: str
    format: str = Field(description="csv or xlsx")
    file_bytes: int
    dry_run: bool
    attempts: int = Field(description="times a worker took it (more than one after a retry)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report: ImportReportOut | None = Field(
        description="when done: the report the synchronous import answers"
    )
    problem: dict[str, Any] | None = Field(
        description="when failed: why the file could not be imported at all (as a 422 or 413 "
        "problem would say)"
    )


_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "text/csv": {"schema": {"type": "string"}},
        bulk_import.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
    },
}


async def _copy(request: Request, spool: IO[bytes]) -> tuple[str | None, str, int]:
    """Copy the file into ``spool``: (file name, content type, size).

    The body's size limit (MAX_IMPORT_BYTES) is enforced while it streams in, by
    ``app.api.body_limit``; its 413 passes through here untouched.
    """
    content_type = request.headers.get("content-type", "")
    name: str | None = None
    if content_type.lower().startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=10)
        except StarletteHTTPException as exc:
            if exc.status_code == 413:
                raise
            raise Invalid(f"the multipart body cannot be read: {exc.detail}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid(
                "send the file in the multipart field `file`",
                errors=[{"pointer": "/file", "detail": "required: a file"}],
            )
        name, content_type = upload.filename, upload.content_type or ""
        chunks: Any = _upload_chunks(upload)
    else:
        chunks = request.stream()
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        spool.write(chunk)
    return name, content_type, size


async def _upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(1 << 20):
        yield chunk


async def _receive(request: Request) -> bulk_import.ImportFile:
    """The uploaded file, spooled to disk past a few MB; 415 for a bad type."""
    # Closed by the route once the import is done (or here, if the upload fails).
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    try:
        name, content_type, size = await _copy(request, spool)
        if size == 0:
            raise Invalid("the file is empty", errors=[{"pointer": "", "detail": "no bytes"}])
        spool.seek(0)
        head = spool.read(8)
        spool.seek(0)
        file_format = bulk_import.detect_format(name, content_type, head)
    except BaseException:
        spool.close()
        raise
    return bulk_import.ImportFile(
        name=name or f"upload.{file_format}", format=file_format, data=spool
    )


@router.post(
    "",
    response_model=ImportReportOut,
    responses=responses(401, 403, 413, 415, 422)
    | {202: {"model": ImportJobOut, "description": "a large file: queued as a job"}},
    openapi_extra={"requestBody": _BODY},
)
async def import_enterprises(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    actor: ActorDep,
    dry_run: Annotated[bool, Query(description="validate and count, write nothing")] = False,
) -> Any:
    """Register or update enterprises from a CSV or XLSX file (admin, or a portal in its area).

    Every row is validated like a `POST /v1/enterprises` body; rejected rows are
    reported with row number, column and reason, and every accepted row is written or
    none. A row upserts by USCC: a new enterprise, a new profile version, or nothing
    if the profile is unchanged. Headers (Chinese or English) are listed in
    `policy_catalog/IMPORT.md`; an unknown header is a 422 naming it, before anything
    is written.

    A file larger than IMPORT_JOB_BYTES is a job: the answer is a 202 with the job and
    its `Location`, `GET /v1/imports/{import_id}`, which gives the report once done.
    """
    kind, answer = await import_or_queue(request, session, catalog, settings, actor, dry_run)
    if kind == "job":
        return JSONResponse(
            jsonable_encoder(ImportJobOut.model_validate(answer)),
            status_code=202,
            headers={"Location": f"/v1/imports/{answer['id']}"},
        )
    return answer


async def import_or_queue(
    request: Request,
    session: Session,
    catalog: Catalog,
    settings: Settings,
    actor: Actor,
    dry_run: bool,
) -> tuple[Literal["report", "job"], dict[str, Any]]:
    """The uploaded file imported within the request, ``("report", its report)``; or,
    past IMPORT_JOB_BYTES, stored and queued, ``("job", the job)``. The route's and
    the console's."""
    require_writer(actor)
    # The key lookup began a transaction (on SQLite it holds the write lock): end it
    # before the upload and the parsing, which can take a while; the import's writes
    # run in a new transaction that the session dependency commits or rolls back.
    await run_in_threadpool(session.commit)
    source = await _receive(request)
    try:
        if _size(source) > settings.import_job_bytes:
            return "job", await run_in_threadpool(_queue, request, source, actor, dry_run)
        limits = ImportLimits.from_settings(settings)
        prepared = await run_in_threadpool(
            bulk_import.prepare, catalog, source, actor, None, limits
        )
        report = await run_in_threadpool(
            lambda: bulk_import.apply(session, prepared, actor, dry_run=dry_run)
        )
    finally:
        source.data.close()
    return "report", report.as_json(MAX_ERRORS_LISTED)


def _size(source: bulk_import.ImportFile) -> int:
    source.data.seek(0, 2)
    size = source.data.tell()
    source.data.seek(0)
    return size


def _queue(
    request: Request, source: bulk_import.ImportFile, actor: Actor, dry_run: bool
) -> dict[str, Any]:
    """Store the file and queue its job in one transaction; wake the service's own
    worker (SQLite) if it has one."""
    with request.app.state.sessionmaker.begin() as session:
        job = import_jobs.submit(session, source, actor, dry_run=dry_run)
        enqueue_import(session, job.id)
        shown = import_jobs.job_json(job)
    if request.app.state.jobs is not None:
        request.app.state.jobs.wake()
    return shown


@router.get("/{import_id}", response_model=ImportJobOut, responses=responses(401, 403, 404, 422))
def import_status(
    import_id: ImportId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> dict[str, Any]:
    """A large import's status; once done, its report (admins and auditors, or a portal
    whose area holds the portal that sent it)."""
    job = import_jobs.check_visible(actor, catalog, session.get(ImportJob, import_id), import_id)
    return import_jobs.job_json(job)


@router.post(
    "/{import_id}/cancel",
    response_model=ImportJobOut,
    responses=responses(401, 403, 404, 409, 422),
)
def cancel_import(
    import_id: ImportId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> dict[str, Any]:
    """Stop a queued or running large import (an admin, or a portal that may read it):
    a queued one is never executed, a running one stops at its next thousand rows and
    writes nothing (its transaction is rolled back), and the file's bytes are dropped.
    An import already done, failed or cancelled is a 409."""
    require_writer(actor)
    job = import_jobs.check_visible(actor, catalog, session.get(ImportJob, import_id), import_id)
    job = import_jobs.cancel(session, job)
    cancel_queued_import(session, job.id)
    return import_jobs.job_json(job)
