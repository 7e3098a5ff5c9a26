"""Bulk import for portal officers: a CSV or XLSX file, checked row by row and written
all together or not at all, exactly as ``POST /v1/imports`` does it (that route's own
function reads the upload), within the request whatever the file's size; the page shows the report with every rejected row's
number, column and reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import CatalogDep, SessionDep, SettingsDep
from app.api.routes import imports as imports_api
from app.console.pages import render
from app.console.session import ConsoleActor, CsrfChecked
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
    report = await imports_api.import_at_once(
        request, session, catalog, settings, actor, dry_run=dry_run
    )
    return render(request, "imports.html", {"report": report}, actor=actor)
