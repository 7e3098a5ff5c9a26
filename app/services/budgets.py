"""Annual budgets per policy, fiscal year and payer; money moves between
committed, disbursed and released, and approved plus disbursed never exceeds the budget.

A budget is created from the catalog (the version's ``budget.annual``) the first time
an award needs it, or by an admin; an admin may adjust it, never below what is
already committed or disbursed. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.db.models import Budget
from app.domain.engine import parameters, select_version
from app.domain.expressions import constant
from app.services import audit
from app.services.access import can_use_budget
from app.services.actors import Actor
from app.services.errors import Conflict, Invalid, NotFound


def catalog_amount(catalog: Catalog, policy_id: str, fiscal_year: int) -> Decimal | None:
    policy = catalog.policies.get(policy_id)
    version = select_version(policy, fiscal_year) if policy else None
    if version is None or version.budget is None:
        return None
    return constant(version.budget.annual, parameters(version))


def ensure_budget(
    session: Session,
    catalog: Catalog,
    *,
    policy_id: str,
    fiscal_year: int,
    payer_level: str,
    payer_jurisdiction: str,
    actor: Actor,
) -> Budget:
    amount = catalog_amount(catalog, policy_id, fiscal_year)
    if amount is None:
        existing = repo.find_budget(
            session,
            policy_id=policy_id,
            fiscal_year=fiscal_year,
            payer_jurisdiction=payer_jurisdiction,
        )
        if existing is None:
            raise Conflict(
                f"no budget for {policy_id} in {fiscal_year} paid by {payer_jurisdiction}: "
                "an admin must set one (POST /v1/budgets)"
            )
        return existing
    existing = repo.find_budget(
        session, policy_id=policy_id, fiscal_year=fiscal_year, payer_jurisdiction=payer_jurisdiction
    )
    if existing is not None:
        return existing
    # Creating: the audit lock first, as every writer that may wait on a new row does
    # (a racing creator of the same budget waits on our insert while we would wait on it).
    audit.serialize(session)
    budget, created = repo.insert_budget_if_absent(
        session,
        policy_id=policy_id,
        fiscal_year=fiscal_year,
        payer_level=payer_level,
        payer_jurisdiction=payer_jurisdiction,
        amount=amount,
    )
    if created:
        audit.record(
            session,
            actor=actor.label,
            action="budget.created",
            object_type="budget",
            object_id=budget.id,
            payload={
                "policy_id": policy_id,
                "fiscal_year": fiscal_year,
                "payer": payer_jurisdiction,
                "amount": f"{amount:.2f}",
                "source": "catalog",
            },
        )
    return budget


def _check_payer(catalog: Catalog, level: str, jurisdiction: str) -> None:
    """The payer is a place of the catalog at the level given (portals spend by place)."""
    place = catalog.places.get(jurisdiction)
    if place is None:
        raise Invalid(
            f"`{jurisdiction}` is not a place of the catalog",
            errors=[{"pointer": "/payer_jurisdiction", "detail": "not a known place"}],
        )
    if place.level != level:
        raise Invalid(
            f"`{jurisdiction}` is a {place.level}, not a {level}",
            errors=[{"pointer": "/payer_level", "detail": f"`{jurisdiction}` is a {place.level}"}],
        )


def create_budget(
    session: Session,
    *,
    policy_id: str,
    fiscal_year: int,
    payer_level: str,
    payer_jurisdiction: str,
    amount: Decimal,
    actor: Actor,
    catalog: Catalog,
) -> Budget:
    if policy_id not in catalog.policies:
        raise Invalid(
            f"no policy `{policy_id}`",
            errors=[{"pointer": "/policy_id", "detail": "unknown policy"}],
        )
    _check_payer(catalog, payer_level, payer_jurisdiction)
    budget, created = repo.insert_budget_if_absent(
        session,
        policy_id=policy_id,
        fiscal_year=fiscal_year,
        payer_level=payer_level,
        payer_jurisdiction=payer_jurisdiction,
        amount=amount,
    )
    if not created:
        raise Conflict(
            f"a budget for {policy_id} in {fiscal_year} paid by {payer_jurisdiction} exists: "
            f"adjust it with PUT /v1/budgets/{budget.id}",
            existing_id=budget.id,
        )
    audit.record(
        session,
        actor=actor.label,
        action="budget.created",
        object_type="budget",
        object_id=budget.id,
        payload={
            "policy_id": policy_id,
            "fiscal_year": fiscal_year,
            "payer": payer_jurisdiction,
            "amount": f"{amount:.2f}",
            "source": "admin",
        },
    )
    return budget


def adjust_budget(
    session: Session, budget_id: str, amount: Decimal, reason: str, actor: Actor
) -> Budget:
    # The budget's row lock, then the audit chain's at commit: the order of approvals.
    budget = repo.lock_budget(session, budget_id)
    if budget is None:
        raise NotFound(f"no budget {budget_id}")
    before = budget.amount
    if not repo.set_budget_amount(session, budget_id, amount):
        raise Conflict(
            f"{amount:.2f} is below what is committed and disbursed "
            f"({budget.committed + budget.disbursed:.2f})"
        )
    audit.record(
        session,
        actor=actor.label,
        action="budget.adjusted",
        object_type="budget",
        object_id=budget.id,
        payload={"before": f"{before:.2f}", "after": f"{amount:.2f}", "reason": reason},
    )
    refreshed = repo.get_budget(session, budget_id)
    assert refreshed is not None
    return refreshed


def visible_budgets(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    *,
    policy_id: str | None,
    fiscal_year: int | None,
    payer: str | None,
) -> Sequence[Budget]:
    budgets = repo.list_budgets(
        session,
        policy_id=policy_id,
        fiscal_year=fiscal_year,
        payer_jurisdictions=[payer] if payer else None,
    )
    if actor.role in ("admin", "auditor", "system"):
        return budgets
    return [b for b in budgets if can_use_budget(actor, catalog, b.payer_jurisdiction)]


def budget_json(budget: Budget) -> dict[str, Any]:
    return {
        "id": budget.id,
        "policy_id": budget.policy_id,
        "fiscal_year": budget.fiscal_year,
        "payer": {"level": budget.payer_level, "jurisdiction": budget.payer_jurisdiction},
        "amount": budget.amount,
        "committed": budget.committed,
        "disbursed": budget.disbursed,
        "released": budget.released,
        "remaining": budget.amount - budget.committed - budget.disbursed,
        "updated_at": budget.updated_at,
    }
