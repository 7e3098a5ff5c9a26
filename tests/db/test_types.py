"""Money and UtcDateTime: exact on both databases, strict about what they accept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from app.db.models import Budget, Enterprise
from app.db.types import to_money

# ------------------------------------------------------------------ without a database


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12345678901234.56"), "12345678901234.56"),
        (Decimal("0.1"), "0.10"),
        (Decimal("1.100"), "1.10"),  # trailing zeros are not extra places
        (7, "7.00"),
        (Decimal("-3.5"), "-3.50"),
    ],
)
def test_to_money_normalises_to_two_places(value: Decimal | int, expected: str) -> None:
    assert str(to_money(value)) == expected


@pytest.mark.parametrize(
    "value",
    [Decimal(v) for v in ("0.001", "1.005", "NaN", "-Infinity", "1e16", "1e40")],
)
def test_to_money_refuses_instead_of_rounding(value: Decimal) -> None:
    with pytest.raises(ValueError):
        to_money(value)


@pytest.mark.parametrize("value", [0.1, True, "1.00"])
def test_to_money_refuses_floats_and_other_types(value: object) -> None:
    with pytest.raises(TypeError):
        to_money(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------- on both databases


@pytest.mark.parametrize(
    "amount", ["12345678901234.56", "9999999999999999.99", "0.01", "0.00", "1000000.10"]
)
def test_money_round_trips_exactly(
    db_session: Session, make_budget: Callable[..., Budget], amount: str
) -> None:
    budget = make_budget(amount=amount, committed=Decimal(amount))
    db_session.expunge_all()
    loaded = db_session.get_one(Budget, budget.id)
    assert loaded.amount == Decimal(amount)
    assert str(loaded.committed) == amount  # two places, always
    assert isinstance(loaded.amount, Decimal)


def test_money_with_three_places_is_refused_at_flush(
    db_session: Session, make_budget: Callable[..., Budget]
) -> None:
    with pytest.raises(StatementError) as caught, db_session.begin_nested():
        make_budget(amount="0.001")
    assert isinstance(caught.value.orig, ValueError)


def test_money_is_stored_as_integer_fen_on_sqlite(
    db_session: Session, db_backend: str, make_budget: Callable[..., Budget]
) -> None:
    budget = make_budget(amount="1234.56")
    raw = db_session.execute(
        text("SELECT amount FROM budgets WHERE id = :id"), {"id": budget.id}
    ).scalar_one()
    assert raw == (123456 if db_backend == "sqlite" else Decimal("1234.56"))


def test_sql_arithmetic_on_money_is_exact(
    db_session: Session, make_budget: Callable[..., Budget]
) -> None:
    # 0.10 + 0.20 == 0.30 is False in binary floating point.
    budget = make_budget(amount="0.30", committed=Decimal("0.10"))
    mine = Budget.id == budget.id
    fits = select(Budget.id).where(mine, Budget.committed + Decimal("0.20") <= Budget.amount)
    assert db_session.scalars(fits).all() == [budget.id]
    too_much = select(Budget.id).where(mine, Budget.committed + Decimal("0.21") <= Budget.amount)
    assert db_session.scalars(too_much).all() == []
    total = db_session.scalar(select(func.sum(Budget.committed + Budget.amount)).where(mine))
    assert total == Decimal("0.40")


def test_money_cannot_be_scaled_in_sql() -> None:
    with pytest.raises(TypeError):
        _ = Budget.amount * 2


def test_utc_datetime_round_trips_as_utc(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2024, 3, 15, 9, 30, 0, 123456, tzinfo=beijing)
    enterprise = make_enterprise(created_at=moment)
    db_session.expunge_all()
    loaded = db_session.get_one(Enterprise, enterprise.id)
    assert loaded.created_at == moment
    assert loaded.created_at.tzinfo is UTC
    assert loaded.created_at.hour == 1  # 09:30 in Beijing is 01:30 UTC


def test_naive_datetime_is_refused(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    with pytest.raises(StatementError) as caught, db_session.begin_nested():
        make_enterprise(created_at=datetime(2024, 1, 1))
    assert isinstance(caught.value.orig, ValueError)
