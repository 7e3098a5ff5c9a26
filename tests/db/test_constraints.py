"""What the database refuses on its own, whatever the application does."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Award, Budget, Enterprise
from tests.db.support import any_uscc, audit_entry, next_seq, refused_by

APPEND_ONLY = "audit_log is append-only"


def test_second_live_award_for_same_enterprise_policy_year_is_refused(
    db_session: Session, make_award: Callable[..., Award]
) -> None:
    first = make_award()
    enterprise = db_session.get_one(Enterprise, first.enterprise_id)
    with refused_by("uq_awards_live_enterprise_policy_year"), db_session.begin_nested():
        make_award(enterprise)
    # Another year, or another enterprise, is a different award.
    make_award(enterprise, fiscal_year=2025)
    make_award()


@pytest.mark.parametrize("dead", ["rejected", "revoked", "superseded"])
def test_new_award_allowed_once_the_live_one_is_dead(
    db_session: Session, make_award: Callable[..., Award], dead: str
) -> None:
    first = make_award()
    enterprise = db_session.get_one(Enterprise, first.enterprise_id)
    first.status = dead
    db_session.flush()
    second = make_award(enterprise)
    assert second.id != first.id
    # ...and the dead one cannot come back to life beside it.
    with refused_by("uq_awards_live_enterprise_policy_year"), db_session.begin_nested():
        first.status = "approved"
        db_session.flush()


def test_award_status_must_be_known(db_session: Session, make_award: Callable[..., Award]) -> None:
    with refused_by("ck_awards_status_known"), db_session.begin_nested():
        make_award(status="paid")


def test_budget_check_refuses_overspend(
    db_session: Session, make_budget: Callable[..., Budget]
) -> None:
    budget = make_budget(amount="1000.00", committed=Decimal("600.00"))
    budget.disbursed = Decimal("400.00")  # exactly the amount: allowed
    db_session.flush()
    with refused_by("ck_budgets_not_overspent"), db_session.begin_nested():
        budget.disbursed = Decimal("400.01")  # one fen over
        db_session.flush()
    db_session.refresh(budget)
    # A bulk UPDATE that bypasses the ORM is refused just the same.
    overspend = update(Budget).where(Budget.id == budget.id).values(committed=Budget.amount)
    with refused_by("ck_budgets_not_overspent"), db_session.begin_nested():
        db_session.execute(overspend.execution_options(synchronize_session=False))


@pytest.mark.parametrize("column", ["committed", "disbursed", "released", "amount"])
def test_budget_figures_cannot_be_negative(
    db_session: Session, make_budget: Callable[..., Budget], column: str
) -> None:
    with refused_by(f"ck_budgets_{column}_nonneg"), db_session.begin_nested():
        make_budget(**{column: Decimal("-0.01")})


def test_reserve_budget_never_overspends(
    db_session: Session, make_budget: Callable[..., Budget]
) -> None:
    budget = make_budget(amount="0.30")
    assert repo.reserve_budget(db_session, budget.id, Decimal("0.10"))
    assert repo.reserve_budget(db_session, budget.id, Decimal("0.20"))
    assert not repo.reserve_budget(db_session, budget.id, Decimal("0.01"))
    assert budget.committed == Decimal("0.30")  # the loaded object was refreshed
    with pytest.raises(ValueError):
        repo.reserve_budget(db_session, budget.id, Decimal("-1.00"))


def test_duplicate_uscc_is_refused(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    uscc = any_uscc()
    make_enterprise(uscc=uscc)
    with refused_by("uq_enterprises_uscc"), db_session.begin_nested():
        make_enterprise(uscc=uscc)
    make_enterprise(uscc=None)
    make_enterprise(uscc=None)  # several enterprises may lack a USCC


def test_audit_appends_from_the_same_head_collide(db_session: Session) -> None:
    seq = next_seq(db_session)
    repo.add_audit_entry(db_session, audit_entry(seq))
    with refused_by("pk_audit_log"), db_session.begin_nested():
        repo.add_audit_entry(db_session, audit_entry(seq, prev_hash="f" * 64))


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"],
)
def test_audit_log_refuses_update_and_delete(db_session: Session, statement: str) -> None:
    repo.add_audit_entry(db_session, audit_entry(next_seq(db_session)))
    with pytest.raises(DBAPIError, match=APPEND_ONLY), db_session.begin_nested():
        db_session.execute(text(statement))


def test_audit_log_refuses_truncate(db_session: Session, db_backend: str) -> None:
    # SQLite has no TRUNCATE; its equivalent, an unqualified DELETE (the "truncate
    # optimisation"), is switched off by the presence of the delete trigger.
    statement = "TRUNCATE audit_log" if db_backend == "postgres" else "DELETE FROM audit_log"
    repo.add_audit_entry(db_session, audit_entry(next_seq(db_session)))
    with pytest.raises(DBAPIError, match=APPEND_ONLY), db_session.begin_nested():
        db_session.execute(text(statement))


def test_audit_tampering_needs_the_triggers_off(
    db_session: Session,
    allow_audit_tampering: Callable[[Session], AbstractContextManager[None]],
) -> None:
    seq = next_seq(db_session)
    repo.add_audit_entry(db_session, audit_entry(seq))
    forge = text("UPDATE audit_log SET actor = 'mallory' WHERE seq = :seq")
    with allow_audit_tampering(db_session):
        db_session.execute(forge, {"seq": seq})
    actor = text("SELECT actor FROM audit_log WHERE seq = :seq")
    assert db_session.execute(actor, {"seq": seq}).scalar_one() == "mallory"
    with pytest.raises(DBAPIError, match=APPEND_ONLY), db_session.begin_nested():
        db_session.execute(text("DELETE FROM audit_log"))  # the triggers are back
