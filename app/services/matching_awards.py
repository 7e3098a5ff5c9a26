"""Turning a matching run's eligible results into computed awards, in one step.

Each award is computed afresh from the enterprise's current profile (the run may be
older than the profile). Enterprises that already hold an award are skipped, and so
are those the payer's remaining budget can no longer cover, counting the awards
already computed or on notice against it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.db.models import Award, MatchingRun
from app.services.access import can_see_enterprise
from app.services.actors import Actor
from app.services.awards import compute_award, payer_of
from app.services.budgets import ensure_budget
from app.services.errors import Conflict, Invalid, ServiceError


def _pending(session: Session, policy_id: str, fiscal_year: int, payer: str) -> Decimal:
    # sum() keeps the column's Money type, so the fen stored on SQLite come back as yuan.
    stmt = select(func.sum(Award.amount)).where(
        Award.policy_id == policy_id,
        Award.fiscal_year == fiscal_year,
        Award.payer_jurisdiction == payer,
        Award.status.in_(("computed", "public_notice")),
    )
    total = session.scalar(stmt)
    return Decimal(total) if total is not None else Decimal("0.00")


def awards_from_run(
    session: Session, catalog: Catalog, actor: Actor, run: MatchingRun, policy_id: str
) -> dict[str, Any]:
    if run.status != "done" or run.parameters.get("kind") != "matching":
        raise Conflict("awards come from a finished matching run")
    policy = catalog.policies.get(policy_id)
    if policy is None:
        raise Invalid(
            f"no policy `{policy_id}`",
            errors=[{"pointer": "/policy_id", "detail": "unknown policy"}],
        )
    report: dict[str, Any] = defaultdict(int)
    created: list[str] = []
    room: dict[str, Decimal] = {}
    after = 0
    while True:
        results = repo.list_matching_results(
            session, run.id, policy_id=policy_id, status="eligible", after_id=after, limit=200
        )
        if not results:
            break
        after = results[-1].id
        for result in results:
            enterprise = repo.get_enterprise(session, result.enterprise_id)
            if enterprise is None or not can_see_enterprise(actor, catalog, enterprise):
                report["outside_your_area"] += 1
                continue
            if any(
                a.fiscal_year == run.fiscal_year
                for a in repo.live_awards_for(session, enterprise.id, policy_id)
            ):
                report["already_awarded"] += 1
                continue
            _, payer = payer_of(policy, enterprise)
            if payer is None:
                report["no_payer"] += 1
                continue
            if payer not in room:
                budget = ensure_budget(
                    session,
                    catalog,
                    policy_id=policy_id,
                    fiscal_year=run.fiscal_year,
                    payer_level=policy.payer.level if policy.payer else "city",
                    payer_jurisdiction=payer,
                    actor=actor,
                )
                room[payer] = (
                    budget.amount
                    - budget.committed
                    - budget.disbursed
                    - _pending(session, policy_id, run.fiscal_year, payer)
                )
            if result.amount is not None and result.amount > room[payer]:
                report["over_budget"] += 1
                continue
            try:
                award = compute_award(
                    session,
                    catalog,
                    enterprise_id=enterprise.id,
                    policy_id=policy_id,
                    fiscal_year=run.fiscal_year,
                    amount=None,
                    actor=actor,
                )
            except Conflict:
                report["already_awarded"] += 1
                continue
            except ServiceError:
                report["no_longer_eligible"] += 1
                continue
            room[payer] -= award.amount
            created.append(award.id)
    return {
        "run_id": run.id,
        "policy_id": policy_id,
        "created": len(created),
        "award_ids": created[:1000],
        "skipped": dict(report),
    }
