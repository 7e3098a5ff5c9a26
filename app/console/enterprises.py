"""Enterprises in the signed-in key's scope: the list with search and filters, and one
enterprise's entitlements, awards and profile versions side by side.

Reads go through the API's own route functions, so the console shows exactly what
the same key would get from the API, scope checks included; computing an award calls
the award service after the same checks as ``POST /v1/awards``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import CatalogDep, SessionDep
from app.api.routes import awards as awards_api
from app.api.routes import enterprises as enterprises_api
from app.api.schemas.bounded import EnterpriseId, KindFilter, PageCursor, PlaceFilter, PolicyId
from app.console.pages import FiscalYear, QueryText, blank_or, render, see_other
from app.console.profile_form import form_values
from app.console.session import ConsoleActor, CsrfChecked
from app.db import repositories as repo
from app.services import awards as award_service
from app.services import enterprises as service
from app.services.access import check_enterprise, require_writer
from app.services.errors import Invalid

router = APIRouter()

PAGE = 25


@router.get("/enterprises", response_class=HTMLResponse)
def enterprise_list(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    q: Annotated[QueryText | None, Query()] = None,
    district: Annotated[PlaceFilter | None, Query()] = None,
    kind: Annotated[KindFilter | None, Query()] = None,
    cursor: Annotated[PageCursor | None, Query()] = None,
) -> Response:
    page = service.list_enterprises(
        session,
        actor,
        catalog,
        district=district or None,
        city=None,
        kind=kind or None,
        cursor=cursor or None,
        limit=PAGE,
        search=(q or "").strip() or None,
    )
    districts = sorted(
        (d for p in catalog.vocabulary.places for c in p.cities for d in c.districts),
        key=lambda d: d.value,
    )
    return render(
        request,
        "enterprises.html",
        {
            "items": page.items,
            "next_cursor": page.next_cursor,
            "q": q or "",
            "district": district or "",
            "kind": kind or "",
            "districts": districts,
            "kinds": catalog.vocabulary.enumerations.get("kind", []),
        },
        actor=actor,
    )


def _versions_side_by_side(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per fact path, one column per version; rows whose value changed marked."""
    flat = [form_values(v["profile"]) for v in versions]
    paths = sorted({path for values in flat for path in values})
    return [
        {
            "path": path,
            "values": [values.get(path, "") for values in flat],
            "changed": len({values.get(path, "") for values in flat}) > 1,
        }
        for path in paths
    ]


@router.get("/enterprises/{enterprise_id}", response_class=HTMLResponse)
def enterprise_page(
    request: Request,
    enterprise_id: EnterpriseId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    fiscal_year: Annotated[QueryText | None, Query()] = None,
) -> Response:
    year = blank_or(FiscalYear, fiscal_year, "fiscal_year") or date.today().year - 1
    enterprise = enterprises_api.get_enterprise(enterprise_id, session, catalog, actor)
    answer = enterprises_api.entitlements(enterprise_id, year, session, catalog, actor)
    awards = awards_api.list_awards(session, catalog, actor, enterprise_id=enterprise_id)
    versions = enterprises_api.list_versions(enterprise_id, session, catalog, actor)["items"]
    return render(
        request,
        "enterprise.html",
        {
            "enterprise": enterprise,
            "answer": answer,
            "fiscal_year": year,
            "awards": awards["items"],
            "versions": versions,
            "version_rows": _versions_side_by_side(versions),
            "may_write": actor.role in ("admin", "portal"),
        },
        actor=actor,
    )


@router.post("/enterprises/{enterprise_id}/awards", dependencies=[CsrfChecked])
def compute_award(
    enterprise_id: EnterpriseId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    policy_id: Annotated[PolicyId, Form()],
    fiscal_year: Annotated[int, Form(ge=2000, le=2100)],
    amount: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Compute and store the award, as ``POST /v1/awards`` does; then show it. ``amount``
    is for a policy whose amount the reviewing department sets (within its cap)."""
    require_writer(actor)
    try:
        requested = Decimal(amount.replace(",", "")) if amount.strip() else None
    except InvalidOperation:
        raise Invalid(
            "the amount is not a number of yuan", errors=[{"pointer": "amount", "detail": amount}]
        ) from None
    check_enterprise(actor, catalog, repo.get_enterprise(session, enterprise_id), enterprise_id)
    award = award_service.compute_award(
        session,
        catalog,
        enterprise_id=enterprise_id,
        policy_id=policy_id,
        fiscal_year=fiscal_year,
        amount=requested,
        actor=actor,
    )
    return see_other(f"/awards/{award.id}")
