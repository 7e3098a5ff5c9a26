"""Money: fen rounding half-up, strict number parsing, the contract's yuan strings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from app.domain.money import FEN, ZERO, as_decimal, to_fen, yuan
from app.profile.types import MoneyIn, SignedMoneyIn, plain_amounts


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("0.0049999", "0.00"),
        ("2.675", "2.68"),  # a float would make this 2.67; Decimal keeps it half-up
        ("1.115", "1.12"),
        ("1.125", "1.13"),  # half-up, not banker's rounding (which gives 1.12)
        ("2.665", "2.67"),
        ("-0.005", "-0.01"),  # half-up rounds away from zero on ties
        ("-2.675", "-2.68"),
        ("-2.674", "-2.67"),
        ("10", "10.00"),
        ("1E+5", "100000.00"),
        ("0", "0.00"),
    ],
)
def test_to_fen_rounds_half_up(raw: str, expected: str) -> None:
    result = to_fen(Decimal(raw))
    assert result == Decimal(expected)
    assert str(result) == expected
    assert result.as_tuple().exponent == -2


def test_to_fen_is_idempotent() -> None:
    once = to_fen(Decimal("123.456"))
    assert to_fen(once) == once == Decimal("123.46")


def test_to_fen_of_large_amounts_keeps_every_digit() -> None:
    assert str(to_fen(Decimal("12345678901234567890123456.785"))) == "12345678901234567890123456.79"
    assert str(to_fen(Decimal("1E+30"))) == "1" + "0" * 30 + ".00"


def test_constants() -> None:
    assert Decimal("0.01") == FEN
    assert ZERO == 0


@pytest.mark.parametrize("value", [True, False])
def test_as_decimal_bool_is_not_a_number(value: bool) -> None:
    assert as_decimal(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
    ],
)
def test_as_decimal_rejects_non_finite(value: object) -> None:
    assert as_decimal(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", Decimal("12.50")),
        ("  7 ", Decimal("7")),
        ("-3.2", Decimal("-3.2")),
        ("1e3", Decimal("1000")),
        ("0", Decimal("0")),
        (0, Decimal("0")),
        (42, Decimal("42")),
        (-5, Decimal("-5")),
        (10**30, Decimal(10**30)),
        (Decimal("1.10"), Decimal("1.10")),
        (0.1, Decimal("0.1")),  # str() keeps what a person typed, not the binary float
        (2.675, Decimal("2.675")),
    ],
)
def test_as_decimal_numbers(value: object, expected: Decimal) -> None:
    result = as_decimal(value)
    assert isinstance(result, Decimal)
    assert result == expected


def test_as_decimal_keeps_string_digits() -> None:
    assert str(as_decimal("12.50")) == "12.50"


@pytest.mark.parametrize(
    "value", ["", "  ", "abc", "12,5", "1.2.3", "¥100", None, [], {}, [1], {"a": 1}, object()]
)
def test_as_decimal_rejects_what_is_not_a_number(value: object) -> None:
    assert as_decimal(value) is None


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("500000"), "500000.00"),
        (Decimal("1E+6"), "1000000.00"),
        (Decimal("0.005"), "0.01"),
        (Decimal("2.675"), "2.68"),
        (Decimal("0"), "0.00"),
        (Decimal("-1.005"), "-1.01"),
        (Decimal("12345678.9"), "12345678.90"),
        (Decimal("1E-10"), "0.00"),
    ],
)
def test_yuan_formatting(amount: Decimal, expected: str) -> None:
    text = yuan(amount)
    assert text == expected
    assert "E" not in text and "e" not in text


def test_an_absurd_exponent_does_not_crash_the_engine() -> None:
    from .builders import policy, run

    formula = {"share": {"base": {"fact": "x"}, "rate": {"default": "2"}}}
    ev = run(policy(formula=formula, caps={"per_award": 100}), {"x": "9e999999"})
    # a figure no money or count can have is refused like any non-number: asked for again
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("x",)


def test_as_json_keeps_plain_values_and_still_converts_inside_plain_dicts() -> None:
    from datetime import date
    from decimal import Decimal

    from app.domain.results import as_json

    plain = {"versions": [{"uscc": "X", "version": 2, "ok": True, "share": 0.5, "none": None}]}
    assert as_json(plain) == plain
    assert as_json({1: {"amount": Decimal("1.50"), "on": date(2024, 5, 1)}}) == {
        "1": {"amount": "1.50", "on": "2024-05-01"}
    }


_AMOUNT_TEXTS = [
    "0",
    "7",
    "0012.5",
    "1234.56",
    "99999999999999.99",  # the largest
    "100000000000000",  # past it
    "-5",
    "-0",
    "-0.01",
    "1.234",
    "1e3",
    "+5",
    " 5",
    "5 ",
    "1_000",
    "١٢",
    "1,000",
    "5.",
    ".5",
    "",
    "12\n34",
    "NaN",
]


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("text", _AMOUNT_TEXTS)
def test_amounts_read_at_once_as_the_field_reads_each(text: str, signed: bool) -> None:
    field = TypeAdapter(list[(SignedMoneyIn if signed else MoneyIn) | None])
    try:
        expected = field.dump_python(field.validate_python([text]), mode="json")
    except ValidationError:
        expected = None
    got = plain_amounts([text], signed=signed)
    if got is not None:
        assert field.dump_python(got, mode="json") == expected
    # A plain amount the field takes is read at once (the rest: one by one, as before).
    plain = text.lstrip("-" if signed else "").replace(".", "", 1).isascii()
    if expected is not None and plain and text.strip() == text and "_" not in text:
        assert got is not None, text


def test_a_column_of_amounts_is_read_at_once_or_not_at_all() -> None:
    texts = ["1", "2.5", "0003.10"]
    assert plain_amounts(texts, signed=False) == [Decimal("1.00"), Decimal("2.50"), Decimal("3.10")]
    assert plain_amounts([*texts, "-1"], signed=False) is None
    assert plain_amounts([*texts, 4], signed=False) is None  # not text
    assert plain_amounts([], signed=False) is None
