"""Column types that keep money and time exact on both PostgreSQL and SQLite.

``Money`` is a ``Decimal`` with two places. PostgreSQL stores it as ``NUMERIC(18,2)``.
SQLite has no exact decimal type (its ``NUMERIC`` affinity turns 0.10 into a float), so
there it is an ``INTEGER`` number of fen. Because both representations are exact,
arithmetic done in SQL (``committed + :amount <= amount``) is exact too: a bound
parameter compared with or added to a ``Money`` column takes the ``Money`` type and is
converted the same way.

A value with more than two decimal places is refused rather than rounded: rounding
belongs to the award computation (half-up, once, at the end), never to storage.

``UtcDateTime`` is a timezone-aware timestamp stored in UTC: ``TIMESTAMP WITH TIME
ZONE`` on PostgreSQL, a naive UTC ``DATETIME`` string on SQLite (whose fixed-width
format sorts chronologically, which cursor pagination relies on).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.db.bounds import MONEY_COLUMN_LIMIT, MONEY_PRECISION, MONEY_SCALE

CENT = Decimal(1).scaleb(-MONEY_SCALE)  # 0.01
FEN_PER_YUAN: int = 10**MONEY_SCALE
# NUMERIC(18,2) holds at most 16 digits before the point; SQLite gets the same limit so
# a value that PostgreSQL would refuse is refused everywhere.
MONEY_LIMIT = MONEY_COLUMN_LIMIT

# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON (text) elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")

_SCALING_OPERATORS = frozenset(
    {operators.mul, operators.truediv, operators.floordiv, operators.mod}
)


def to_money(value: Decimal | int) -> Decimal:
    """Validate ``value`` as an amount of yuan and return it with exactly two places.

    Raises ``TypeError`` for a float or bool (a float has already lost the fen) and
    ``ValueError`` for NaN/Infinity, more than two decimal places, or a value outside
    ``NUMERIC(18,2)``.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"Money must be a Decimal or an int, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"Money must be finite, got {amount}")
    # Range first: quantizing a huge value would overflow the decimal context.
    if abs(amount) >= MONEY_LIMIT:
        raise ValueError(f"Money out of range for NUMERIC(18,2): {amount}")
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise ValueError(f"Money has more than 2 decimal places: {amount}")
    return quantized


class Money(TypeDecorator[Decimal]):
    """Yuan as ``Decimal`` with two places; ``NUMERIC(18,2)`` or integer fen on SQLite."""

    impl = Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_money(value)
        if dialect.name == "sqlite":
            return int(amount * FEN_PER_YUAN)
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            # SUM() over an INTEGER column stays an integer; anything else is a bug.
            if not isinstance(value, int):
                raise TypeError(f"expected integer fen from SQLite, got {value!r}")
            return (Decimal(value) / FEN_PER_YUAN).quantize(CENT)
        return Decimal(value).quantize(CENT)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        # `Budget.amount >= 5` or `committed + :x`: the literal is money too, so it
        # must be converted to fen on SQLite like the column it meets.
        if op in _SCALING_OPERATORS:
            # `amount * 2` would bind 2 as 200 fen on SQLite, and SQLite's integer
            # division truncates: scale money in Python (Decimal), not in SQL.
            raise TypeError("multiply or divide Money in Python, not in SQL")
        return self


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware ``datetime`` stored in UTC; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime needs a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"UtcDateTime needs a timezone-aware datetime, got {value!r}")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite's DATETIME string has no offset; store naive UTC.
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # psycopg returns the session's time zone; normalise so equality and isoformat
        # are the same whichever server setting is in force.
        return value.astimezone(UTC)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the default for every timestamp column)."""
    return datetime.now(UTC)
