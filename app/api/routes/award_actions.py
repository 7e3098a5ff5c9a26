"""An award's lifecycle, events and replay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.api.auth import ActorDep, BearerDep, actor_of
from app.api.deps import CatalogDep, SessionDep, in_transaction
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
from app.services.actors import Actor
from app.services.replay import replay

router = APIRouter(prefix="/awards", tags=["award lifecycle"])

WRITE_ERRORS = responses(401, 403, 404, 409, 422)


async def _write(
    request: Request,
    token: str,
    key: str | None,
    body: Any,
    status_code: int,
    produce: Callable[[Session, Actor], dict[str, Any]],
) -> Response:
    """A write to an award: the key checked, the change made, the answer shaped and the
    transaction committed on one thread (``in_transaction``); an idempotent retry
    replays the stored answer instead."""

    def work(session: Session) -> Response:
        actor = actor_of(session, token, request.state)
        require_writer(actor)
        return Idempotency(session, actor, key, request).run(
            body, status_code, AwardOut, lambda: produce(session, actor)
        )

    return await in_transaction(request, work)


async def _act(
    request: Request,
    catalog: Any,
    token: str,
    key: str | None,
    award_id: AwardId,
    action: str,
    body: Any,
    **fields: Any,
) -> Response:
    def work(session: Session) -> Response:
        actor = actor_of(session, token, request.state)
        require_writer(actor)
        idempotency = Idempotency(session, actor, key, request)
        replayed = idempotency.replay_or_claim(body)
        if replayed is not None:
            return replayed

        def answer(award: Any) -> Response:
            return idempotency.respond(200, AwardOut, service.award_json(award, actor))

        # The award's change is the transaction's last write: the answer, and the
        # idempotency record sent with the COMMIT, lock no rows. Without a key nothing
        # was written before it, so an approval may commit with its own statement; its
        # answer is made before that statement is sent.
        return lifecycle.transition_last_write(
            session, catalog, actor, award_id, action, commits=key is None, answer=answer, **fields
        )

    return await in_transaction(request, work)


@router.post("/{award_id}/notice", response_model=AwardOut, responses=WRITE_ERRORS)
async def notice(
    award_id: AwardId,
    body: NoticeRequest,
    request: Request,
    catalog: CatalogDep,
    token: BearerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Start the public notice (公示): at least 7 working days; objections can be recorded meanwhile."""
    return await _act(
        request,
        catalog,
        token,
        idempotency_key,
        award_id,
        "notice",
        body,
        reason=body.reason,
        notice_start=body.notice_start,
        notice_end=body.notice_end,
    )


def _reason_only(action: str, summary: str) -> Callable[..., Awaitable[Response]]:
    """The route of a step whose body is only its reason, named and described as FastAPI
    names it in the OpenAPI document (``operationId`` from the name, the description
    from the docstring)."""

    async def act(
        award_id: AwardId,
        body: ReasonRequest,
        request: Request,
        catalog: CatalogDep,
        token: BearerDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        return await _act(
            request, catalog, token, idempotency_key, award_id, action, body, reason=body.reason
        )

    act.__name__ = act.__qualname__ = action
    act.__doc__ = summary
    return act


#: The steps that take only a reason, in the order the OpenAPI document lists them.
REASON_ONLY_STEPS = {
    "approve": "Approve after the notice: commits the amount from the payer's budget, or 409 "
    "if it cannot take it.",
    "disburse": "Record the payment: the amount moves from committed to disbursed.",
    "reject": "Reject a computed or noticed award, with a reason.",
    "revoke": "Revoke (claw back) an approved or disbursed award, with a reason; its money is "
    "released.",
}
for _action, _summary in REASON_ONLY_STEPS.items():
    router.post(f"/{{award_id}}/{_action}", response_model=AwardOut, responses=WRITE_ERRORS)(
        _reason_only(_action, _summary)
    )


@router.post("/{award_id}/objections", response_model=AwardOut, responses=WRITE_ERRORS)
async def objection(
    award_id: AwardId,
    body: ObjectionRequest,
    request: Request,
    catalog: CatalogDep,
    token: BearerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record an objection raised during the public notice."""

    def produce(session: Session, actor: Actor) -> dict[str, Any]:
        award = lifecycle.record_objection(session, catalog, actor, award_id, body.text, body.by)
        return service.award_json(award, actor)

    return await _write(request, token, idempotency_key, body, 200, produce)


@router.post(
    "/{award_id}/recompute", status_code=201, response_model=AwardOut, responses=WRITE_ERRORS
)
async def recompute(
    award_id: AwardId,
    body: RecomputeRequest,
    request: Request,
    catalog: CatalogDep,
    token: BearerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new award version from the current profile; the old one is kept as superseded."""

    def produce(session: Session, actor: Actor) -> dict[str, Any]:
        award = lifecycle.recompute(session, catalog, actor, award_id, body.amount)
        return service.award_json(award, actor, with_trace=True)

    return await _write(request, token, idempotency_key, body, 201, produce)


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
