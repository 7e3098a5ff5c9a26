"""The projection of many profiles whose values come column by column.

``app.db.fact_columns.project`` walks one profile document at a time: about 20 µs a
profile, most of the Python an import spends writing. An import checked column by
column (``app.services.import_columnwise``) already holds each fact's values as one
list per file column, every value where the profile's path puts it, so each column
is read once as a list by its fact's own reader, and the rows assembled from the lists.
What comes out is what ``project`` gives for each row's document, row for row: a
value the columns cannot hold makes that row inexact, and the years come in the order
the document has them (the file's order of the first cell filled for each).

A file whose columns this cannot place exactly (a year fact of several parts, a
path through a fact, a whole mapping in one column…) is not planned
(``plan`` gives ``None``) and each row is projected from its document as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from itertools import islice, repeat
from operator import itemgetter
from typing import Any

from app.db.fact_columns import (
    _READ,
    _TREE,
    _YEAR_FACTS,
    KEYED,
    NUMBER_TYPES,
    WORD,
    YEARLY,
    Fact,
    Inexact,
    _recognition,
)
from app.db.projection import PROJECTION, Projected, columns_of

_FACTS_TABLE, _YEARS_TABLE, _SCORES_TABLE, _RECOGNITIONS_TABLE = PROJECTION
#: The facts table's columns after the owner and its two flags (``exact``, ``recognitions_listed``).
_FACT_COLUMNS = columns_of(_FACTS_TABLE)[3:]
#: The years table's columns after the owner and the year.
_YEAR_COLUMNS = columns_of(_YEARS_TABLE)[2:]
_RECOGNITION_VALUES = itemgetter(*columns_of(_RECOGNITIONS_TABLE)[1:])
_INEXACT: Projected = ((False, False, *(None for _ in _FACT_COLUMNS)), [], [], [])


class _Unplanned(Exception):
    """A column this module cannot project exactly as ``project`` does."""


def _year_key(key: str) -> int:
    """The year of a ``years`` key, as ``project`` reads it (else not planned)."""
    if not (key.isascii() and key.isdigit() and str(int(key)) == key and int(key) < 2**31):
        raise _Unplanned(key)
    return int(key)


def _scalar_fact(path: tuple[str, ...]) -> Fact | None:
    """The fact of the profile itself at ``path``; ``None`` if the projection ignores the
    path (``project`` walks past keys it does not know)."""
    node: Any = _TREE
    for depth, part in enumerate(path):
        found = node.get(part)
        if found is None:
            return None
        last = depth == len(path) - 1
        if type(found) is Fact:
            if not last:
                raise _Unplanned(".".join(path))  # a value inside a fact's value
            return found
        if last:
            raise _Unplanned(".".join(path))  # a whole mapping in one cell
        node = found
    return None  # (an empty path: never a column's)


class _Year:
    """The columns of one year: its facts' (by slot of the years table), its scores'
    (by fact and word, in the order ``project`` reads them) and the others (which make
    the year's entry as well, as in a document)."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.columns: list[int] = []  # all of them, in the file's order
        self.facts: list[tuple[int, int, Fact]] = []  # (column, slot, fact)
        self.scores: list[tuple[int, Fact, str]] = []  # (column, fact, word)

    def add(self, column: int, name: tuple[str, ...]) -> None:
        self.columns.append(column)
        keyed = next((f for f in KEYED if f.path == name[0]), None)
        if keyed is not None:
            if len(name) != 2 or "." in name[1] or len(name[1]) > WORD:
                raise _Unplanned(".".join(name))  # (``project``: an inexact row)
            self.scores.append((column, keyed, name[1]))
            self.scores.sort(key=lambda score: KEYED.index(score[1]))  # (stable)
            return
        fact = _YEAR_FACTS.get(name[0])
        if len(name) != 1 or (fact is None and any(f.parts[0] == name[0] for f in YEARLY)):
            raise _Unplanned(".".join(name))  # a year fact of several parts
        if fact is not None:
            self.facts.append((column, _YEAR_COLUMNS.index(fact.column), fact))


class ColumnProjection:
    """Where each column of a file goes in the projection, found once per file."""

    def __init__(self, paths: Sequence[tuple[str, ...]]) -> None:
        self.scalars: list[tuple[int, int, Fact]] = []  # (column, slot, fact)
        self.recognitions: int | None = None
        years: dict[str, _Year] = {}  # in the order of each year's first column
        self.year_columns: list[int] = []  # the columns of every year, in the file's order
        for column, path in enumerate(paths):
            if path[0] == "recognitions":
                if len(path) != 1:
                    raise _Unplanned(".".join(path))
                self.recognitions = column
            elif path[0] == "years":
                if len(path) < 3:
                    raise _Unplanned(".".join(path))
                if path[1] not in years:
                    years[path[1]] = _Year(_year_key(path[1]))
                years[path[1]].add(column, path[2:])
                self.year_columns.append(column)
            else:
                fact = _scalar_fact(path)
                if fact is not None:
                    self.scalars.append((column, _FACT_COLUMNS.index(fact.column), fact))
        self.years = list(years.values())

    @classmethod
    def plan(cls, paths: Sequence[tuple[str, ...]]) -> ColumnProjection | None:
        """The plan for a file's column paths, or ``None`` to project row by row."""
        try:
            return cls(paths)
        except _Unplanned:
            return None

    def rows(
        self, columns: Sequence[Sequence[Any]], taken: Sequence[bool], absent: Any
    ) -> list[Projected | None]:
        """Each taken row's projection (``None`` for the others) from its columns'
        values (in the order of the paths planned; ``absent`` marks an empty cell)."""
        count = len(taken)
        inexact = [False] * count
        facts: list[Any] = [repeat(None)] * len(_FACT_COLUMNS)
        for column, slot, fact in self.scalars:
            facts[slot] = _read(fact, columns[column], taken, absent, inexact)
        recognitions: Sequence[Any] = (
            [absent] * count if self.recognitions is None else columns[self.recognitions]
        )
        listed = [held is not absent for held in recognitions]
        fact_rows = list(zip(repeat(True), listed, *facts, strict=False))
        years = [self._year(year, columns, taken, absent, inexact) for year in self.years]
        scored = any(year.scores for year in self.years)
        out: list[Projected | None] = [None] * count
        for k in range(count):
            if not taken[k]:
                continue
            try:
                held = [] if not listed[k] else _recognitions(recognitions[k])
            except Inexact:
                inexact[k] = True
            if inexact[k]:
                out[k] = _INEXACT
                continue
            present = [
                (first[k], made[k], scores) for first, made, scores in years if first[k] is not None
            ]
            if len(present) > 1:
                present.sort(key=itemgetter(0))  # the document's order: each year's first cell
            out[k] = (
                fact_rows[k],
                [row for _, row, _ in present],
                [score for _, _, scores in present for score in scores[k]] if scored else [],
                held,
            )
        return out

    def _year(
        self,
        year: _Year,
        columns: Sequence[Sequence[Any]],
        taken: Sequence[bool],
        absent: Any,
        inexact: list[bool],
    ) -> tuple[list[int | None], list[tuple[Any, ...]], list[Sequence[tuple[Any, ...]]]]:
        """Per row: where its first filled cell of the year is in the file (``None``: the
        row has no entry for the year), the year's row of the projection, and its scores'."""
        count = len(taken)
        first: list[int | None] = [None] * count
        for column in reversed(year.columns):
            where = self.year_columns.index(column)
            first = [
                where if value is not absent else before
                for value, before in zip(columns[column], first, strict=True)
            ]
        slots: list[Any] = [repeat(None)] * len(_YEAR_COLUMNS)
        for column, slot, fact in year.facts:
            slots[slot] = _read(fact, columns[column], taken, absent, inexact)
        made = list(islice(zip(repeat(year.year), *slots, strict=False), count))
        if not year.scores:
            return first, made, [()] * count
        names = [(year.year, fact.path, word) for _column, fact, word in year.scores]
        values = [
            _read(fact, columns[column], taken, absent, inexact) for column, fact, _ in year.scores
        ]
        scores: list[Sequence[tuple[Any, ...]]] = [
            [(*name, value) for name, value in zip(names, row, strict=True) if value is not None]
            for row in zip(*values, strict=True)
        ]
        return first, made, scores


def _read(
    fact: Fact, values: Sequence[Any], taken: Sequence[bool], absent: Any, inexact: list[bool]
) -> list[Any]:
    """A column's values as ``project`` reads them (``None`` for an empty cell); a value
    the columns cannot hold marks its row inexact."""
    at_once = _read_at_once(fact, values, absent)
    if at_once is not None:
        return at_once
    read = _READ[fact.type]
    out: list[Any] = []
    for k, value in enumerate(values):
        if value is None or value is absent or not taken[k]:
            out.append(None)  # (a row left out may hold anything)
            continue
        try:
            out.append(read(fact, value))
        except Inexact:
            inexact[k] = True
            out.append(None)
    return out


def _read_at_once(fact: Fact, values: Sequence[Any], absent: Any) -> list[Any] | None:
    """The column's values read together, when all of them are of the one plain kind a
    profile gives for the fact and the columns hold each exactly (most columns); else
    ``None``, to read them one by one."""
    filled = [v for v in values if v is not absent and v is not None]
    kinds = set(map(type, filled))
    if not kinds:
        return [None] * len(values)
    if len(kinds) > 1:
        return None
    (kind,) = kinds
    read: list[Any] | None
    if fact.type in NUMBER_TYPES:
        read = _numbers(fact.scale, filled, kind)
    elif fact.type == "boolean":
        read = filled if kind is bool else None
    elif fact.type == "date":
        read = _days(filled) if kind is str else None
    else:
        read = filled if kind is str and max(map(len, filled)) <= WORD else None
    if read is None or len(filled) == len(values):
        return read
    each = iter(read)
    return [None if v is absent or v is None else next(each) for v in values]


#: A column of plain decimal text with ``places`` places, a line each (``_PLAIN``'s
#: digits, any of Unicode's, as ``int`` reads them).
_PLAIN_LINES = [
    re.compile(r"(?:-?\d{1,15}" + (rf"\.\d{{{places}}}" if places else "") + r"\n)*")
    for places in range(7)
]
_DAY_LINES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n)*")


def _numbers(scale: int, filled: list[Any], kind: type) -> list[int] | None:
    """``_number`` of each value: integers below 10**15, or decimal text that all has
    the same number of places, at most the scale's."""
    if kind is int:
        if not -(10**15) < min(filled) <= max(filled) < 10**15:
            return None
        return filled if scale == 0 else [v * 10**scale for v in filled]
    if kind is not str:
        return None
    first = filled[0]
    places = len(first) - first.index(".") - 1 if "." in first else 0
    if places > scale:
        return None
    text = "\n".join(filled)
    if text.count("\n") != len(filled) - 1 or not _PLAIN_LINES[places].fullmatch(text + "\n"):
        return None  # (a value holding a line break is one by one)
    numbers = list(map(int, text.replace(".", "").split("\n")))
    return numbers if places == scale else [n * 10 ** (scale - places) for n in numbers]


def _days(filled: list[str]) -> list[date] | None:
    """``_day`` of each value: ISO dates (a text ``date.fromisoformat`` reads otherwise
    or a day that does not exist: one by one)."""
    text = "\n".join(filled)
    if text.count("\n") != len(filled) - 1 or not _DAY_LINES.fullmatch(text + "\n"):
        return None
    try:
        return list(map(date.fromisoformat, filled))
    except ValueError:
        return None


def _recognitions(held: Any) -> list[tuple[Any, ...]]:
    return [_RECOGNITION_VALUES(_recognition(i, item)) for i, item in enumerate(held)]
