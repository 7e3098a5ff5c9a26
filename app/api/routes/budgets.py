"""Budgets per policy, fiscal year and payer: what is set, committed, paid and left."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from app.api.auth import ActorDep
from app.api.deps import CatalogDep, SessionDep
from app.api.errors import responses
from app.api.schemas.bounded import BudgetId, PayerFilter, PolicyId
from app.api.schemas.ledger import (
    BudgetAdjust,
    BudgetCreate,
    BudgetList,
    BudgetOut,
    UtilisationList,
)
from app.services import budgets as service
from app.services.access import require_reader, require_writer

router = APIRouter(prefix="/budgets", tags=["budgets"])

PolicyFilter = Annotated[PolicyId | None, Query()]
YearFilter = Annotated[int | None, Query(ge=2000, le=2100)]


@router.get("", response_model=BudgetList, responses=responses(401, 403, 422))
def list_budgets(
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    policy_id: PolicyFilter = None,
    fiscal_year: YearFilter = None,
    payer: Annotated[PayerFilter | None, Query()] = None,
) -> dict[str, Any]:
    """Budgets the key may see: amount, committed, disbursed, released and remaining."""
    require_reader(actor, "auditor", "portal")
    found = service.visible_budgets(
        session, catalog, actor, policy_id=policy_id, fiscal_year=fiscal_year, payer=payer
    )
    return {"items": [service.budget_json(b) for b in found]}


@router.get("/utilisation", response_model=UtilisationList, responses=responses(401, 403, 422))
def utilisation(
    session: SessionDep,
    catalog: CatalogDep,
    actor: ActorDep,
    fiscal_year: YearFilter = None,
    policy_id: PolicyFilter = None,
) -> dict[str, Any]:
    """Budget utilisation by policy and payer."""
    require_reader(actor, "auditor", "portal")
    items = []
    for b in service.visible_budgets(
        session, catalog, actor, policy_id=policy_id, fiscal_year=fiscal_year, payer=None
    ):
        used = b.committed + b.disbursed
        share = (used / b.amount).quantize(Decimal("0.0001")) if b.amount else Decimal("0")
        items.append(
            {
                "policy_id": b.policy_id,
                "payer_jurisdiction": b.payer_jurisdiction,
                "fiscal_year": b.fiscal_year,
                "amount": b.amount,
                "committed": b.committed,
                "disbursed": b.disbursed,
                "remaining": b.amount - used,
                "utilisation": f"{share:f}",
            }
        )
    return {"items": items}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BudgetOut,
    responses=responses(401, 403, 409, 422),
)
def create_budget(
    body: BudgetCreate, session: SessionDep, catalog: CatalogDep, actor: ActorDep
) -> dict[str, Any]:
    """Set a budget (admin). Budgets also come from the catalog when first needed."""
    require_writer(actor, "admin")
    budget = service.create_budget(
        session,
        policy_id=body.policy_id,
        fiscal_year=body.fiscal_year,
        payer_level=body.payer_level,
        payer_jurisdiction=body.payer_jurisdiction,
        amount=body.amount,
        actor=actor,
        catalog=catalog,
    )
    return service.budget_json(budget)


@router.put("/{budget_id}", response_model=BudgetOut, responses=responses(401, 403, 404, 409, 422))
def adjust_budget(
    budget_id: Annotated[BudgetId, Path()], body: BudgetAdjust, session: SessionDep, actor: ActorDep
) -> dict[str, Any]:
    """Change a budget's amount (admin, audited); never below what is committed and disbursed."""
    require_writer(actor, "admin")
    return service.budget_json(
        service.adjust_budget(session, budget_id, body.amount, body.reason, actor)
    )
