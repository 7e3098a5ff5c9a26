"""The fact vocabulary: which profile facts and words the catalog understands."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import CatalogDep

router = APIRouter(tags=["policies"])


@router.get("/vocabulary")
def get_vocabulary(catalog: CatalogDep) -> dict[str, Any]:
    """Profile facts with type, unit and description; enumerations; places; and the findings
    only an official can make (POST /v1/enterprises/{enterprise_id}/findings)."""
    return catalog.vocabulary.model_dump(mode="json")
