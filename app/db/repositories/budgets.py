"""Annual budgets per policy and payer.

``RESERVE`` is the only write that matters for overspending: a conditional UPDATE
whose arithmetic runs in the database (exact on both backends, see
app.db.types.Money), so two concurrent reservations cannot both pass a check made
in Python. ``reserve_budget`` runs it alone; an approval runs it with the award's
own writes (app.db.repositories.awards). The CHECK constraint
``committed + disbursed <= amount`` is the backstop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db.models import Budget, new_id
from app.db.repositories._base import add_and_flush, lock_by_id
from app.db.types import to_money, utcnow


def add_budget(session: Session, budget: Budget) -> Budget:
    return add_and_flush(session, budget)


def get_budget(session: Session, budget_id: str) -> Budget | None:
    return session.get(Budget, budget_id)


def find_budget(
    session: Session, *, policy_id: str, fiscal_year: int, payer_jurisdiction: str
) -> Budget | None:
    stmt = select(Budget).where(
        Budget.policy_id == policy_id,
        Budget.fiscal_year == fiscal_year,
        Budget.payer_jurisdiction == payer_jurisdiction,
    )
    return session.scalars(stmt).one_or_none()


def lock_budget(session: Session, budget_id: str) -> Budget | None:
    return lock_by_id(session, Budget, budget_id)


_TABLE = cast(Table, Budget.__table__)
_BUDGETS = _TABLE.c
# Built once: the statement of every approval, inside its budget's row lock. A Core
# statement on the table (not the mapped class) skips the ORM's per-call machinery.
# app.db.repositories.awards sends it with the award's own writes.
RESERVE = (
    update(_TABLE)
    .where(_BUDGETS.id == bindparam("budget_id"))
    .where(_BUDGETS.committed + _BUDGETS.disbursed + bindparam("reserve") <= _BUDGETS.amount)
    .values(committed=_BUDGETS.committed + bindparam("reserve"), updated_at=bindparam("now"))
    .returning(_BUDGETS.id)
)


def reservation(budget_id: str, amount: Decimal, now: datetime) -> dict[str, Any]:
    """The parameters of ``RESERVE``."""
    amount = to_money(amount)
    if amount < 0:
        raise ValueError(f"cannot reserve a negative amount: {amount}")
    return {"budget_id": budget_id, "reserve": amount, "now": now}


def forget_budget(session: Session, budget_id: str) -> None:
    """A ``Budget`` of this session changed by a Core statement is expired: it reloads when read."""
    loaded = session.identity_map.get(session.identity_key(Budget, budget_id))
    if loaded is not None:
        session.expire(loaded)


def reserve_budget(session: Session, budget_id: str, amount: Decimal) -> bool:
    """Add ``amount`` to ``committed`` if the budget can take it; ``False`` if not.

    Never raises for lack of funds: the caller turns ``False`` into its own error. A
    ``Budget`` of this session is expired when it changed, so it reloads when read.
    """
    params = reservation(budget_id, amount, utcnow())
    reserved = session.connection().execute(RESERVE, params).first() is not None
    if reserved:
        forget_budget(session, budget_id)
    return reserved


_ROOM = select(_BUDGETS.amount, _BUDGETS.committed, _BUDGETS.disbursed).where(
    _BUDGETS.id == bindparam("budget_id")
)


def budget_room(session: Session, budget_id: str) -> Decimal:
    """What the budget can still take, read now."""
    row = session.connection().execute(_ROOM, {"budget_id": budget_id}).one()
    room: Decimal = row.amount - row.committed - row.disbursed
    return room


_COLUMNS = {
    "committed": Budget.committed,
    "disbursed": Budget.disbursed,
    "released": Budget.released,
}


def move_budget(
    session: Session, budget_id: str, amount: Decimal, *, source: str, target: str
) -> bool:
    """Move ``amount`` from one column to another (committed → disbursed, → released…)
    in one UPDATE; ``False`` if the source column holds less than the amount."""
    amount = to_money(amount)
    src, dst = _COLUMNS[source], _COLUMNS[target]
    stmt = (
        update(Budget)
        .where(Budget.id == budget_id, src >= amount)
        .values({source: src - amount, target: dst + amount, "updated_at": utcnow()})
        .execution_options(synchronize_session="fetch")
        .returning(Budget.id)
    )
    return session.execute(stmt).first() is not None


def insert_budget_if_absent(
    session: Session,
    *,
    policy_id: str,
    fiscal_year: int,
    payer_level: str,
    payer_jurisdiction: str,
    amount: Decimal,
) -> tuple[Budget, bool]:
    """The budget for (policy, year, payer), created with ``amount`` if there was none.

    Returns the row and whether this call created it. Concurrent first approvals race
    here; ``ON CONFLICT DO NOTHING`` lets exactly one insert win without an error.
    """
    existing = find_budget(
        session, policy_id=policy_id, fiscal_year=fiscal_year, payer_jurisdiction=payer_jurisdiction
    )
    if existing is not None:
        return existing, False
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Budget)
        .values(
            id=new_id(),
            policy_id=policy_id,
            fiscal_year=fiscal_year,
            payer_level=payer_level,
            payer_jurisdiction=payer_jurisdiction,
            amount=to_money(amount),
        )
        .on_conflict_do_nothing(index_elements=["policy_id", "fiscal_year", "payer_jurisdiction"])
    )
    created = session.execute(stmt.returning(Budget.id)).first() is not None
    budget = find_budget(
        session, policy_id=policy_id, fiscal_year=fiscal_year, payer_jurisdiction=payer_jurisdiction
    )
    assert budget is not None
    return budget, created


def list_budgets(
    session: Session,
    *,
    policy_id: str | None = None,
    fiscal_year: int | None = None,
    payer_jurisdictions: Sequence[str] | None = None,
) -> Sequence[Budget]:
    stmt = select(Budget)
    if policy_id is not None:
        stmt = stmt.where(Budget.policy_id == policy_id)
    if fiscal_year is not None:
        stmt = stmt.where(Budget.fiscal_year == fiscal_year)
    if payer_jurisdictions is not None:
        stmt = stmt.where(Budget.payer_jurisdiction.in_(list(payer_jurisdictions)))
    return session.scalars(
        stmt.order_by(Budget.fiscal_year, Budget.policy_id, Budget.payer_jurisdiction)
    ).all()


def set_budget_amount(session: Session, budget_id: str, amount: Decimal) -> bool:
    """Change the budget's amount unless it would fall below what is already spoken for."""
    amount = to_money(amount)
    stmt = (
        update(Budget)
        .where(Budget.id == budget_id, Budget.committed + Budget.disbursed <= amount)
        .values(amount=amount, updated_at=utcnow())
        .execution_options(synchronize_session="fetch")
        .returning(Budget.id)
    )
    return session.execute(stmt).first() is not None
