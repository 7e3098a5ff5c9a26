"""What every leaf clause's column node shares, and the column nodes of the leaves of
``app.domain.leaves`` (the clauses reading dates, recognitions and series are their own
column nodes: ``app.domain.dated``, ``app.domain.recognitions``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from mypy_extensions import trait

from app.domain.batch.columns import Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth
from app.domain.batch.nodes import RuleNode, absent_bits

#: The prefix that marks a finding among a policy's missing-fact paths: an unknown
#: finding is named with them, then listed apart as a finding a reviewer must record.
FINDING = "finding:"


@trait  # (as ``RuleNode``: the per-profile leaves are also column leaves)
class Leaf(RuleNode):
    """A clause; when unknown its missing facts are its paths (``own``) it lacks."""

    own: tuple[str, ...] = ()
    columns_when_not_false = True
    columns_when_not_true = True

    def paths(self) -> Iterator[str]:
        yield from self.own

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        columns = self.unknown_columns()
        if columns is not None:
            return absent_bits(ctx, columns, rows, index)
        bits = index.none(len(rows))
        for path in self.own:
            bits |= index.bit(path)
        return bits


class Unknowable(Leaf):
    """A clause that no value settles (a catalog value of the wrong type): unknown."""

    def __init__(self, path: str, view: str) -> None:
        self.own, self.view = (path,), view
        self.key = ("unknowable", path)

    def specs(self) -> Iterator[Spec]:
        yield from ()

    def _truth(self, ctx: Context) -> Truth:
        none = np.zeros(ctx.n, dtype=bool)
        return Truth(none, none)
