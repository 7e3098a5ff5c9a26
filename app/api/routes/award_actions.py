"""An award's lifecycle, events and replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.idempotency import Idempotency, IdempotencyKey
from app.api.schemas.awards import (
    AwardEventList,
    AwardOut,
    NoticeRequest,
    ObjectionRequest,
    ReasonRequest,
    RecomputeRequest,
    ReplayOut,
)
from app.api.schemas.bounded import AwardId
from app.db import repositories as repo
from app.services import awards as service
from app.services import lifecycle
from app.services.access import hide_labels, require_writer, shown_actor
from app.services.replay import replay

router = APIRouter(prefix="/awards", tags=["award lifecycle"])

WRITE_ERRORS = responses(401, 403, 404, 409, 422)


def _act(
    request: Request,
    session: Any,
    catalog: Any,
    actor: Any,
    key: str | None,
    award_id: AwardId,
    action: str,
    body: Any,
    **fields: Any,
) -> JSONResponse:
    require_writer(actor)

    def produce() -> dict[str, Any]:
        award = lifecycle.transition(session, catalog, actor, award_id, action, **fields)
        return service.award_json(award, actor)

    return Idempotency(session, actor, key, request).run(body, 200, AwardOut, produce)


@router.post("/{award_id}/notice", response_model=AwardOut, responses=WRITE_ERRORS)
def notice(
    award_id: AwardId,
    body: NoticeRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Start the public notice (公示): at least 7 working days; objections can be recorded meanwhile."""
    return _act(
        request,
        session,
        catalog,
        actor,
        idempotency_key,
        award_id,
        "notice",
        body,
        reason=body.reason,
        notice_start=body.notice_start,
        notice_end=body.notice_end,
    )


@router.post("/{award_id}/approve", response_model=AwardOut, responses=WRITE_ERRORS)
def approve(
    award_id: AwardId,
    body: ReasonRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Approve after the notice: commits the amount from the payer's budget, or 409 if it cannot take it."""
    return _act(
        request,
        session,
        catalog,
        actor,
        idempotency_key,
        award_id,
        "approve",
        body,
        reason=body.reason,
    )


@router.post("/{award_id}/disburse", response_model=AwardOut, responses=WRITE_ERRORS)
def disburse(
    award_id: AwardId,
    body: ReasonRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the payment: the amount moves from committed to disbursed."""
    return _act(
        request,
        session,
        catalog,
        actor,
        idempotency_key,
        award_id,
        "disburse",
        body,
        reason=body.reason,
    )


@router.post("/{award_id}/reject", response_model=AwardOut, responses=WRITE_ERRORS)
def reject(
    award_id: AwardId,
    body: ReasonRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Reject a computed or noticed award, with a reason."""
    return _act(
        request,
        session,
        catalog,
        actor,
        idempotency_key,
        award_id,
        "reject",
        body,
        reason=body.reason,
    )


@router.post("/{award_id}/revoke", response_model=AwardOut, responses=WRITE_ERRORS)
def revoke(
    award_id: AwardId,
    body: ReasonRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Revoke (claw back) an approved or disbursed award, with a reason; its money is released."""
    return _act(
        request,
        session,
        catalog,
        actor,
        idempotency_key,
        award_id,
        "revoke",
        body,
        reason=body.reason,
    )


@router.post("/{award_id}/objections", response_model=AwardOut, responses=WRITE_ERRORS)
def objection(
    award_id: AwardId,
    body: ObjectionRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record an objection raised during the public notice."""
    require_writer(actor)

    def produce() -> dict[str, Any]:
        award = lifecycle.record_objection(session, catalog, actor, award_id, body.text, body.by)
        return service.award_json(award, actor)

    return Idempotency(session, actor, idempotency_key, request).run(body, 200, AwardOut, produce)


@router.post(
    "/{award_id}/recompute", status_code=201, response_model=AwardOut, responses=WRITE_ERRORS
)
def recompute(
    award_id: AwardId,
    body: RecomputeRequest,
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A new award version from the current profile; the old one is kept as superseded."""
    require_writer(actor)

    def produce() -> dict[str, Any]:
        award = lifecycle.recompute(session, catalog, actor, award_id, body.amount)
        return service.award_json(award, actor, with_trace=True)

    return Idempotency(session, actor, idempotency_key, request).run(body, 201, AwardOut, produce)


@router.get("/{award_id}/events", response_model=AwardEventList, responses=responses(401, 404))
def events(
    award_id: AwardId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Every step of the award: who, when, from which status to which, and why."""
    service.visible_award(session, catalog, actor, award_id)
    items = [
        {
            "id": e.id,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "actor": shown_actor(actor, e.actor),
            "reason": e.reason,
            "details": e.details,
            "at": e.at,
        }
        for e in repo.list_award_events(session, award_id)
    ]
    return {"award_id": award_id, "items": items}


@router.get("/{award_id}/replay", response_model=ReplayOut, responses=responses(401, 404))
def replay_award(
    award_id: AwardId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Recompute the award from its stored profile and policy versions; report a match or the differences."""
    award = service.visible_award(session, catalog, actor, award_id)
    shown: dict[str, Any] = hide_labels(
        actor, replay(session, award), service.reviewers_in(award.trace)
    )
    return shown
