"""Whole-population work: proactive matching runs and what-if simulations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.idempotency import Idempotency, IdempotencyKey
from app.api.schemas.bounded import PolicyId, ResultCursor, ResultStatus, RunId
from app.api.schemas.types import FiscalYear, StrictModel
from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.db.models import MatchingRun
from app.jobs.queue import cancel_queued_shards, enqueue_shards
from app.services import matching_runs as runs
from app.services.access import check_run, require_writer
from app.services.actors import Actor
from app.services.csv_export import csv_stream
from app.services.matching_awards import awards_from_run
from app.services.scenarios import PolicyChange

router = APIRouter(tags=["population"])


class RunRequest(StrictModel):
    fiscal_year: FiscalYear


class SimulationRequest(StrictModel):
    fiscal_year: FiscalYear
    changes: list[PolicyChange] = Field(min_length=1, max_length=100)


class RunOut(BaseModel):
    id: str
    kind: str
    fiscal_year: int
    status: str = Field(description="queued, running, done, failed or cancelled")
    progress: int = Field(description="enterprises evaluated so far (by the shards done)")
    total: int = Field(description="enterprises evaluated, once the run is done")
    shards: dict[str, int] = Field(
        description="`done` and `total`: the run's shards, each one job taken by any worker"
    )
    started_by: str
    created_at: Any
    finished_at: Any
    error: str | None
    parameters: dict[str, Any]
    result: dict[str, Any] | None


class ResultOut(BaseModel):
    id: int
    enterprise_id: str
    policy_id: str
    status: str
    amount: str | None
    missing_facts: list[str]
    findings_required: list[str] = Field(
        default_factory=list,
        description="keys of the findings a reviewer must record before the answer settles",
    )


class ResultList(BaseModel):
    items: list[ResultOut]
    next_cursor: str | None


class AwardsFromRun(StrictModel):
    policy_id: PolicyId


class AwardsFromRunOut(BaseModel):
    run_id: str
    policy_id: str
    created: int
    award_ids: list[str]
    skipped: dict[str, int]


def _start(
    request: Request,
    session: Session,
    catalog: Catalog,
    actor: Actor,
    fiscal_year: int,
    changes: list[PolicyChange] | None,
) -> dict[str, Any]:
    # FIX (API tests, schemathesis): end the request's own transaction (it read the API
    # key) before opening another session. On SQLite every transaction takes the write
    # lock (BEGIN IMMEDIATE), so the session below waited 30 s for its own request and
    # failed with "database is locked": every run started with a key was a 500.
    session.commit()
    make_session = request.app.state.sessionmaker
    settings = request.app.state.settings
    # The run, its shards and their jobs in one transaction: all or none of them.
    with make_session.begin() as session:
        run = runs.start_run(
            session,
            catalog,
            actor,
            fiscal_year,
            changes,
            shard_size=settings.run_shard_size,
            runs_per_tenant=settings.runs_per_tenant,
        )
        run_id = run.id
        enqueue_shards(session, run_id, run.shards_total)
    if request.app.state.jobs is not None:
        request.app.state.jobs.wake()
    with make_session() as session:
        stored = repo.get_matching_run(session, run_id)
        assert stored is not None
        return runs.run_json(stored)


def _visible_run(
    session: Session, catalog: Catalog, actor: Actor, run_id: RunId, kind: str
) -> MatchingRun:
    return check_run(actor, catalog, repo.get_matching_run(session, run_id), run_id, kind)


@router.post(
    "/matching/runs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses=responses(401, 403, 422, 429),
)
def start_matching(
    body: RunRequest, request: Request, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Evaluate every stored enterprise (a portal: those in its area) for a fiscal year, in the background.
    A tenant may have RUNS_PER_TENANT runs queued or running at once; past that a 429."""
    require_writer(actor)
    return _start(request, session, catalog, actor, body.fiscal_year, None)


@router.get("/matching/runs/{run_id}", response_model=RunOut, responses=responses(401, 403, 404))
def get_matching(
    run_id: RunId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """A run's status and progress; when done, per policy the eligible, undetermined, totals and budget gap."""
    return runs.run_json(_visible_run(session, catalog, actor, run_id, "matching"))


def _result_json(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "enterprise_id": r.enterprise_id,
        "policy_id": r.policy_id,
        "status": r.status,
        "amount": None if r.amount is None else f"{r.amount:.2f}",
        "missing_facts": (r.missing_facts or {}).get("paths", []),
        "findings_required": (r.missing_facts or {}).get("findings", []),
    }


@router.get(
    "/matching/runs/{run_id}/results",
    response_model=ResultList,
    responses=responses(401, 403, 404, 422),
)
def matching_results(
    run_id: RunId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    policy_id: Annotated[PolicyId | None, Query()] = None,
    status: Annotated[ResultStatus | None, Query()] = None,
    cursor: Annotated[ResultCursor, Query(description="`next_cursor` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The eligible enterprises with amounts and the undetermined ones with what is missing."""
    _visible_run(session, catalog, actor, run_id, "matching")
    rows = repo.list_matching_results(
        session, run_id, policy_id=policy_id, status=status, after_id=cursor, limit=limit
    )
    return {
        "items": [_result_json(r) for r in rows],
        "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
    }


@router.get(
    "/matching/runs/{run_id}/results.csv",
    response_class=StreamingResponse,
    responses=responses(401, 403, 404),
    openapi_extra={"responses": {"200": {"content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def matching_results_csv(
    run_id: RunId, request: Request, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> StreamingResponse:
    """The run's results as CSV (UTF-8 with BOM; text that would start a formula is quoted)."""
    _visible_run(session, catalog, actor, run_id, "matching")

    def rows() -> Iterator[list[Any]]:
        with request.app.state.sessionmaker() as own:
            after = 0
            while batch := repo.list_matching_results(own, run_id, after_id=after, limit=1000):
                for r in batch:
                    yield [
                        r.enterprise_id,
                        r.policy_id,
                        r.status,
                        r.amount,  # Decimal (or None): a number in the spreadsheet
                        ";".join((r.missing_facts or {}).get("paths", [])),
                        ";".join((r.missing_facts or {}).get("findings", [])),
                    ]
                after = batch[-1].id

    return StreamingResponse(
        csv_stream(
            [
                "enterprise_id",
                "policy_id",
                "status",
                "amount",
                "missing_facts",
                "findings_required",
            ],
            rows(),
        ),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="matching-{run_id}.csv"'},
    )


@router.post(
    "/matching/runs/{run_id}/awards",
    response_model=AwardsFromRunOut,
    responses=responses(401, 403, 404, 409, 422),
)
def awards_from_matching(
    run_id: RunId,
    body: AwardsFromRun,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Turn a policy's eligible results into computed awards, within the remaining budgets."""
    require_writer(actor)
    run = _visible_run(session, catalog, actor, run_id, "matching")
    return Idempotency(session, actor, idempotency_key, request).run(
        body,
        200,
        AwardsFromRunOut,
        lambda: awards_from_run(session, catalog, actor, run, body.policy_id),
    )


@router.post(
    "/simulations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunOut,
    responses=responses(401, 403, 422, 429),
)
def start_simulation(
    body: SimulationRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> dict[str, Any]:
    """What-if: the same run with changed caps, rates, thresholds or budgets, or a policy switched off.
    Compares baseline and scenario per policy; nothing in the ledger changes."""
    require_writer(actor)
    return _start(request, session, catalog, actor, body.fiscal_year, body.changes)


@router.get("/simulations/{run_id}", response_model=RunOut, responses=responses(401, 403, 404))
def get_simulation(
    run_id: RunId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """A simulation's status and, when done, baseline against scenario per policy with gainers and losers."""
    return runs.run_json(_visible_run(session, catalog, actor, run_id, "simulation"))


def _cancel(
    session: Session, catalog: Catalog, actor: Actor, run_id: RunId, kind: str
) -> dict[str, Any]:
    require_writer(actor)
    run = runs.cancel_run(session, _visible_run(session, catalog, actor, run_id, kind))
    cancel_queued_shards(session, run.id)
    return runs.run_json(run)


@router.post(
    "/matching/runs/{run_id}/cancel",
    response_model=RunOut,
    responses=responses(401, 403, 404, 409),
)
def cancel_matching(
    run_id: RunId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Stop a queued or running run: shards not yet written are skipped, results already
    written stay. A run already done, failed or cancelled is a 409."""
    return _cancel(session, catalog, actor, run_id, "matching")


@router.post(
    "/simulations/{run_id}/cancel",
    response_model=RunOut,
    responses=responses(401, 403, 404, 409),
)
def cancel_simulation(
    run_id: RunId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Stop a queued or running simulation (a 409 once it has finished)."""
    return _cancel(session, catalog, actor, run_id, "simulation")
