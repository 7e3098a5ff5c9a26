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
Bits = npt.NDArray[np.uint64]
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

    @property
    def n(self) -> int:
        return self.table.n

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = compute()
        result: T = self.memo[key]
        return result

    def full(self, value: Any) -> Bools:
        """A per-row boolean array from a mask, a 0-d verdict or a bool."""
        out = np.asarray(value, dtype=bool)
        if out.shape != (self.n,):
            out = np.broadcast_to(out, (self.n,)).copy()
        return out


class PathIndex:
    """Bit positions of the fact paths one policy can name as missing (at most 64)."""

    def __init__(self, paths: list[str]) -> None:
        ordered = list(dict.fromkeys(paths))
        if len(ordered) > 64:
            from app.domain.batch.numbers import Unsupported

            raise Unsupported(f"{len(ordered)} fact paths: more than the 64 of a bitmask")
        self.paths = tuple(ordered)
        self._bits = {p: np.uint64(1 << i) for i, p in enumerate(ordered)}

    def bit(self, path: str) -> np.uint64:
        return self._bits[path]

    def names(self, bits: int) -> tuple[str, ...]:
        """The sorted paths of a mask, as ``Evaluation.missing_facts`` lists them."""
        return tuple(sorted(p for i, p in enumerate(self.paths) if bits >> i & 1))


def no_bits(n: int) -> Bits:
    return np.zeros(n, dtype=np.uint64)
