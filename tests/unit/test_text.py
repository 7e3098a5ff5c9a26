"""How reasons write numbers (``app.domain.text.show``)."""

from __future__ import annotations

from decimal import Context, Decimal, getcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.text import show


def _quantized(value: Decimal) -> str:
    """The one written form of a number in a reason: whole numbers to the unit, others
    to four places without trailing zeros, with as many digits as the number needs."""
    wide = Context(prec=max(getcontext().prec, value.adjusted() + 6))
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1), context=wide):f}"
    return f"{value.quantize(Decimal('0.0001'), context=wide).normalize(wide):f}"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("52000000.00", "52000000"),
        ("40", "40"),
        ("-3", "-3"),
        ("0", "0"),
        ("0.00", "0"),
        ("-0", "-0"),
        ("-0.00", "-0"),
        ("1E+30", "1" + "0" * 30),
        ("-1e30", "-1" + "0" * 30),
        ("0.075", "0.075"),
        ("0.60", "0.6"),
        ("0.123456", "0.1235"),
        ("12.5", "12.5"),
    ],
)
def test_numbers_are_written_whole_or_to_four_places(value: str, shown: str) -> None:
    assert show(Decimal(value)) == shown == _quantized(Decimal(value))


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**40), max_value=10**40)
    | st.integers(-(10**40), 10**40).map(Decimal)
    | st.integers(-(10**6), 10**6).map(lambda n: Decimal(n).scaleb(-2))
)
def test_a_whole_number_is_written_as_quantize_writes_it(value: Decimal) -> None:
    # Whole numbers take a shorter path than quantize; the words must not change.
    assert show(value) == _quantized(value)
