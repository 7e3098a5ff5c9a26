"""A chunk of the fact projection as the batch engine's ``ProfileTable``.

The columns say what ``app.domain.batch.build.table_from_profiles`` would read from
the profile documents (a test holds the two equal); rows the per-profile engine must
settle get their profile rebuilt from the projection (``ProjectedProfiles``), which
holds every fact of the vocabulary exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from app.db.fact_columns import KEYED, NUMBER_TYPES, SCALAR, YEARLY, Fact
from app.db.repositories.projected import Chunk
from app.db.repositories.projected_copy import SENTINEL, IntColumn
from app.domain.batch.build import cat_column
from app.domain.batch.columns import (
    FALSE_CODE,
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

_SCALAR = {f.path: f for f in SCALAR}
_YEARLY = {f.path: f for f in YEARLY}
_KEYED = {f.path: f for f in KEYED}


class NotProjected(Exception):
    """The engine asks for a column the projection does not hold that way."""


def table_from_chunk(chunk: Chunk, specs: Iterable[Spec]) -> ProfileTable:
    years = sorted(set(chunk.years["year"]))
    table = ProfileTable(chunk.n, year_keys=frozenset(years), profiles=ProjectedProfiles(chunk))
    owned = _Owned(chunk)
    for path, view in _expand(specs, years):
        if view == "rec":
            table.recognitions = _recognitions(chunk)
            continue
        fact, values = _values(chunk, path, owned)
        if view == "num" and fact.type in NUMBER_TYPES:
            table.num[path] = _num(values, fact.scale)
        elif view == "cat" and fact.type not in NUMBER_TYPES and fact.type != "date":
            table.cat[path] = _words(values)
        elif view == "cat":
            # A number or a date compared as a word (``in: [1, 2, 3]`` reads a number
            # fact both ways): the text the document would hold, as the builder reads it.
            table.cat[path] = cat_column([_raw(fact, v) for v in values], None)
        elif view == "date" and fact.type == "date":
            table.date[path] = _date(values)
        else:
            raise NotProjected(f"{path} read as {view}")
    return table


def _expand(specs: Iterable[Spec], years: list[int]) -> list[Spec]:
    out: dict[Spec, None] = {}
    for path, view in specs:
        if path.startswith("years.*."):
            out.update({(f"years.{y}.{path[8:]}", view): None for y in years})
        else:
            out[(path, view)] = None
    return list(out)


class _Owned:
    """The rows of the chunk's yearly tables grouped once by what a path selects (a
    year; a year, name and key), so each column reads only its own rows."""

    def __init__(self, chunk: Chunk) -> None:
        self.years = _grouped(list(chunk.years["year"]))
        s = chunk.scores
        self.scores = _grouped(list(zip(s["year"], s["name"], s["key"], strict=True)))
        self.year_rows = np.asarray(chunk.years["row"], dtype=np.intp)
        self.score_rows = np.asarray(s["row"], dtype=np.intp)


def _grouped(keys: list[Any]) -> dict[Any, npt.NDArray[np.intp]]:
    found: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        found.setdefault(key, []).append(i)
    return {key: np.asarray(at, dtype=np.intp) for key, at in found.items()}


def _values(chunk: Chunk, path: str, owned: _Owned) -> tuple[Fact, Sequence[Any]]:
    """The fact at ``path`` for every row (``None``: missing)."""
    if path in _SCALAR:
        fact = _SCALAR[path]
        return fact, chunk.facts[fact.column]
    parts = path.split(".")
    if parts[0] != "years" or len(parts) < 3 or not parts[1].isdigit():
        raise NotProjected(path)
    year, rest = int(parts[1]), ".".join(parts[2:])
    if rest in _YEARLY:
        fact = _YEARLY[rest]
        at = owned.years.get(year)
        return fact, _scattered(chunk.n, chunk.years[fact.column], owned.year_rows, at)
    name, _, key = rest.partition(".")
    if name not in _KEYED or not key:
        raise NotProjected(path)
    at = owned.scores.get((year, name, key))
    return _KEYED[name], _scattered(chunk.n, chunk.scores["value"], owned.score_rows, at)


def _scattered(
    n: int, column: Sequence[Any], rows: npt.NDArray[np.intp], at: npt.NDArray[np.intp] | None
) -> Sequence[Any]:
    """Per row of the chunk, the value of ``column`` at the entries ``at`` it owns
    (``rows``: each entry's owner; a later entry wins)."""
    if isinstance(column, IntColumn):
        out = np.full(n, SENTINEL, dtype=np.int64)
        if at is not None:
            out[rows[at]] = column.array[at]
        return IntColumn(out, column.kind)
    values: list[Any] = [None] * n
    for i in () if at is None else at.tolist():
        values[rows[i]] = column[i]
    return values


def _num(values: Sequence[Any], scale: int) -> NumColumn:
    if isinstance(values, IntColumn):
        known = values.known
        value = np.where(known, values.array, 0)
    else:
        known = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
        value = np.fromiter(
            (0 if v is None else v for v in values), dtype=np.int64, count=len(values)
        )
    # The fewest decimals that hold every value, as the builder from documents keeps.
    while scale > 0 and len(value) and not np.any(value % 10):
        value //= 10
        scale -= 1
    if not len(value):
        scale = 0
    return NumColumn(value, scale, known, None)


def _date(values: Sequence[Any]) -> DateColumn:
    if isinstance(values, IntColumn):
        known = values.known
        return DateColumn.of(np.where(known, values.array, 0).astype(np.int32), known)
    known = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    days = np.fromiter(
        (0 if v is None else day_number(v) for v in values), dtype=np.int32, count=len(values)
    )
    return DateColumn.of(days, known)


def _words(values: Sequence[Any]) -> CatColumn:
    """``cat_column(values, None)`` for words and yes/no values, without a loop over
    the rows where the projection read them as numbers."""
    if isinstance(values, IntColumn):
        codes = np.where(
            values.known, np.where(values.array != 0, TRUE_CODE, FALSE_CODE), MISSING_CODE
        )
        return CatColumn(codes.astype(np.int32), ())
    return cat_column(values, None)


def _recognitions(chunk: Chunk) -> RecognitionColumn:
    listed = chunk.facts["recognitions_listed"]
    if isinstance(listed, IntColumn):
        known = listed.known & (listed.array != 0)
    else:
        known = np.asarray(listed, dtype=bool)
    r = chunk.recognitions
    items = sorted(
        zip(
            r["kind"],
            r["row"],
            r["position"],
            r["level"],
            r["granted_on"],
            r["expires_on"],
            strict=True,
        )
    )
    kinds = tuple(sorted({it[0] for it in items}))
    levels = tuple(sorted({it[3] for it in items if it[3] is not None}))
    kind_code = {k: i for i, k in enumerate(kinds)}
    level_code = {k: i for i, k in enumerate(levels)}

    def days(value: date | None) -> int:
        return NO_DATE if value is None else day_number(value)

    return RecognitionColumn(
        known,
        np.array([it[1] for it in items], dtype=np.int32),
        np.array([kind_code[it[0]] for it in items], dtype=np.int32),
        kinds,
        np.array([-1 if it[3] is None else level_code[it[3]] for it in items], dtype=np.int16),
        levels,
        np.array([days(it[4]) for it in items], dtype=np.int32),
        np.array([days(it[5]) for it in items], dtype=np.int32),
    )


class ProjectedProfiles(Sequence[Mapping[str, Any]]):
    """Each row's profile rebuilt from the projection, when the engine asks for it."""

    def __init__(self, chunk: Chunk) -> None:
        self.chunk = chunk
        self._owned: dict[str, dict[int, list[int]]] | None = None
        # The engine asks for a row once per policy it cannot vectorise: rebuild it once.
        self._built: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return self.chunk.n

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Mapping[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.chunk.n))]
        built = self._built.get(index)
        if built is None:
            built = self._built[index] = self.profile(index)
        return built

    def profile(self, row: int) -> dict[str, Any]:
        chunk = self.chunk
        if self._owned is None:
            self._owned = {}
            for name in ("years", "scores", "recognitions"):
                by_row: dict[int, list[int]] = {}
                for i, owner in enumerate(getattr(chunk, name)["row"]):
                    by_row.setdefault(owner, []).append(i)
                self._owned[name] = by_row
        profile: dict[str, Any] = {}
        for fact in SCALAR:
            _put(profile, fact.path, _raw(fact, chunk.facts[fact.column][row]))
        if chunk.facts["recognitions_listed"][row]:
            r = chunk.recognitions
            held = sorted(self._owned["recognitions"].get(row, []), key=lambda i: r["position"][i])
            profile["recognitions"] = [_recognition(r, i) for i in held]
        y = chunk.years
        for i in self._owned["years"].get(row, []):
            entry = profile.setdefault("years", {}).setdefault(str(y["year"][i]), {})
            for fact in YEARLY:
                _put(entry, fact.path, _raw(fact, y[fact.column][i]))
        s = chunk.scores
        for i in self._owned["scores"].get(row, []):
            entry = profile.setdefault("years", {}).setdefault(str(s["year"][i]), {})
            keyed = entry.setdefault(s["name"][i], {})
            keyed[s["key"][i]] = _raw(_KEYED[s["name"][i]], s["value"][i])
        return profile


def _recognition(r: Mapping[str, Sequence[Any]], i: int) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": r["kind"][i]}
    for name in ("level", "granted_on", "expires_on"):
        value = r[name][i]
        if value is not None:
            item[name] = value.isoformat() if isinstance(value, date) else value
    return item


def _raw(fact: Fact, value: Any) -> Any:
    if value is None:
        return None
    if fact.type in NUMBER_TYPES:
        return f"{Decimal(value).scaleb(-fact.scale):f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _put(profile: dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    *parents, last = path.split(".")
    node = profile
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
