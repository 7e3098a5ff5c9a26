"""Gap analysis: the two recognition ladders rung by rung, and what is still missing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.rate_limit import open_post
from app.api.schemas.bounded import EnterpriseId
from app.api.schemas.eligibility import EligibilityRequest, FindingRequired
from app.db import repositories as repo
from app.services import enterprises as enterprise_service
from app.services.access import check_enterprise
from app.services.awards import prior_awards
from app.services.findings import current_findings
from app.services.gaps import gap_analysis
from app.services.vocabulary import check_words

router = APIRouter(tags=["gap analysis"])


class Criterion(BaseModel):
    clause: str
    met: bool | None
    text: dict[str, str]
    actual: str | None
    required: str | None
    op: str | None
    distance: str | None
    distance_of: str | None
    distance_text: dict[str, str] | None
    missing_facts: list[str]


class OutOfReach(BaseModel):
    clause: str
    zh: str
    en: str


class Rung(BaseModel):
    policy_id: str
    title: dict[str, str]
    policy_version: str | None = None
    status: str
    reachable: bool = Field(
        description="false when the enterprise fails a size cap of this rung (e.g. the SME "
        "size test): it is shown, but never offered as the next step"
    )
    out_of_reach: list[OutOfReach] = Field(description="the size caps it fails")
    criteria: list[Criterion]
    unmet: int
    unknown: int
    missing_facts: list[dict[str, str]]
    findings_required: list[FindingRequired] = Field(
        description="criteria an official must confirm before the rung can be settled"
    )


class LadderReport(BaseModel):
    id: str = Field(description="science or industry")
    title: dict[str, str]
    next_rung: str | None = Field(
        description="the lowest rung not yet met that the enterprise can climb"
    )
    rungs: list[Rung]


class ToSettle(BaseModel):
    policy_id: str
    title: dict[str, str]
    missing_facts: list[dict[str, str]]
    findings_required: list[FindingRequired]


class GapReport(BaseModel):
    enterprise_id: str | None = None
    fiscal_year: int
    catalog_hash: str
    next_rung: str | None = Field(
        description="the science ladder's next rung, else the industry ladder's "
        "(see next_rungs for both)"
    )
    next_rungs: dict[str, str | None] = Field(description="each ladder's next rung, by ladder id")
    ladders: list[LadderReport] = Field(
        description="the science ministry's ladder (technology-based SME → high-tech "
        "enterprise) and the industry ministry's (innovative SME → 专精特新 → little giant)"
    )
    ladder: list[Rung] = Field(description="every rung of both ladders in one list")
    to_settle: list[ToSettle]


@open_post(router, "/gaps", response_model=GapReport, responses=responses(422, 429))
async def gaps_for_profile(body: EligibilityRequest, catalog: CatalogDep) -> dict[str, Any]:
    """Gap analysis for a profile sent in the request; nothing is stored."""
    # A coroutine, as POST /v1/eligibility: no I/O, so no hop to the thread pool.
    check_words(body.profile, catalog, "/profile")
    return gap_analysis(catalog, body.profile.facts(), body.fiscal_year)


@router.get(
    "/enterprises/{enterprise_id}/gaps",
    response_model=GapReport,
    responses=responses(401, 404, 422),
)
def gaps_for_enterprise(
    enterprise_id: EnterpriseId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    fiscal_year: Annotated[int, Query(ge=2000, le=2100)],
) -> dict[str, Any]:
    """Each rung of the two ladders (technology-based SME → high-tech enterprise; innovative SME
    → 专精特新 → little giant) with every criterion met, unmet or unknown and the distance to
    meet it; the facts and findings that would settle each open policy."""
    check_enterprise(actor, catalog, repo.get_enterprise(session, enterprise_id), enterprise_id)
    _, profile = enterprise_service.get_enterprise(session, enterprise_id)
    history = prior_awards(repo.live_awards_for(session, enterprise_id))
    findings = current_findings(session, enterprise_id, fiscal_year, viewer=actor)
    return {
        "enterprise_id": enterprise_id,
        **gap_analysis(catalog, profile.profile, fiscal_year, history, findings=findings),
    }
