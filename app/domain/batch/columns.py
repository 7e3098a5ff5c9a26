"""A population of profiles as columns: one numpy array per fact the catalog reads.

Why columns: the batch engine settles one clause for every profile at once, so each
fact must be one contiguous array, with a mask for the rows that do not give it (a
missing fact is *unknown*, never zero). The columns keep the per-profile engine's
exact semantics rather than approximating them:

* numbers (``num``) are integers scaled by ``10**scale`` (never floats), so every
  comparison and every fen is exact; a value that cannot be held that way (more than
  ``MAX_SCALE`` decimals, beyond ``LIMIT``) is flagged ``inexact`` and the engine hands
  that row to the per-profile engine;
* words and booleans (``cat``) are codes of what the per-profile engine compares:
  ``str(value)`` for words, and ``True``/``False`` kept apart from any text;
* dates (``date``) are day numbers, with their year and month;
* recognitions (``rec``) are a long table of items (owner row, kind, level, grant and
  expiry day), grouped by kind so that a clause reads only the items it asks about.

A table is built from profile dicts (``build.table_from_profiles``) or directly from
arrays (``ProfileTable.from_columns``, e.g. a synthetic population for a benchmark).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

View = Literal["num", "cat", "date", "rec"]
Spec = tuple[str, View]

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.signedinteger[Any]]

#: ``cat`` codes that are not words: absent (or ``null``), ``true``, ``false``.
MISSING_CODE, TRUE_CODE, FALSE_CODE = -1, -2, -3
#: Most decimals a ``num`` column keeps exactly; more makes the value ``inexact``.
MAX_SCALE = 9
#: Bound on every scaled integer the engine computes with (headroom below 2**63).
LIMIT = 2**62
#: Day number of "no date" in the recognition items.
NO_DATE = np.iinfo(np.int32).min
_EPOCH = date(1970, 1, 1)
_YEAR_PATH = re.compile(r"^years\.(\d+)\.")


def day_number(day: date) -> int:
    """Days since 1970-01-01: the unit of every ``date`` column."""
    return (day - _EPOCH).days


def from_day_number(days: int) -> date:
    return _EPOCH + timedelta(days=int(days))


@dataclass(frozen=True, eq=False)
class NumColumn:
    """A number per row: ``value / 10**scale`` where ``known``; 0 elsewhere."""

    value: Ints
    scale: int
    known: Bools
    #: Rows whose value is known but not representable: the engine falls back on them.
    inexact: Bools | None = None
    #: Largest ``|value|`` (over all rows): bounds the integer arithmetic statically.
    maxabs: int = field(default=-1)
    #: No value is negative (a ratio over it needs no sign check).
    nonneg: bool = False

    def __post_init__(self) -> None:
        if self.maxabs < 0:
            wide = self.value.astype(np.int64)
            top = int(np.abs(wide).max()) if len(wide) else 0
            object.__setattr__(self, "maxabs", top)
            object.__setattr__(self, "nonneg", bool(len(wide) == 0 or wide.min() >= 0))
        if self.maxabs >= LIMIT:
            raise ValueError(f"num column values must stay below 2**62 (got {self.maxabs})")


@dataclass(frozen=True, eq=False)
class CatColumn:
    """A word or boolean per row: ``vocab[code]``, or one of the negative codes."""

    codes: Ints
    vocab: tuple[str, ...]

    @property
    def known(self) -> Bools:
        known: Bools = self.codes != MISSING_CODE
        return known

    def code(self, word: str) -> int | None:
        """The code of a word, ``None`` when no row holds it."""
        try:
            return self.vocab.index(word)
        except ValueError:
            return None


@dataclass(frozen=True, eq=False)
class DateColumn:
    """A date per row as a day number, with its calendar year and month."""

    days: Ints
    known: Bools
    year: Ints
    month: Ints

    @classmethod
    def of(cls, days: Ints, known: Bools) -> DateColumn:
        stamps = np.where(known, days, 0).astype("datetime64[D]")
        years = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
        months = stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1
        return cls(days, known, years.astype(np.int32), months.astype(np.int8))


@dataclass(frozen=True, eq=False)
class RecognitionColumn:
    """Every recognition item of every row, sorted by kind.

    Items whose kind is not text are left out: no clause can match them. ``granted``
    and ``expires`` are ``NO_DATE`` when the item gives no (readable) date.
    """

    known: Bools
    row: Ints
    kind: Ints
    kinds: tuple[str, ...]
    level: Ints
    levels: tuple[str, ...]
    granted: Ints
    expires: Ints
    #: Items of kind code ``c`` are ``[starts[c], starts[c + 1])``.
    starts: Ints = field(init=False)

    def __post_init__(self) -> None:
        if len(self.kind) and np.any(np.diff(self.kind) < 0):
            raise ValueError("recognition items must be sorted by kind")
        starts = np.searchsorted(self.kind, np.arange(len(self.kinds) + 1))
        object.__setattr__(self, "starts", starts)

    def of_kind(self, kind: str) -> slice:
        if kind not in self.kinds:
            return slice(0, 0)
        code = self.kinds.index(kind)
        return slice(int(self.starts[code]), int(self.starts[code + 1]))


@dataclass(eq=False)
class ProfileTable:
    """The population: ``n`` rows, columns by fact path, and optionally the dicts."""

    n: int
    num: dict[str, NumColumn] = field(default_factory=dict)
    cat: dict[str, CatColumn] = field(default_factory=dict)
    date: dict[str, DateColumn] = field(default_factory=dict)
    recognitions: RecognitionColumn | None = None
    #: Every fiscal year some profile has a ``years`` entry for (first_time_above scans them).
    year_keys: frozenset[int] = frozenset()
    #: The profiles the table was built from; without them rows are rebuilt from columns.
    profiles: Sequence[Mapping[str, Any]] | None = None

    @classmethod
    def from_columns(
        cls,
        n: int,
        num: Mapping[str, NumColumn] | None = None,
        cat: Mapping[str, CatColumn] | None = None,
        dates: Mapping[str, DateColumn] | None = None,
        recognitions: RecognitionColumn | None = None,
    ) -> ProfileTable:
        """A table from ready arrays (e.g. a generated population); checks lengths."""
        num, cat, dates = dict(num or {}), dict(cat or {}), dict(dates or {})
        lengths = {len(c.value) for c in num.values()} | {len(c.codes) for c in cat.values()}
        lengths |= {len(c.days) for c in dates.values()}
        if recognitions is not None:
            lengths.add(len(recognitions.known))
        if lengths - {n}:
            raise ValueError(f"every column needs {n} rows, got lengths {sorted(lengths)}")
        years = frozenset(int(m.group(1)) for p in num if (m := _YEAR_PATH.match(p)))
        return cls(n, num, cat, dates, recognitions, years)

    def has(self, spec: Spec) -> bool:
        path, view = spec
        if view == "rec":
            return self.recognitions is not None
        if view == "num":
            return path in self.num
        return path in (self.cat if view == "cat" else self.date)

    def num_column(self, path: str) -> NumColumn:
        column: NumColumn = self._column(self.num, path, "num")
        return column

    def find_num(self, path: str) -> NumColumn | None:
        """The ``num`` column, or ``None`` when no row has the fact."""
        return self.num.get(path)

    def cat_column(self, path: str) -> CatColumn:
        column: CatColumn = self._column(self.cat, path, "cat")
        return column

    def date_column(self, path: str) -> DateColumn:
        column: DateColumn = self._column(self.date, path, "date")
        return column

    def recognition_column(self) -> RecognitionColumn:
        if self.recognitions is None:
            raise KeyError("the table has no recognitions column; build it with the plan's specs")
        return self.recognitions

    def _column(self, columns: Mapping[str, Any], path: str, view: str) -> Any:
        try:
            return columns[path]
        except KeyError:
            raise KeyError(
                f"the table has no {view} column for {path!r}; build it with "
                "batch.required_columns(policies, fiscal_year)"
            ) from None

    def profile(self, row: int) -> Mapping[str, Any]:
        """The row as a profile dict: the original one, or rebuilt from the columns."""
        if self.profiles is not None:
            return self.profiles[row]
        from app.domain.batch.views import rebuild_profile

        return rebuild_profile(self, row)

    def rows_between(self, start: int, stop: int) -> ProfileTable:
        """Rows ``start`` to ``stop`` as a table over views of these columns (no copies).

        The batch engine evaluates a large table a slice at a time, so its working
        arrays stay the size of a slice. Bounds computed over the whole table
        (``maxabs``) are kept: a slice is evaluated exactly as its rows are in the whole.
        """
        start, stop = max(0, min(start, self.n)), max(0, min(stop, self.n))
        stop = max(start, stop)
        cut = slice(start, stop)
        num = {
            path: NumColumn(
                c.value[cut],
                c.scale,
                c.known[cut],
                None if c.inexact is None else c.inexact[cut],
                c.maxabs,
                c.nonneg,
            )
            for path, c in self.num.items()
        }
        cat = {path: CatColumn(c.codes[cut], c.vocab) for path, c in self.cat.items()}
        dates = {
            path: DateColumn(c.days[cut], c.known[cut], c.year[cut], c.month[cut])
            for path, c in self.date.items()
        }
        rec = self.recognitions
        if rec is not None:
            # Items stay sorted by kind; only those of the slice's rows are kept.
            inside = (rec.row >= start) & (rec.row < stop)
            rec = RecognitionColumn(
                rec.known[cut],
                rec.row[inside] - rec.row.dtype.type(start),
                rec.kind[inside],
                rec.kinds,
                rec.level[inside],
                rec.levels,
                rec.granted[inside],
                rec.expires[inside],
            )
        profiles = None if self.profiles is None else _Slice(self.profiles, start, stop)
        return ProfileTable(stop - start, num, cat, dates, rec, self.year_keys, profiles)

    def take(self, rows: npt.NDArray[np.intp]) -> ProfileTable:
        """The given rows as a table whose columns are gathered when first read.

        Formulas are computed only for the rows that reach them (a few percent of a
        population): gathering their columns costs less than computing over all rows.
        """
        from app.domain.batch.views import RowsView

        return RowsView(len(rows), year_keys=self.year_keys, parent=self, rows=rows)


class _Slice(Sequence[Mapping[str, Any]]):
    """Some rows of a sequence of profiles, without copying it."""

    def __init__(self, items: Sequence[Mapping[str, Any]], start: int, stop: int) -> None:
        self.items, self.start, self.stop = items, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, row: Any) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(len(self))[row]]
        if not -len(self) <= row < len(self):
            raise IndexError(row)
        return self.items[self.start + row % len(self)]
