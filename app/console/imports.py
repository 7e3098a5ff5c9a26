"""Bulk import for portal officers: a CSV or XLSX file, checked row by row and written
all together or not at all, exactly as ``POST /v1/imports`` does it (that route's own
function reads the upload). A file up to IMPORT_JOB_BYTES is imported within the
request and the page shows the report, with every rejected row's number, column and
reason; a larger one is queued as a job like the API's, and the officer is sent to the
import's own page, which follows the job until its report is there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import CatalogDep, SessionDep, SettingsDep
from app.api.routes import imports as imports_api
from app.console.pages import render, see_other
from app.console.session import ConsoleActor, CsrfChecked
from app.db.models import ImportJob
from app.profile.bounded import ImportId
from app.services import import_jobs
from app.services.access import require_writer

router = APIRouter()


@router.get("/imports", response_class=HTMLResponse)
def import_form(request: Request, actor: ConsoleActor) -> Response:
    require_writer(actor)
    return render(request, "imports.html", {"report": None}, actor=actor)


@router.post("/imports", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def import_file(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    actor: ConsoleActor,
    dry_run: Annotated[bool, Form()] = False,
) -> Response:
    kind, answer = await imports_api.import_or_queue(
        request, session, catalog, settings, actor, dry_run=dry_run
    )
    if kind == "job":
        return see_other(f"/imports/{answer['id']}")
    return render(request, "imports.html", {"report": answer}, actor=actor)


@router.get("/imports/{import_id}", response_class=HTMLResponse)
def import_page(
    request: Request,
    import_id: ImportId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
) -> Response:
    """A queued import, as ``GET /v1/imports/{import_id}`` shows it (to the same
    readers): its status while it waits or runs, then its report or why it failed."""
    job = import_jobs.check_visible(actor, catalog, session.get(ImportJob, import_id), import_id)
    shown = import_jobs.job_json(job)
    return render(
        request,
        "import_job.html",
        {
            "job": shown,
            "report": shown["report"],
            "finished": job.status not in import_jobs.UNFINISHED,
            "may_write": actor.role in ("admin", "portal"),
        },
        actor=actor,
    )


@router.post("/imports/{import_id}/cancel", dependencies=[CsrfChecked])
def cancel_import(
    import_id: ImportId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
) -> Response:
    """Stop a queued or running import, as ``POST /v1/imports/{import_id}/cancel``."""
    imports_api.cancel_import(import_id, session, catalog, actor)
    return see_other(f"/imports/{import_id}")
