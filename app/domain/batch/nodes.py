"""Rule tree nodes: three-valued verdicts over whole columns, and missing facts.

One node per composite of ``app.domain.rules``, with its semantics: ``all`` is false as soon
as one clause is false, ``any`` true as soon as one is true, unknown otherwise when a
clause is unknown. A node's missing facts are what the per-profile engine lists: a
leaf's paths that the row lacks when it is unknown; for a composite, the union over
its unknown children, only where it is unknown itself. They are computed on demand,
for the rows asked about (the undetermined ones), as bitmasks over the policy's paths.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator
from typing import Literal

import numpy as np

from app.domain.batch.columns import Bools, Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth
from app.domain.batch.numbers import either

#: What the caller knows of a node at the rows it asks about: unknown there, not false
#: (its parent ``all`` is unknown there) or not true (its parent ``any`` is unknown).
Given = Literal["unknown", "not_false", "not_true"] | None


class RuleNode(ABC):
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


#: A child at least this costly is evaluated only on the rows its siblings left open,
COSTLY = 5
#: when those are at most this share of the rows.
NARROW_BELOW = 0.25


class Composite(RuleNode):
    """``all`` / ``any``: children combined; costly children on the open rows only.

    The verdict of ``all`` does not depend on the order of its clauses, so cheap
    clauses go first; a row one of them surely settles (``all``: false, ``any``: true)
    needs no costly clause, which is then computed on a ``Context.subset`` of the open
    rows. That subset context stays attached (``views``): a row where this node is
    unknown was open for every child, so its missing facts are read there.
    """

    #: ``"f"`` for ``all`` (a false child settles it), ``"t"`` for ``any``.
    settles_on = "f"

    def __init__(self, children: list[RuleNode]) -> None:
        self.children = tuple(children)
        self.cost = sum(c.cost for c in children)

    def _truth(self, ctx: Context) -> Truth:
        n, count, on_f = ctx.n, len(self.children), self.settles_on == "f"
        views: list[tuple[Rows, Context | None] | None] = [None] * count
        done: list[Truth] = []
        t: Bools | None = None
        f: Bools | None = None
        for i in sorted(range(count), key=lambda i: self.children[i].cost):
            child, part = self.children[i], None
            if t is not None and f is not None and child.cost >= COSTLY:
                settled = self._settled(done, f if on_f else t)
                if _few_open(settled, n):
                    open_rows = np.flatnonzero(~settled)
                    sub = ctx.subset(open_rows) if len(open_rows) else None
                    part = _scatter(None if sub is None else child.truth(sub), open_rows, n)
                    views[i] = (open_rows, sub)
            if part is None:
                part = child.truth(ctx)
            done.append(part)
            if t is None or f is None:
                t, f = part.t, part.f
            else:
                t, f = (t & part.t, f | part.f) if on_f else (t | part.t, f & part.f)
        ctx.memo[("views", self.key)] = views
        assert t is not None and f is not None
        return Truth(t, f, _settled_by([(p.f if on_f else p.t, p.unsure) for p in done]))

    def _settled(self, done: list[Truth], decisive: Bools) -> Bools:
        """Rows a child so far surely settles (the running verdict, unless in doubt)."""
        if all(p.unsure is None for p in done):
            return decisive
        out = np.zeros(len(decisive), dtype=bool)
        for p in done:
            verdict = p.f if self.settles_on == "f" else p.t
            out |= verdict if p.unsure is None else verdict & ~p.unsure
        return out

    def _bits(self, ctx: Context, rows: Rows, index: PathIndex) -> Bits:
        self.truth(ctx)
        # (No views when the verdict was gathered from an enclosing context.)
        views = ctx.memo.get(("views", self.key)) or [None] * len(self.children)
        bits = index.none(len(rows))
        columns: list[Spec] = []
        for child, view in zip(self.children, views, strict=True):
            if view is None and child.shortcut(self._child_given):
                columns += child.unknown_columns() or []
            elif view is None:
                bits |= child.missing(ctx, rows, index, self._child_given)
            elif view[1] is not None:
                at = np.searchsorted(view[0], rows)
                bits |= child.missing(view[1], at, index, self._child_given)
        if columns:
            bits |= absent_bits(ctx, columns, rows, index)
        return bits


def _few_open(settled: Bools, n: int) -> bool:
    return bool(n - np.count_nonzero(settled) < NARROW_BELOW * n)


def _scatter(part: Truth | None, rows: Rows, n: int) -> Truth:
    """A subset's verdicts as full rows; rows outside it are neither true nor false."""
    t, f = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    unsure = None
    if part is not None:
        t[rows], f[rows] = part.t, part.f
        if part.unsure is not None:
            unsure = np.zeros(n, dtype=bool)
            unsure[rows] = part.unsure
    return Truth(t, f, unsure)


def _settled_by(parts: list[tuple[Bools, Bools | None]]) -> Bools | None:
    """Unsure rows of a composite, less those a sure child settles on its own.

    A clause that is surely false settles ``all`` (surely true settles ``any``) whatever
    an unsure sibling says, so that row needs no exact re-evaluation.
    """
    unsure: Bools | None = None
    for _, doubt in parts:
        unsure = either(unsure, doubt)
    if unsure is None:
        return None
    for verdict, doubt in parts:
        unsure = unsure & ~(verdict if doubt is None else verdict & ~doubt)
    return unsure


class All(Composite):
    _child_given: Given = "not_false"
    settles_on = "f"

    def __init__(self, children: list[RuleNode]) -> None:
        super().__init__(children)
        self.key = ("all", *(c.key for c in children))


class Any_(Composite):
    _child_given: Given = "not_true"
    settles_on = "t"

    def __init__(self, children: list[RuleNode]) -> None:
        super().__init__(children)
        self.key = ("any", *(c.key for c in children))


class Not(RuleNode):
    _child_given: Given = "unknown"

    def __init__(self, child: RuleNode) -> None:
        self.children = (child,)
        self.cost = child.cost
        self.key = ("not", child.key)

    def _truth(self, ctx: Context) -> Truth:
        inner = self.children[0].truth(ctx)
        return Truth(inner.f, inner.t, inner.unsure)
