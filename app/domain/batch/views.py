"""Tables derived from a ``ProfileTable``: a subset of its rows, a row as a profile.

``RowsView`` serves ``Context.subset``: formulas and costly clauses are computed only
for the rows that reach them, so their columns are gathered lazily. ``rebuild_profile``
turns a row of a generated table back into a profile dict for the per-profile engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

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
    from_day_number,
)


@dataclass(eq=False)
class RowsView(ProfileTable):
    """Some rows of a table; columns are gathered from the parent when first read."""

    parent: ProfileTable | None = None
    rows: npt.NDArray[np.intp] | None = None

    def _source(self) -> tuple[ProfileTable, npt.NDArray[np.intp]]:
        assert self.parent is not None and self.rows is not None
        return self.parent, self.rows

    def num_column(self, path: str) -> NumColumn:
        if path not in self.num:
            parent, rows = self._source()
            col = parent.num_column(path)
            inexact = None if col.inexact is None else col.inexact[rows]
            self.num[path] = NumColumn(
                col.value[rows], col.scale, col.known[rows], inexact, col.maxabs, col.nonneg
            )
        return self.num[path]

    def find_num(self, path: str) -> NumColumn | None:
        parent, _ = self._source()
        return None if parent.find_num(path) is None else self.num_column(path)

    def cat_column(self, path: str) -> CatColumn:
        if path not in self.cat:
            parent, rows = self._source()
            col = parent.cat_column(path)
            self.cat[path] = CatColumn(col.codes[rows], col.vocab)
        return self.cat[path]

    def date_column(self, path: str) -> DateColumn:
        if path not in self.date:
            parent, rows = self._source()
            col = parent.date_column(path)
            self.date[path] = DateColumn(
                col.days[rows], col.known[rows], col.year[rows], col.month[rows]
            )
        return self.date[path]

    def recognition_column(self) -> RecognitionColumn:
        if self.recognitions is None:
            parent, rows = self._source()
            rec = parent.recognition_column()
            position = np.full(parent.n, -1, dtype=np.int64)
            position[rows] = np.arange(len(rows))
            keep = position[rec.row] >= 0
            self.recognitions = RecognitionColumn(
                rec.known[rows],
                position[rec.row[keep]].astype(np.int32),
                rec.kind[keep],
                rec.kinds,
                rec.level[keep],
                rec.levels,
                rec.granted[keep],
                rec.expires[keep],
            )
        return self.recognitions

    def profile(self, row: int) -> Mapping[str, Any]:
        parent, rows = self._source()
        return parent.profile(int(rows[row]))


def rebuild_profile(table: ProfileTable, row: int) -> dict[str, Any]:
    """A profile dict holding exactly what the columns say about one row.

    The per-profile engine reads the same facts from it, so rows of a generated table
    can be explained or re-evaluated. (Fields the catalog does not read are absent.)
    """
    profile: dict[str, Any] = {}
    for path, num in table.num.items():
        if num.known[row]:
            value = Decimal(int(num.value[row])).scaleb(-num.scale)
            _put(profile, path, f"{value:f}")
    for path, cat in table.cat.items():
        code = int(cat.codes[row])
        if code != MISSING_CODE and not _has(profile, path):
            word: Any = {TRUE_CODE: True, FALSE_CODE: False}.get(code)
            _put(profile, path, cat.vocab[code] if code >= 0 else word)
    for path, dates in table.date.items():
        if dates.known[row]:
            _put(profile, path, from_day_number(int(dates.days[row])).isoformat())
    rec = table.recognitions
    if rec is not None and rec.known[row]:
        items = []
        for i in np.flatnonzero(rec.row == row):
            item: dict[str, Any] = {"kind": rec.kinds[int(rec.kind[i])]}
            if rec.level[i] >= 0:
                item["level"] = rec.levels[int(rec.level[i])]
            for name, days in (("granted_on", rec.granted[i]), ("expires_on", rec.expires[i])):
                if days != NO_DATE:
                    item[name] = from_day_number(int(days)).isoformat()
            items.append(item)
        profile["recognitions"] = items
    return profile


def _put(profile: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = profile
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _has(profile: Mapping[str, Any], path: str) -> bool:
    node: Any = profile
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True
