"""Awards: computed from a stored profile and kept with the trace that produced them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.idempotency import Idempotency, IdempotencyKey
from app.api.pagination import CursorQuery, LimitQuery, page_or_422
from app.api.schemas.awards import AwardAmount, AwardList, AwardOut, AwardRequest
from app.api.schemas.bounded import (
    AwardCreatedAt,
    AwardId,
    AwardStatus,
    EnterpriseId,
    PayerFilter,
    PlaceFilter,
    PolicyId,
)
from app.db import repositories as repo
from app.services import awards as service
from app.services.access import check_enterprise, require_writer, scope_of

router = APIRouter(prefix="/awards", tags=["awards"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AwardOut,
    responses=responses(401, 403, 404, 409, 422),
)
def create_award(
    body: AwardRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Compute the capped amount from the stored profile and store the award with its trace.

    An ineligible or undetermined enterprise gets a 422 problem carrying the reasons.
    Send an `Idempotency-Key` to make a retry safe.
    """
    require_writer(actor)
    check_enterprise(
        actor, catalog, repo.get_enterprise(session, body.enterprise_id), body.enterprise_id
    )

    def produce() -> dict[str, Any]:
        award = service.compute_award(
            session,
            catalog,
            enterprise_id=body.enterprise_id,
            policy_id=body.policy_id,
            fiscal_year=body.fiscal_year,
            amount=body.amount,
            actor=actor,
        )
        return service.award_json(award, actor, with_trace=True)

    return Idempotency(session, actor, idempotency_key, request).run(body, 201, AwardOut, produce)


@router.get("", response_model=AwardList, responses=responses(401, 422))
def list_awards(
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    policy_id: Annotated[PolicyId | None, Query()] = None,
    enterprise_id: Annotated[EnterpriseId | None, Query()] = None,
    district: Annotated[PlaceFilter | None, Query()] = None,
    payer: Annotated[PayerFilter | None, Query(description="payer jurisdiction")] = None,
    fiscal_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: Annotated[AwardStatus | None, Query()] = None,
    amount_min: Annotated[AwardAmount | None, Query()] = None,
    amount_max: Annotated[AwardAmount | None, Query()] = None,
    created_from: Annotated[AwardCreatedAt | None, Query()] = None,
    created_to: Annotated[AwardCreatedAt | None, Query()] = None,
) -> dict[str, Any]:
    """Stored awards the key may see, filtered, oldest first, a page at a time."""
    within = scope_of(actor, catalog).list_filter()
    own = within.pop("enterprise_id", None)
    if own is not None and enterprise_id not in (None, own):
        return {"items": [], "next_cursor": None}
    page = page_or_422(
        lambda: repo.list_awards(
            session,
            policy_id=policy_id,
            enterprise_id=enterprise_id or own,
            district=district,
            **within,
            payer_jurisdiction=payer,
            fiscal_year=fiscal_year,
            status=status,
            amount_min=amount_min,
            amount_max=amount_max,
            created_from=created_from,
            created_to=created_to,
            cursor=cursor,
            limit=limit,
        )
    )
    return {
        "items": [service.award_json(a, actor) for a in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/{award_id}", response_model=AwardOut, responses=responses(401, 404))
def get_award(
    award_id: AwardId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """One award with its trace: facts read, clause results, formula steps, caps."""
    award = service.visible_award(session, catalog, actor, award_id)
    return service.award_json(award, actor, with_trace=True)
