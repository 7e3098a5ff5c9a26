"""What one batch evaluation shares: the table, the fiscal year, memoised results.

Policies repeat clauses ("registered in Nanjing", "no serious dishonesty", the same
revenue band); a clause or expression is computed once per evaluation and shared,
keyed by what it means (paths resolved for the fiscal year, parameters resolved).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from app.domain.batch.columns import Bools, ProfileTable

T = TypeVar("T")
Bits = npt.NDArray[np.unsignedinteger[Any]]
Rows = npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class Truth:
    """Three-valued verdicts: ``t`` true, ``f`` false, neither: unknown.

    ``unsure`` marks rows the vectorised arithmetic cannot vouch for; the engine
    re-evaluates those with the per-profile engine.
    """

    t: Bools
    f: Bools
    unsure: Bools | None = None

    @property
    def u(self) -> Bools:
        return ~(self.t | self.f)


@dataclass(eq=False)
class Context:
    table: ProfileTable
    fiscal_year: int
    memo: dict[Hashable, Any] = field(default_factory=dict)
    #: For a subset: the context it was taken from, and its rows there.
    parent: Context | None = None
    rows: Rows | None = None
    #: The subsets taken from it, so that ``release`` reaches them.
    subsets: list[Context] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.table.n

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The memoised value; in a subset, gathered from an ancestor that has it."""
        if key not in self.memo:
            inherited = self._inherit(key)
            self.memo[key] = compute() if inherited is None else inherited
        result: T = self.memo[key]
        return result

    def _inherit(self, key: Hashable) -> object | None:
        if self.parent is None or self.rows is None:
            return None
        value = self.parent.memo.get(key)
        if value is None:
            value = self.parent._inherit(key)
        if value is None:
            return None
        from app.domain.batch.numbers import take

        if isinstance(value, Truth):
            unsure = None if value.unsure is None else value.unsure[self.rows]
            return Truth(value.t[self.rows], value.f[self.rows], unsure)
        return take(value, self.rows)

    def subset(self, rows: Rows) -> Context:
        """The same evaluation restricted to some rows (see ``ProfileTable.take``)."""
        sub = Context(self.table.take(rows), self.fiscal_year, parent=self, rows=rows)
        self.subsets.append(sub)  # (list.append is atomic: threads share a context)
        return sub

    def release(self) -> None:
        """Drop every memoised array, in this context and the subsets taken from it.

        A subset's memo can hold views that lead back to it (a composite keeps the
        subset it evaluated its costly children on), a reference cycle that only the
        cyclic collector would free, late and at the cost of a full collection: a
        population evaluated chunk by chunk would hold several chunks' arrays at once.
        """
        for sub in self.subsets:
            sub.release()
        self.subsets.clear()
        self.memo.clear()

    def full(self, value: Any) -> Bools:
        """A per-row boolean array from a mask, a 0-d verdict or a bool."""
        out = np.asarray(value, dtype=bool)
        if out.shape != (self.n,):
            out = np.broadcast_to(out, (self.n,)).copy()
        return out


class PathIndex:
    """Bit positions of the fact paths one policy can name as missing (at most 64).

    The bitmask is the smallest unsigned integer that holds them: a policy reading ten
    facts keeps two bytes per undetermined row, not eight.
    """

    def __init__(self, paths: list[str]) -> None:
        ordered = list(dict.fromkeys(paths))
        if len(ordered) > 64:
            from app.domain.batch.numbers import Unsupported

            raise Unsupported(f"{len(ordered)} fact paths: more than the 64 of a bitmask")
        self.paths = tuple(ordered)
        self.dtype: type[np.unsignedinteger[Any]] = next(
            t
            for t in (np.uint8, np.uint16, np.uint32, np.uint64)
            if np.iinfo(t).bits >= len(ordered)
        )
        self._bits = {p: self.dtype(1 << i) for i, p in enumerate(ordered)}

    def bit(self, path: str) -> np.unsignedinteger[Any]:
        return self._bits[path]

    def none(self, n: int) -> Bits:
        return np.zeros(n, dtype=self.dtype)

    def names(self, bits: int) -> tuple[str, ...]:
        """The sorted paths of a mask, as ``Evaluation.missing_facts`` lists them."""
        return tuple(sorted(p for i, p in enumerate(self.paths) if bits >> i & 1))
