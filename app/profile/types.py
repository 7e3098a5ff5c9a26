"""Field types shared by the request and response schemas: money, USCC, dates, words.

Money follows the contract: a string or an integer in requests (a float with more than
two places, NaN, Infinity or a negative amount is refused), a string with two places
in responses, ``Decimal`` in between.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from operator import mul
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import BaseModel as _BaseModel

from app.db import bounds
from app.profile.bounded import MapsTo, slug_pattern

# Two places, as in the NUMERIC(18,2) columns; see app.db.bounds for why a request
# carries two digits fewer before the point than a column holds.
MONEY_MAX = bounds.MONEY_INPUT_MAX
_DIGITS, _PLACES = bounds.MONEY_INPUT_DIGITS, bounds.MONEY_SCALE
MONEY_PATTERN = rf"^\d{{1,{_DIGITS}}}(\.\d{{1,{_PLACES}}})?$"
SIGNED_MONEY_PATTERN = rf"^-?\d{{1,{_DIGITS}}}(\.\d{{1,{_PLACES}}})?$"
# The longest word of the catalog's vocabulary (industries, recognition kinds, places).
WORD_LENGTH = 64
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class StrictModel(_BaseModel):
    """Requests refuse unknown fields, so a misspelt fact is an error, not silence."""

    model_config = ConfigDict(extra="forbid")


_FEN = Decimal(1).scaleb(-_PLACES)
_MONEY_RE = re.compile(MONEY_PATTERN, re.ASCII)
_SIGNED_MONEY_RE = re.compile(SIGNED_MONEY_PATTERN, re.ASCII)


def _money(signed: bool) -> Any:
    plain = _SIGNED_MONEY_RE if signed else _MONEY_RE

    def parse(value: Any) -> Decimal:
        # The common case first: a plain decimal string (or an int) as the pattern
        # allows is finite, has at most two places and the right sign, so only the
        # magnitude is left to check. Anything else takes the long way, which says
        # what is wrong with it. A profile carries about 45 amounts.
        text = value if type(value) is str else str(value) if type(value) is int else None
        if text is not None and plain.fullmatch(text):
            amount = Decimal(text)
            if abs(amount) <= MONEY_MAX:
                return amount.quantize(_FEN)
        if isinstance(value, bool):
            raise ValueError('an amount is a string like "1000.00" or an integer, not true/false')
        if isinstance(value, float):
            value = repr(value)
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError('an amount is a string like "1000.00" or an integer')
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f'{value!r} is not an amount: write it like "1000.00"') from None
        if not amount.is_finite():
            raise ValueError("NaN and Infinity are not amounts")
        if amount.as_tuple().exponent < -_PLACES:  # type: ignore[operator]
            raise ValueError("an amount has at most two decimal places (fen)")
        if not signed and amount < 0:
            raise ValueError("this amount cannot be negative")
        if abs(amount) > MONEY_MAX:
            raise ValueError(f"an amount is at most {MONEY_MAX}")
        # FIX (API tests): `Decimal()` also reads "1e3", "+5", " 5", "1_000" and non-ASCII
        # digits, none of which the documented pattern (a plain decimal) allows.
        if not re.fullmatch(SIGNED_MONEY_PATTERN if signed else MONEY_PATTERN, value, re.ASCII):
            raise ValueError(f'{value!r} is not an amount: write it like "1000.00"')
        return amount.quantize(_FEN)

    return parse


#: A column of amounts as ``_money``'s pattern allows them, one a line.
_MONEY_LINES = re.compile(rf"(?:\d{{1,{_DIGITS}}}(?:\.\d{{1,{_PLACES}}})?\n)*", re.ASCII)
_SIGNED_MONEY_LINES = re.compile(rf"(?:-?\d{{1,{_DIGITS}}}(?:\.\d{{1,{_PLACES}}})?\n)*", re.ASCII)


def plain_amounts(values: list[Any], *, signed: bool) -> list[Decimal] | None:
    """What ``MoneyIn`` (``SignedMoneyIn``) makes of each value, all at once, when every
    one is text in the pattern and within the bounds (the common case of a column of an
    import); ``None`` otherwise, for each value to be validated on its own."""
    if not values or set(map(type, values)) != {str}:
        return None
    lines = "\n".join(values) + "\n"
    pattern = _SIGNED_MONEY_LINES if signed else _MONEY_LINES
    if lines.count("\n") != len(values) or pattern.fullmatch(lines) is None:
        return None
    amounts = list(map(Decimal, values))
    if max(map(abs, amounts)) > MONEY_MAX:
        return None
    return [amount.quantize(_FEN) for amount in amounts]


_MONEY_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": MONEY_PATTERN},
        {"type": "integer", "minimum": 0, "maximum": int(MONEY_MAX)},
    ],
    "description": "yuan: a decimal string with at most two places, or an integer",
}
_SIGNED_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": SIGNED_MONEY_PATTERN},
        {"type": "integer", "minimum": -int(MONEY_MAX), "maximum": int(MONEY_MAX)},
    ],
    "description": "yuan, may be negative (a loss)",
}

MoneyIn = Annotated[Decimal, BeforeValidator(_money(False)), WithJsonSchema(_MONEY_SCHEMA)]
SignedMoneyIn = Annotated[Decimal, BeforeValidator(_money(True)), WithJsonSchema(_SIGNED_SCHEMA)]
MoneyOut = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": SIGNED_MONEY_PATTERN, "examples": ["500000.00"]}),
]


def _decimal(minimum: Decimal, maximum: Decimal, places: int) -> Any:
    def parse(value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError('a number is a decimal string like "12.5" or a number')
        try:
            number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError("NaN and Infinity are not numbers here")
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        if number.as_tuple().exponent < -places:  # type: ignore[operator]
            raise ValueError(f"at most {places} decimal places")
        return number

    return parse


def _number_schema(minimum: Decimal, maximum: Decimal, places: int, what: str) -> dict[str, Any]:
    frac = rf"(\.\d{{1,{places}}})?"
    return {
        "anyOf": [
            {"type": "string", "pattern": rf"^\d+{frac}$"},
            {"type": "integer", "minimum": int(minimum), "maximum": int(maximum)},
        ],
        "description": f"{what}, from {minimum} to {maximum}",
    }


Share = Annotated[
    Decimal,
    BeforeValidator(_decimal(Decimal(0), Decimal(1), 6)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(0(\.\d{1,6})?|1(\.0{1,6})?)$",
            "description": 'a share from 0 to 1, e.g. "0.12"',
        }
    ),
]
Score = Annotated[
    Decimal,
    BeforeValidator(_decimal(Decimal(0), Decimal(100), 2)),
    WithJsonSchema(_number_schema(Decimal(0), Decimal(100), 2, "a score")),
]
Area = Annotated[
    Decimal,
    BeforeValidator(_decimal(Decimal(0), Decimal(10_000_000), 2)),
    WithJsonSchema(_number_schema(Decimal(0), Decimal(10_000_000), 2, "square metres")),
]
# FIX (API tests, schemathesis): the bounds checked by `_bounded` were missing from the
# OpenAPI schema, which then promised that any integer is accepted.
Count = Annotated[
    int,
    Strict(),
    AfterValidator(lambda v: _bounded(v, 0, 10_000_000)),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 10_000_000}),
]
Years = Annotated[
    int,
    Strict(),
    AfterValidator(lambda v: _bounded(v, 0, 200)),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 200}),
]
# FIX (API tests): FastAPI validates the parsed JSON body in Python mode, where a strict
# `date` refuses the ISO string "2021-03-15" that every client sends (the contract's own
# example was a 422). `_iso_day` turns a YYYY-MM-DD string into a date first; anything
# else (numbers, timestamps) still meets the strict date and is refused.
Day = Annotated[
    date,
    Strict(),
    BeforeValidator(lambda v: _iso_day(v)),
    AfterValidator(lambda d: _in_era(d)),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2021-03-15"]}),
]
FiscalYear = Annotated[
    int,
    Strict(),
    AfterValidator(lambda v: _bounded(v, 2000, 2100)),
    WithJsonSchema({"type": "integer", "minimum": 2000, "maximum": 2100}),  # FIX: as Count
    MapsTo("awards.fiscal_year", "budgets.fiscal_year", "matching_runs.fiscal_year"),
]
Word = Annotated[str, StringConstraints(max_length=WORD_LENGTH, pattern=slug_pattern(WORD_LENGTH))]


def _bounded(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}")
    return value


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a calendar date (YYYY-MM-DD)") from None
    return value


def _in_era(day: date) -> date:
    if not date(1900, 1, 1) <= day <= date(2100, 12, 31):
        raise ValueError("a date between 1900-01-01 and 2100-12-31")
    return day


_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_CHARACTERS = frozenset(USCC_ALPHABET)


def uscc_check_character(first17: str) -> str:
    # A dict, not USCC_ALPHABET.index, and maps rather than a generator: an import
    # checks every row's code.
    if len(first17) != len(_USCC_WEIGHTS):
        # zip's own error, as before
        total = sum(_USCC_VALUES[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    try:
        total = sum(map(mul, map(_USCC_VALUES.__getitem__, first17), _USCC_WEIGHTS))
    except KeyError:
        raise ValueError("not a USCC character") from None
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _uscc(value: str) -> str:
    code = value.strip().upper()
    if (
        len(code) == bounds.USCC
        and _USCC_CHARACTERS.issuperset(code)
        and uscc_check_character(code[:17]) == code[17]
    ):
        return code  # the common case; what is wrong with any other code is said below
    if len(code) != bounds.USCC:
        raise ValueError("a Unified Social Credit Code has 18 characters (GB 32100-2015)")
    bad = sorted({ch for ch in code if ch not in USCC_ALPHABET})
    if bad:
        raise ValueError(
            f"characters {''.join(bad)} are not used in a Unified Social Credit Code "
            "(digits and capitals except I, O, S, V, Z)"
        )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise ValueError(
            f"the check character is {code[17]} but the first 17 characters give {expected}: "
            "the code is mistyped"
        )
    return code


Uscc = Annotated[
    str,
    AfterValidator(_uscc),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": bounds.USCC,
            "maxLength": bounds.USCC,
            "pattern": "^[0-9A-HJ-NP-RTUWXY]{18}$",
            "examples": ["91320115MA1W9KXT49"],
            "description": "Unified Social Credit Code; the check character is verified",
        }
    ),
    MapsTo("enterprises.uscc"),
]
