"""Findings only an official can make, recorded on a stored enterprise."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.idempotency import Idempotency, IdempotencyKey
from app.api.schemas.bounded import EnterpriseId, MapsTo
from app.api.schemas.findings import FindingList, FindingOut, FindingRequest
from app.db import repositories as repo
from app.services import findings as service
from app.services.access import check_enterprise, require_writer

router = APIRouter(prefix="/enterprises", tags=["findings"])

FiscalYearFilter = Annotated[
    int | None,
    Query(ge=2000, le=2100, description="only this fiscal year's findings"),
    MapsTo("enterprise_findings.fiscal_year"),
]


@router.post(
    "/{enterprise_id}/findings",
    status_code=status.HTTP_201_CREATED,
    response_model=FindingOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Record a reviewer's finding on the enterprise",
)
def record_finding(
    enterprise_id: EnterpriseId,
    body: FindingRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record whether a criterion no data settles is met, for one fiscal year (an admin,
    or a portal on an enterprise of its area; enterprise and auditor keys get 403).

    `key` is one of the catalog's findings (`GET /v1/vocabulary`, `findings`); an
    undetermined answer lists those it needs under `findings_required`. Records are
    never changed: a later finding on the same fiscal year and key supersedes this one,
    and both stay listed. From now on every evaluation of the enterprise for that
    fiscal year (entitlements, gap analysis, awards, matching runs) uses the current
    finding and names the reviewer and the day. Send an `Idempotency-Key` to make a
    retry safe.
    """
    require_writer(actor)
    check_enterprise(actor, catalog, repo.get_enterprise(session, enterprise_id), enterprise_id)

    def produce() -> dict[str, Any]:
        finding = service.record_finding(session, catalog, actor, enterprise_id, body)
        return service.finding_json(catalog, finding, actor, current=True)

    return Idempotency(session, actor, idempotency_key, request).run(body, 201, FindingOut, produce)


@router.get(
    "/{enterprise_id}/findings",
    response_model=FindingList,
    responses=responses(401, 403, 404, 422),
    summary="The findings recorded on the enterprise",
)
def list_findings(
    enterprise_id: EnterpriseId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    fiscal_year: FiscalYearFilter = None,
) -> dict[str, Any]:
    """Every finding recorded on the enterprise (or those of `fiscal_year`), newest
    first; `current` marks the latest per fiscal year and key, the one evaluations use.
    Admins, auditors, a portal within its area, and the enterprise itself."""
    return service.list_findings(session, catalog, actor, enterprise_id, fiscal_year)
