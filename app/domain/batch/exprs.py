"""What every expression's column node shares: the compiled expressions of
``app.domain.expressions`` are their own nodes, computing over columns what they
compute for one profile. A node's missing facts are the leaves a row does not give.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Sequence

import numpy as np

from app.domain.batch.columns import Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.numbers import (
    Fixed,
    Num,
)


# Not an ``abc.ABC``, as ``app.domain.rules.RulePlan`` says.
class ExprNode:
    key: Hashable
    leaves: tuple[Spec, ...] = ()
    #: Whether some row can make it undefined (a ratio, a growth over a zero base).
    may_be_undefined = False

    def eval(self, ctx: Context) -> Num:
        result: Num = ctx.cached(("expr", self.key), lambda: self._eval(ctx))
        return result

    @abstractmethod
    def _eval(self, ctx: Context) -> Num:
        """Each kind of node computes its own verdict (or value) over the rows."""


def leaf_bits(ctx: Context, leaves: Sequence[Spec], rows: Rows, index: PathIndex) -> Bits:
    """Missing-fact bits of ``rows``: the leaves they do not give."""
    bits = index.none(len(rows))
    for path, view in dict.fromkeys(leaves):
        column = ctx.table.num_column(path) if view == "num" else ctx.table.date_column(path)
        bits |= np.multiply(~column.known[rows], index.bit(path), dtype=index.dtype)
    return bits


def negate(a: Fixed) -> Fixed:
    return Fixed(a.known, a.undef, a.unsure, -np.asarray(a.v, dtype=np.int64), a.k, a.bound)
