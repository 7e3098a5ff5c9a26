"""``all`` / ``any`` / ``not`` compiled: each written once, with its two emitters.

``explain`` combines the children's outcomes for one profile (see ``app.domain.rules``
for the three-valued meaning); over a column table (``app.domain.batch``) the same
compiled composite is its own node: ``_truth`` combines its children's verdicts row by
row, and its missing facts are the union over its unknown children, only where it is
unknown itself.

Over columns the verdict of ``all`` does not depend on the order of its clauses, so
cheap clauses go first; a row one of them surely settles (``all``: false, ``any``:
true) needs no costly clause, which is then computed on a ``Context.subset`` of the
open rows. That subset context stays attached (``views``): a row where this node is
unknown was open for every child, so its missing facts are read there.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from app.catalog.schema import AllRule, AnyRule, NotRule
from app.domain.batch.columns import Bools, Spec
from app.domain.batch.context import Bits, Context, PathIndex, Rows, Truth
from app.domain.batch.nodes import Given, RuleNode, absent_bits
from app.domain.batch.numbers import either
from app.domain.facts import Facts
from app.domain.results import Bilingual, ClauseResult, Tri
from app.domain.rules import Kept, RuleOutcome, RulePlan

#: Outcomes a composite keeps, by the kept outcomes of its children.
_KEEP_MAX = 64
#: Over columns, a child at least this costly is evaluated only on the rows its
#: siblings left open,
COSTLY = 5
#: when those are at most this share of the rows.
NARROW_BELOW = 0.25

_new = tuple.__new__
_TRUE, _FALSE, _UNKNOWN = Tri.TRUE, Tri.FALSE, Tri.UNKNOWN


class Composite(RulePlan, RuleNode):
    """The children's outcomes (or verdicts) combined."""

    __slots__ = ("children", "explainers", "kept", "label", "parts", "reads_only", "unless")
    #: What this node being unknown says of its children.
    _child_given: Given = None
    #: ``"f"`` for ``all`` (a false child settles it), ``"t"`` for ``any``.
    settles_on = "f"
    #: The kind's name in a column node's key.
    kind = ""

    def __init__(self, node: AllRule | AnyRule | NotRule, clause: str, parts: list[RulePlan]):
        self.clause, self.parts = clause, tuple(parts)
        self.children = ()
        #: The children's bound ``explain``: no attribute lookup per child and answer.
        self.explainers = tuple(p.explain for p in parts)
        #: Their ``unless_false``: a clause that has none of its own is explained (bound
        #: straight to ``explain``, a call less per clause and answer).
        self.unless: tuple[Callable[[Facts], RuleOutcome | Unfinished], ...] = tuple(
            p.explain if type(p).unless_false is RulePlan.unless_false else p.unless_false
            for p in parts
        )
        self.reads_only = all(p.reads_only for p in parts)
        self.label = None if node.text is None else Bilingual(node.text.zh, node.text.en)
        #: By the ids of the children's outcomes, with those outcomes: they stay alive
        #: while kept here, so an id cannot stand for another object.
        self.kept: dict[tuple[int, ...], tuple[Sequence[RuleOutcome | None], RuleOutcome]] = {}

    # -- one profile --------------------------------------------------------------

    def explain(self, facts: Facts) -> RuleOutcome:
        return self.settle([explain(facts) for explain in self.explainers])

    def touch(self, facts: Facts) -> Unfinished | None:
        made = [part.touch(facts) for part in self.parts]
        return None if self.reads_only else Unfinished(self, made)

    def settle(self, children: Sequence[RuleOutcome | None]) -> RuleOutcome:
        """The outcome of these children's, reused when all were kept outcomes (a
        ``None``, a false alternative of an ``any`` that holds, counts as kept)."""
        for child in children:
            if child is not None and type(child) is not Kept:
                return self.combine(children)
        key = tuple(map(id, children))
        hit = self.kept.get(key)
        if hit is not None:
            return hit[1]
        outcome = _new(Kept, self.combine(children))
        if len(self.kept) < _KEEP_MAX:
            self.kept[key] = (children, outcome)
        return outcome

    @abstractmethod
    def combine(self, children: Sequence[RuleOutcome | None]) -> RuleOutcome:
        """The composite's outcome from its children's (``None`` only among the false
        alternatives of an ``any`` that holds)."""

    def _outcome(
        self, truth: Tri, children: Sequence[RuleOutcome], keep: Sequence[RuleOutcome]
    ) -> RuleOutcome:
        # Positional reads and ``tuple.__new__``: a NamedTuple's field properties and
        # its Python ``__new__`` were a third of a composite's cost, paid ~250 times
        # an answer.
        missing: tuple[str, ...] = ()
        findings: tuple[str, ...] = ()
        if truth is _UNKNOWN:
            unknown = [c for c in children if c[0] is _UNKNOWN]
            if len(unknown) == 1:  # (the union of one child's lists is that child's)
                missing, findings = unknown[0][2], unknown[0][3]
            else:
                missing = tuple(dict.fromkeys(p for c in unknown for p in c[2]))
                findings = tuple(dict.fromkeys(k for c in unknown for k in c[3]))
        if len(keep) == 1:
            clauses = keep[0][1]
        else:
            clauses = ()
            for c in keep:
                clauses += c[1]
        if self.label is not None:
            clauses += (ClauseResult(self.clause, truth, self.label, missing),)
        return _new(RuleOutcome, (truth, clauses, missing, findings))

    # -- whole columns ------------------------------------------------------------

    def column(self) -> RuleNode:
        if not self.children:  # (the children's nodes, made when first asked: never none)
            self.children = tuple(c.column() for c in self.parts)
            self.cost = sum(c.cost for c in self.children)
            self.key = (self.kind, *(c.key for c in self.children))
        return self

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
    __slots__ = ()
    _child_given: Given = "not_false"
    settles_on = "f"
    kind = "all"

    def combine(self, children: Sequence[RuleOutcome | None]) -> RuleOutcome:
        full: Sequence[RuleOutcome] = children  # type: ignore[assignment]  # (``None``s are an ``any``'s)
        truth = _TRUE
        for child in full:
            if child[0] is _FALSE:
                truth = _FALSE
                break
            if child[0] is _UNKNOWN:
                truth = _UNKNOWN
        return self._outcome(truth, full, full)

    def unless_false(self, facts: Facts) -> RuleOutcome | Unfinished:
        # Once a clause is false so is the whole, and an ``any`` that holds drops its
        # reasons: the rest are only read, for the trace (``RulePlan.touch``), and made
        # only if the ``any`` needs them after all (``Unfinished.finish``).
        made: list[RuleOutcome | Unfinished | None] = []
        for i, unless in enumerate(self.unless):
            child = unless(facts)
            made.append(child)
            if type(child) is Unfinished or child[0] is _FALSE:  # type: ignore[index]
                made += [later.touch(facts) for later in self.parts[i + 1 :]]
                return Unfinished(self, made)
        return self.settle(made)  # type: ignore[arg-type]  # (all made: none was false)


class Unfinished:
    """A composite whose outcome was not made: an ``all`` found false before all its
    clauses were explained, or a clause only touched. ``made`` holds, clause by clause,
    the outcome, an ``Unfinished`` or ``None`` (only read); ``finish`` makes the rest
    when the reasons are needed after all."""

    __slots__ = ("made", "node")

    def __init__(self, node: Composite, made: list[RuleOutcome | Unfinished | None]) -> None:
        self.node, self.made = node, made

    def finish(self, facts: Facts) -> RuleOutcome:
        return self.node.settle(
            [
                part.explain(facts) if made is None else finished(made, facts)
                for part, made in zip(self.node.parts, self.made, strict=True)
            ]
        )


def finished(made: RuleOutcome | Unfinished, facts: Facts) -> RuleOutcome:
    return made.finish(facts) if isinstance(made, Unfinished) else made


class Any_(Composite):
    __slots__ = ()
    _child_given: Given = "not_true"
    settles_on = "t"
    kind = "any"

    def explain(self, facts: Facts) -> RuleOutcome:
        # An alternative may come back unfinished: false, its reasons not all made.
        # They are needed only when no alternative holds, and are finished then.
        children = [unless(facts) for unless in self.unless]
        for child in children:
            if type(child) is not Unfinished and child[0] is _TRUE:  # type: ignore[index]
                return self.settle([None if type(c) is Unfinished else c for c in children])  # type: ignore[misc]
        return self.settle([finished(c, facts) for c in children])

    def combine(self, children: Sequence[RuleOutcome | None]) -> RuleOutcome:
        # True if any child is, else unknown if any child is, else false.
        truth = _FALSE
        for child in children:
            if child is None:  # (false, while another alternative holds)
                continue
            if child[0] is _TRUE:
                # An alternative that holds is the reason; the ones that do not are
                # noise then.
                keep = [c for c in children if c is not None and c[0] is _TRUE]
                return self._outcome(_TRUE, keep, keep)  # (true: no missing facts)
            if child[0] is _UNKNOWN:
                truth = _UNKNOWN
        full: Sequence[RuleOutcome] = children  # type: ignore[assignment]  # (none holds: all made)
        return self._outcome(truth, full, full)


_NEGATION = {Tri.TRUE: Tri.FALSE, Tri.FALSE: Tri.TRUE, Tri.UNKNOWN: Tri.UNKNOWN}


class Not(Composite):
    __slots__ = ()
    _child_given: Given = "unknown"
    kind = "not"

    def combine(self, children: Sequence[RuleOutcome | None]) -> RuleOutcome:
        inner: RuleOutcome = children[0]  # type: ignore[assignment]
        return self._outcome(_NEGATION[inner[0]], [inner], [inner])

    def _truth(self, ctx: Context) -> Truth:
        inner = self.children[0].truth(ctx)
        return Truth(inner.f, inner.t, inner.unsure)
