"""``GET /metrics``: the Prometheus figures (app/observability/metrics.py), for auditors.

Not public: budgets and the audit chain are an auditor's reading. Prometheus scrapes it
with an auditor's (or admin's) key as a bearer token (README, "Operations").
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.auth import ActorDep
from app.api.deps import SessionDep
from app.api.errors import responses
from app.observability.metrics import CONTENT_TYPE, exposition
from app.services.access import require_reader

router = APIRouter(tags=["operations"])

TEXT_RESPONSE = {"responses": {"200": {"content": {"text/plain": {"schema": {"type": "string"}}}}}}


@router.get(
    "/metrics",
    response_class=Response,
    responses=responses(401, 403),
    openapi_extra=TEXT_RESPONSE,
)
def metrics(session: SessionDep, actor: ActorDep) -> Response:
    """Request counts and latencies per route and status, budgets, the audit chain."""
    require_reader(actor, "auditor")
    return Response(exposition(session), media_type=CONTENT_TYPE)
