"""Liveness and readiness, for the load balancer and docker-compose."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import CatalogDep, SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep, catalog: CatalogDep) -> dict[str, Any]:
    """The service answers, its database answers, and which catalog it serves."""
    session.execute(text("SELECT 1"))
    return {"status": "ok", "catalog_hash": catalog.hash, "policies": len(catalog.policies)}
