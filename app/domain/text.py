"""Small helpers that turn numbers and paths into bilingual reason text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Context, Decimal, getcontext
from functools import lru_cache
from typing import Any

from app.domain.results import Bilingual

OP_SYMBOL = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "ge": "≥",
    "lt": "<",
    "le": "≤",
    "in": "∈",
    "not_in": "∉",
}
LEVEL_ZH = {"national": "国家级", "provincial": "省级", "municipal": "市级", "district": "区级"}


_UNIT, _SHARE = Decimal(1), Decimal("0.0001")


@lru_cache(maxsize=64)
def _context(precision: int) -> Context:
    """A context of that precision (otherwise the defaults), made once: ``show`` runs
    for most numbers an answer states."""
    return Context(prec=precision)


def show(value: Any) -> str:
    """A value as a person reads it: no exponents, shares to four places."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        whole = value == value.to_integral_value()
        if whole and value.is_finite() and (value or not value.is_signed()):
            # Most numbers an answer states are whole (yuan, heads, counts): their
            # digits as an int writes them, without a context or a quantize (a -0 keeps
            # its sign below, as quantize writes it).
            return str(int(value))
        # Fix (tests/unit): quantize under the default 28-digit context raised
        # InvalidOperation for large profile numbers (e.g. 1e30); give it enough digits.
        wide = _context(max(getcontext().prec, value.adjusted() + 6))
        if whole:
            return f"{value.quantize(_UNIT, context=wide):f}"
        return f"{value.quantize(_SHARE, context=wide).normalize(wide):f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if value is None:
        return "—"
    return str(value)


def unknown_detail(missing: Sequence[str]) -> Bilingual:
    paths = ", ".join(missing)
    return Bilingual(f"(尚缺:{paths})", f" (not known: {paths})")
