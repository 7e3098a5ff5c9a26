"""Building a ``ProfileTable`` from profile dicts, with ``Facts``' exact semantics.

Each value is read the way ``app.domain.facts.Facts`` reads it (a path through
mappings, ``null`` is missing; ``as_decimal`` for numbers, ``date.fromisoformat`` for
dates), so a column says exactly what the per-profile engine would see. This is a
Python loop over the profiles: it is the ingestion step, not the evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from app.domain.batch.columns import (
    FALSE_CODE,
    LIMIT,
    MAX_SCALE,
    MISSING_CODE,
    NO_DATE,
    TRUE_CODE,
    CatColumn,
    DateColumn,
    NumColumn,
    ProfileTable,
    RecognitionColumn,
    Spec,
    day_number,
)
from app.domain.facts import as_day
from app.domain.money import as_decimal

_MISSING = object()
_PLAIN = re.compile(r"-?\d{1,18}(?:\.(\d{1,9}))?\Z")
_INT_FAST = 10**18


def table_from_profiles(
    profiles: Sequence[Mapping[str, Any]], specs: Iterable[Spec]
) -> ProfileTable:
    """Columns for ``specs`` (see ``required_columns``); keeps the dicts for fallbacks.

    A spec ``("years.*.x", "num")`` stands for ``years.<y>.x`` of every year some
    profile has an entry for.
    """
    profiles = list(profiles)
    years = _year_keys(profiles)
    table = ProfileTable(len(profiles), year_keys=frozenset(years), profiles=profiles)
    for path, view in _expand(specs, years):
        if view == "rec":
            table.recognitions = _recognitions(profiles)
            continue
        values = [_get(p, path.split(".")) for p in profiles]
        if view == "num":
            table.num[path] = _num(values)
        elif view == "cat":
            table.cat[path] = cat_column(values)
        else:
            table.date[path] = _date(values)
    return table


def _expand(specs: Iterable[Spec], years: set[int]) -> list[Spec]:
    out: dict[Spec, None] = {}
    for path, view in specs:
        if path.startswith("years.*."):
            rest = path[len("years.*.") :]
            out.update({(f"years.{y}.{rest}", view): None for y in sorted(years)})
        else:
            out[(path, view)] = None
    return list(out)


def _year_keys(profiles: Sequence[Mapping[str, Any]]) -> set[int]:
    """Years named by ASCII digit keys, as ``first_time_above`` reads them."""
    years: set[int] = set()
    for profile in profiles:
        entries = profile.get("years")
        if isinstance(entries, dict):
            years.update(int(y) for y in entries if str(y).isascii() and str(y).isdigit())
    return years


def _get(profile: Mapping[str, Any], parts: list[str]) -> Any:
    node: Any = profile
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _MISSING
    return _MISSING if node is None else node


def scaled(number: Decimal) -> tuple[int, int] | None:
    """``(digits, decimals)`` with ``number == digits / 10**decimals``, exactly.

    ``None`` when it needs more than ``MAX_SCALE`` decimals. (Not ``normalize()``: that
    rounds to the context's 28 digits.)
    """
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if not any(digits):
        return 0, 0
    ds = list(digits)
    while exponent < 0 and len(ds) > 1 and ds[-1] == 0:
        ds.pop()
        exponent += 1
    if exponent < -MAX_SCALE:
        return None
    value = int("".join(map(str, ds)) or "0") * 10 ** max(exponent, 0)
    return (-value if sign else value), max(-exponent, 0)


def _num(values: list[Any]) -> NumColumn:
    n = len(values)
    parsed: list[tuple[int, int] | None] = []
    known = np.zeros(n, dtype=bool)
    inexact = np.zeros(n, dtype=bool)
    for i, raw in enumerate(values):
        # Fast path for what profiles hold (money strings like "48000000.00", counts):
        # the same digits and decimals ``scaled`` finds, without building a Decimal.
        if type(raw) is str and (plain := _PLAIN.match(raw)):
            known[i] = True
            parsed.append((int(raw.replace(".", "")), len(plain.group(1) or "")))
            continue
        if type(raw) is int and -_INT_FAST < raw < _INT_FAST:
            known[i] = True
            parsed.append((raw, 0))
            continue
        number = None if raw is _MISSING else as_decimal(raw)
        if number is None:
            parsed.append(None)
            continue
        known[i] = True
        exact = scaled(number)
        if exact is None:
            inexact[i] = True
        parsed.append(exact)
    scale = max((p[1] for p in parsed if p is not None), default=0)
    value = np.zeros(n, dtype=np.int64)
    for i, p in enumerate(parsed):
        if p is None:
            continue
        v = p[0] * 10 ** (scale - p[1])
        if abs(v) >= LIMIT:
            inexact[i] = True
        else:
            value[i] = v
    return NumColumn(value, scale, known, inexact if inexact.any() else None)


def cat_column(values: Sequence[Any], missing: object = _MISSING) -> CatColumn:
    """Words and yes/no values as codes; ``missing`` (an object, compared by identity)
    marks a row without the fact."""
    vocab: dict[str, int] = {}
    codes = np.empty(len(values), dtype=np.int32)
    for i, raw in enumerate(values):
        if raw is missing:
            codes[i] = MISSING_CODE
        elif raw is True:
            codes[i] = TRUE_CODE
        elif raw is False:
            codes[i] = FALSE_CODE
        else:
            codes[i] = vocab.setdefault(str(raw), len(vocab))
    return CatColumn(codes, tuple(vocab))


def _date(values: list[Any]) -> DateColumn:
    days = np.zeros(len(values), dtype=np.int32)
    known = np.zeros(len(values), dtype=bool)
    for i, raw in enumerate(values):
        day = as_day(raw)
        if day is not None:
            days[i], known[i] = day_number(day), True
    return DateColumn.of(days, known)


def _recognitions(profiles: Sequence[Mapping[str, Any]]) -> RecognitionColumn:
    known = np.zeros(len(profiles), dtype=bool)
    items: list[tuple[str, int, Any, int, int]] = []
    for i, profile in enumerate(profiles):
        held = profile.get("recognitions")
        if not isinstance(held, list):
            continue
        known[i] = True
        for item in held:
            if isinstance(item, Mapping) and isinstance(item.get("kind"), str):
                granted, expires = as_day(item.get("granted_on")), as_day(item.get("expires_on"))
                items.append(
                    (
                        item["kind"],
                        i,
                        item.get("level"),
                        NO_DATE if granted is None else day_number(granted),
                        NO_DATE if expires is None else day_number(expires),
                    )
                )
    kinds = tuple(sorted({it[0] for it in items}))
    levels = tuple(sorted({it[2] for it in items if isinstance(it[2], str)}))
    items.sort(key=lambda it: (kinds.index(it[0]), it[1]))
    return RecognitionColumn(
        known,
        np.array([it[1] for it in items], dtype=np.int32),
        np.array([kinds.index(it[0]) for it in items], dtype=np.int32),
        kinds,
        np.array(
            [levels.index(it[2]) if isinstance(it[2], str) else -1 for it in items], dtype=np.int16
        ),
        levels,
        np.array([it[3] for it in items], dtype=np.int32),
        np.array([it[4] for it in items], dtype=np.int32),
    )
