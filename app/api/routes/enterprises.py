"""Stored enterprises: register, update (each change a new profile version), entitlements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.pagination import CursorQuery, LimitQuery, page_or_422
from app.api.schemas.bounded import EnterpriseId, KindFilter, PlaceFilter, ProfileVersionNumber
from app.api.schemas.eligibility import EligibilityResponse
from app.api.schemas.enterprises import EnterpriseList, EnterpriseOut, ProfileVersionList
from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.services import enterprises as service
from app.services.access import check_enterprise, require_writer, shown_actor
from app.services.actors import Actor
from app.services.awards import prior_awards
from app.services.findings import current_findings
from app.services.matching import check_eligibility

router = APIRouter(prefix="/enterprises", tags=["enterprises"])

FiscalYearQuery = Annotated[int, Query(ge=2000, le=2100, description="the fiscal year evaluated")]
Filter = Annotated[PlaceFilter | None, Query()]


def _visible(session: Session, catalog: Catalog, actor: Actor, enterprise_id: str) -> None:
    check_enterprise(actor, catalog, repo.get_enterprise(session, enterprise_id), enterprise_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EnterpriseOut,
    responses=responses(401, 403, 409, 422),
)
def create_enterprise(
    body: EnterpriseProfile, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Register an enterprise with the first version of its profile (admin, or a portal in its area)."""
    require_writer(actor)
    enterprise, profile = service.create_enterprise(session, catalog, body, actor)
    return service.enterprise_json(enterprise, profile)


@router.get("", response_model=EnterpriseList, responses=responses(401, 422))
def list_enterprises(
    session: SessionDep,
    actor: ActorDep,
    catalog: CatalogDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
    district: Filter = None,
    city: Filter = None,
    kind: Annotated[KindFilter | None, Query()] = None,
) -> dict[str, Any]:
    """Registered enterprises the key may see, oldest first, a page at a time."""
    page = page_or_422(
        lambda: service.list_enterprises(
            session,
            actor,
            catalog,
            district=district,
            city=city,
            kind=kind,
            cursor=cursor,
            limit=limit,
        )
    )
    return {
        "items": [service.enterprise_json(e, p) for e, p in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/{enterprise_id}", response_model=EnterpriseOut, responses=responses(401, 404, 422))
def get_enterprise(
    enterprise_id: EnterpriseId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    version: Annotated[ProfileVersionNumber | None, Query()] = None,
) -> dict[str, Any]:
    """An enterprise with its current profile, or an earlier version with `?version=`."""
    _visible(session, catalog, actor, enterprise_id)
    return service.enterprise_json(*service.get_enterprise(session, enterprise_id, version))


@router.put(
    "/{enterprise_id}", response_model=EnterpriseOut, responses=responses(401, 403, 404, 409, 422)
)
def put_enterprise(
    enterprise_id: EnterpriseId,
    body: EnterpriseProfile,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> dict[str, Any]:
    """Replace the profile; the earlier version is kept and awards keep pointing at it."""
    _visible(session, catalog, actor, enterprise_id)
    require_writer(actor)
    return service.enterprise_json(
        *service.update_enterprise(session, catalog, enterprise_id, body, actor)
    )


@router.get(
    "/{enterprise_id}/versions", response_model=ProfileVersionList, responses=responses(401, 404)
)
def list_versions(
    enterprise_id: EnterpriseId, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Every version of the enterprise's profile, oldest first."""
    _visible(session, catalog, actor, enterprise_id)
    versions = repo.list_profile_versions(session, enterprise_id)
    return {
        "enterprise_id": enterprise_id,
        "items": [
            {
                "version": v.version,
                "profile_hash": v.profile_hash,
                "created_at": v.created_at,
                "created_by": shown_actor(actor, v.created_by),
                "profile": v.profile,
            }
            for v in versions
        ],
    }


@router.get(
    "/{enterprise_id}/entitlements",
    response_model=EligibilityResponse,
    responses=responses(401, 404, 422),
)
def entitlements(
    enterprise_id: EnterpriseId,
    fiscal_year: FiscalYearQuery,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
) -> dict[str, Any]:
    """What the enterprise is entitled to, how much, and what is missing; caps read its stored
    awards, and the findings reviewers recorded for the fiscal year settle the criteria no data
    settles (`findings_used`: who found what, and when; `findings_required`: those still open)."""
    _visible(session, catalog, actor, enterprise_id)
    enterprise, profile = service.get_enterprise(session, enterprise_id)
    history = prior_awards(repo.live_awards_for(session, enterprise.id))
    findings = current_findings(session, enterprise.id, fiscal_year, viewer=actor)
    answer = check_eligibility(
        catalog, profile.profile, fiscal_year, history=history, findings=findings
    )
    return {**answer, "enterprise_id": enterprise.id, "profile_version": profile.version}
