"""Liveness and readiness, for the load balancer, docker-compose and the image's HEALTHCHECK.

- ``/health/live``: the process answers. No database, no thread, not queued at the
  gate: a restart is the cure for a process that cannot answer this, and only for it.
- ``/health/ready``: the named checks of ``app.observability.readiness`` (database,
  migrations at head, catalog loaded, workers heard from); 503 naming the first that
  fails, within a few seconds even when the database is down (not queued at the gate,
  a connection of its own with a 2 s connect timeout).
- ``/health``: as before, the service and its database answer, with the catalog served.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.api.deps import CatalogDep, SessionDep
from app.api.errors import problem_response, responses
from app.observability.readiness import readiness

router = APIRouter(tags=["health"])

LIVENESS = "/health/live"
READINESS = "/health/ready"


class Live(BaseModel):
    status: str = Field(description="`ok`: the process answers")


class Ready(BaseModel):
    status: str = Field(description="`ready`: every check passed")
    checks: dict[str, str] = Field(description="each check by name: `ok`")


@router.get("/health")
def health(session: SessionDep, catalog: CatalogDep) -> dict[str, Any]:
    """The service answers, its database answers, and which catalog it serves."""
    session.execute(text("SELECT 1"))
    return {"status": "ok", "catalog_hash": catalog.hash, "policies": len(catalog.policies)}


@router.get(LIVENESS, response_model=Live)
async def live() -> dict[str, str]:
    """The process answers (the database is not asked)."""
    return {"status": "ok"}


@router.get(READINESS, response_model=Ready, responses=responses(503))
def ready(request: Request) -> Any:
    """Ready for traffic: the database answers, its schema is at this release's
    migrations, the catalog is loaded. A 503 names the first check that fails."""
    outcomes, failed, problem = readiness(request.app.state)
    if failed is None:
        return {"status": "ready", "checks": outcomes}
    response: JSONResponse = problem_response(
        503,
        "Not ready",
        f"{failed.name}: {problem}",
        "not-ready",
        request,
        checks=outcomes,
    )
    return response
