"""Money: yuan as ``Decimal``, rounded to the fen half-up exactly once per award."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, getcontext

FEN = Decimal("0.01")
ZERO = Decimal("0")


def to_fen(amount: Decimal) -> Decimal:
    """Round to the fen, half-up (the rounding Chinese finance rules use)."""
    # Fix (tests/unit): under the default 28-digit context, quantize raised
    # InvalidOperation for amounts of 10^26 yuan and more; give it the digits it needs.
    digits = max(getcontext().prec, amount.adjusted() + 3)
    return amount.quantize(FEN, rounding=ROUND_HALF_UP, context=Context(prec=digits))


def as_decimal(value: object) -> Decimal | None:
    """A number from a profile or catalog as ``Decimal``; ``None`` if it is not one.

    Booleans are not numbers here even though Python treats them as ints: a profile
    that says ``"employees": true`` has not told us a head count.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if plausible(value) else None
    if isinstance(value, int):
        number = Decimal(value)
        return number if plausible(number) else None
    if isinstance(value, float):
        # Only reachable from hand-built profiles; str() keeps the digits a person typed.
        return as_decimal(str(value))
    if isinstance(value, str):
        if not value or not (value[0].isdigit() or value[0] in "+-. "):
            return None  # a word, not a number: skip the costly failed parse
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if plausible(number) else None
    return None


def plausible(number: Decimal) -> bool:
    """Finite and of a size money or a count can have: 1e300 yuan is a typing error,
    and arithmetic on it would overflow rather than settle anything."""
    return number.is_finite() and -30 <= number.adjusted() <= 30


def yuan(amount: Decimal) -> str:
    """The contract's money string: two places, no exponent."""
    return f"{to_fen(amount):.2f}"
