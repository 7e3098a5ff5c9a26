"""The policy catalog: what each policy gives, to whom, from which source."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from app.api.deps import CatalogDep
from app.api.errors import responses
from app.api.schemas.bounded import PolicyId
from app.api.schemas.policies import PolicyDetail, PolicyList
from app.catalog.schema import PolicyFile
from app.services.errors import NotFound

router = APIRouter(prefix="/policies", tags=["policies"])


def _summary(policy: PolicyFile) -> dict[str, Any]:
    today = date.today()
    current = next(
        (
            v
            for v in sorted(policy.versions, key=lambda v: v.effective.from_, reverse=True)
            if v.effective.from_ <= today and (v.effective.to is None or v.effective.to >= today)
        ),
        None,
    )
    latest = current or policy.versions[-1]
    return {
        "id": policy.id,
        "title": policy.title.model_dump(),
        "summary": policy.summary.model_dump(),
        "kind": policy.kind,
        "jurisdiction": policy.jurisdiction,
        "payer": policy.payer.model_dump() if policy.payer else None,
        "current_version": current.version if current else None,
        "effective_from": latest.effective.from_,
        "effective_to": latest.effective.to,
        "source": policy.source.model_dump(),
    }


@router.get("", response_model=PolicyList)
def list_policies(catalog: CatalogDep) -> dict[str, Any]:
    """Every policy in the catalog, with its source and the version in force today."""
    return {"catalog_hash": catalog.hash, "items": [_summary(p) for p in catalog]}


@router.get("/{policy_id}", response_model=PolicyDetail, responses=responses(404))
def get_policy(policy_id: PolicyId, catalog: CatalogDep) -> dict[str, Any]:
    """One policy: text, source citation, rules, formula, caps, budget and worked cases."""
    policy = catalog.policies.get(policy_id)
    if policy is None:
        raise NotFound(f"no policy `{policy_id}`; GET /v1/policies lists them")
    dumped = policy.model_dump(mode="json", by_alias=True)
    return {**_summary(policy), "versions": dumped["versions"], "cases": dumped["cases"]}
