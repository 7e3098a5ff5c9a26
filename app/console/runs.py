"""Proactive matching runs for portal officers: start one, watch its progress (htmx
asks again each second until it is done), read its results per policy, and turn a
policy's eligible results into computed awards within the remaining budgets.

Each page goes through the API's matching routes or the services they call, after
the same checks (``require_writer``, ``check_run``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import CatalogDep, SessionDep
from app.api.routes import matching as matching_api
from app.api.schemas.bounded import PolicyId, ResultStatus, RunId
from app.console.pages import FiscalYear, render, see_other
from app.console.session import ConsoleActor, CsrfChecked
from app.db import repositories as repo
from app.services.access import check_run, require_reader, require_writer
from app.services.matching_awards import awards_from_run

router = APIRouter()

RESULTS_SHOWN = 100
FINISHED = ("done", "failed")


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, actor: ConsoleActor) -> Response:
    require_reader(actor, "portal", "auditor")
    return render(request, "runs.html", {}, actor=actor)


@router.post("/runs", dependencies=[CsrfChecked])
def start_run(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    fiscal_year: Annotated[FiscalYear, Form()],
) -> Response:
    """Start a run over the enterprises of the officer's area, as ``POST /v1/matching/runs``."""
    started = matching_api.start_matching(
        matching_api.RunRequest(fiscal_year=fiscal_year), request, session, catalog, actor
    )
    return see_other(f"/runs/{started['id']}")


def _run_page(
    request: Request,
    session: Any,
    catalog: Any,
    actor: Any,
    run_id: str,
    *,
    policy_id: str | None = None,
    status: ResultStatus | None = None,
    report: dict[str, Any] | None = None,
) -> Response:
    run = matching_api.get_matching(run_id, session, catalog, actor)
    results: list[dict[str, Any]] = []
    if run["status"] == "done":
        results = matching_api.matching_results(
            run_id,
            session,
            catalog,
            actor,
            policy_id=policy_id,
            status=status,
            cursor=0,
            limit=RESULTS_SHOWN,
        )["items"]
    names = {
        e.id: e.name for e in repo.get_enterprises(session, {r["enterprise_id"] for r in results})
    }
    return render(
        request,
        "run.html",
        {
            "run": run,
            "finished": run["status"] in FINISHED,
            "results": results,
            "names": names,
            "policy_id": policy_id or "",
            "status": status or "",
            "report": report,
            "titles": {p.id: p.title for p in catalog.policies.values()},
            "may_write": actor.role in ("admin", "portal"),
        },
        actor=actor,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    request: Request,
    run_id: RunId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    policy_id: Annotated[PolicyId | None, Query()] = None,
    status: Annotated[ResultStatus | None, Query()] = None,
) -> Response:
    return _run_page(request, session, catalog, actor, run_id, policy_id=policy_id, status=status)


@router.post("/runs/{run_id}/awards", response_class=HTMLResponse, dependencies=[CsrfChecked])
def awards_from_results(
    request: Request,
    run_id: RunId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    policy_id: Annotated[PolicyId, Form()],
) -> Response:
    """A policy's eligible results as computed awards, as ``POST /v1/matching/runs/{id}/awards``;
    the page then reports how many were made and why the others were not."""
    require_writer(actor)
    run = check_run(actor, catalog, repo.get_matching_run(session, run_id), run_id, "matching")
    report = awards_from_run(session, catalog, actor, run, policy_id)
    session.flush()
    return _run_page(request, session, catalog, actor, run_id, policy_id=policy_id, report=report)
