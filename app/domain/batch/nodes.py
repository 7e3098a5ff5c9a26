"""Rule tree nodes: three-valued verdicts over whole columns, and missing facts.

What every column node shares; the compiled clauses of ``app.domain`` are (or emit)
the nodes, with the semantics of ``app.domain.rules``: ``all`` is false as soon
as one clause is false, ``any`` true as soon as one is true, unknown otherwise when a
clause is unknown. A node's missing facts are what the per-profile engine lists: a
leaf's paths that the row lacks when it is unknown; for a composite, the union over
its unknown children, only where it is unknown itself. They are computed on demand,
for the rows asked about (the undetermined ones), as bitmasks over the policy's paths.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Iterator
from typing import Literal

import numpy as np
from mypy_extensions import trait

from app.domain.batch.columns import Bools, Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth

#: What the caller knows of a node at the rows it asks about: unknown there, not false
#: (its parent ``all`` is unknown there) or not true (its parent ``any`` is unknown).
Given = Literal["unknown", "not_false", "not_true"] | None


# A trait: the per-profile clauses of ``app.domain`` are also column nodes, and a class
# compiled to native code (app/native) may inherit from one native class and traits only.
# Not an ``abc.ABC``, as ``app.domain.rules.RulePlan`` says.
@trait
class RuleNode:
    key: Hashable
    children: tuple[RuleNode, ...] = ()
    #: Rough cost of the verdict over all rows (1: one comparison of a column).
    cost = 1
    #: Whether, where the node is not false (not true), its missing facts are exactly
    #: its unknown columns, so they can be read without its verdict.
    columns_when_not_false = False
    columns_when_not_true = False

    def truth(self, ctx: Context) -> Truth:
        result: Truth = ctx.cached(("rule", self.key), lambda: self._truth(ctx))
        return result

    @abstractmethod
    def _truth(self, ctx: Context) -> Truth:
        """Each kind of node computes its own verdict (or value) over the rows."""

    def specs(self) -> Iterator[Spec]:
        """The columns this node reads."""
        for child in self.children:
            yield from child.specs()

    def paths(self) -> Iterator[str]:
        """Every path this node can name as missing."""
        for child in self.children:
            yield from child.paths()

    def unknown_columns(self) -> list[Spec] | None:
        """Columns whose absence is this node's missing facts, if its verdict adds none."""
        return None

    def shortcut(self, given: Given) -> bool:
        """Whether, given that, the missing facts can be read off ``unknown_columns``."""
        if self.unknown_columns() is None:
            return False
        return given == "unknown" or (
            (given == "not_false" and self.columns_when_not_false)
            or (given == "not_true" and self.columns_when_not_true)
        )

    def missing(self, ctx: Context, rows: Rows, index: PathIndex, given: Given = None) -> Bits:
        """Missing-fact bits of ``rows``; zero where this node is not unknown there."""
        if given == "unknown":
            return self._bits(ctx, rows, index)
        if self.shortcut(given):
            return absent_bits(ctx, self.unknown_columns() or [], rows, index)
        truth = self.truth(ctx)
        unknown = ~(truth.t[rows] | truth.f[rows])
        out = index.none(len(rows))
        if unknown.any():
            out[unknown] = self._bits(ctx, rows[unknown], index)
        return out

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        """Bits of rows where this node is unknown."""
        bits = index.none(len(rows))
        for child in self.children:
            bits |= child.missing(ctx, rows, index, self._child_given)
        return bits

    #: What this node being unknown says of its children.
    _child_given: Given = None


def absent_bits(ctx: Context, columns: list[Spec], rows: Rows, index: PathIndex) -> Bits:
    """Bits of the columns that ``rows`` do not give (each column once)."""
    bits = index.none(len(rows))
    for path, view in dict.fromkeys(columns):
        known = _known(ctx, path, view)
        # (A product, not ``np.where``: an order of magnitude faster on large arrays.)
        bits |= np.multiply(~known[rows], index.bit(path), dtype=index.dtype)
    return bits


def _known(ctx: Context, path: str, view: str) -> Bools:
    table = ctx.table
    if view == "cat":
        known: Bools = ctx.cached(("known", path), lambda: table.cat_column(path).known)
        return known
    if view == "date":
        return table.date_column(path).known
    return table.num_column(path).known
