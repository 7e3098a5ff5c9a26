"""Three-valued evaluation of a policy's eligibility rule tree.

Each clause is true, false or unknown. ``all`` is false as soon as one clause is
definitely false, even while others are unknown (a missing fact cannot rescue an
enterprise that fails another clause); ``any`` is true as soon as one clause is true.
Unknown clauses carry the profile paths that would settle them. Every clause yields a
bilingual reason; labelled composite clauses (a criterion made of alternatives) yield
one too, so a gap analysis can list criteria rather than leaves.

A rule tree is compiled once per policy version and fiscal year (``compile_rule``):
parameters resolved, ``{fy}`` paths and date windows fixed, clause ids assigned and
every text that does not depend on the profile built, including whole outcomes for a
missing fact. ``explain(facts)`` then answers for one profile. The leaf kinds live in
``app.domain.leaves`` and ``app.domain.dated``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from app.catalog.schema import AllRule, AnyRule, NotRule, Rule
from app.domain.expressions import Params
from app.domain.facts import Facts
from app.domain.results import Bilingual, ClauseResult, Tri

if TYPE_CHECKING:
    from app.domain.batch.nodes import RuleNode


class RuleOutcome(NamedTuple):
    truth: Tri
    clauses: tuple[ClauseResult, ...]
    missing: tuple[str, ...]
    #: Keys of the findings a reviewer has yet to record (unknown outcomes only).
    findings: tuple[str, ...] = ()


class RulePlan:
    """A compiled clause: ``explain`` gives its outcome for one profile."""

    __slots__ = ("clause",)
    clause: str

    def explain(self, facts: Facts) -> RuleOutcome:
        raise NotImplementedError

    def column(self) -> RuleNode:
        """The same clause over whole columns (``app.domain.batch``), from the same
        resolved parameters, paths and dates."""
        raise NotImplementedError


def label_of(node: Any, fallback: Bilingual) -> Bilingual:
    """The catalog's words for a clause, else the text built from what it tests."""
    if node.text is None:
        return fallback
    return Bilingual(node.text.zh, node.text.en)


class Kept(RuleOutcome):
    """An outcome kept for reuse (a leaf's answer to a word, a missing fact): a
    composite whose children all answered with kept outcomes reuses its own."""

    __slots__ = ()


#: Outcomes a composite keeps, by the kept outcomes of its children.
_KEEP_MAX = 64


class _Composite(RulePlan):
    """``all`` / ``any`` / ``not``: the children's outcomes combined."""

    __slots__ = ("children", "kept", "label")

    def __init__(self, node: AllRule | AnyRule | NotRule, clause: str, children: list[RulePlan]):
        self.clause, self.children = clause, tuple(children)
        self.label = None if node.text is None else Bilingual(node.text.zh, node.text.en)
        #: By the ids of the children's outcomes, with those outcomes: they stay alive
        #: while kept here, so an id cannot stand for another object.
        self.kept: dict[tuple[int, ...], tuple[list[RuleOutcome], RuleOutcome]] = {}

    def explain(self, facts: Facts) -> RuleOutcome:
        children = [c.explain(facts) for c in self.children]
        for child in children:
            if type(child) is not Kept:
                return self.combine(children)
        key = tuple(map(id, children))
        hit = self.kept.get(key)
        if hit is not None:
            return hit[1]
        outcome = _new(Kept, self.combine(children))
        if len(self.kept) < _KEEP_MAX:
            self.kept[key] = (children, outcome)
        return outcome

    def combine(self, children: list[RuleOutcome]) -> RuleOutcome:
        raise NotImplementedError

    def _outcome(
        self, truth: Tri, children: list[RuleOutcome], keep: list[RuleOutcome]
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


_new = tuple.__new__
_TRUE, _FALSE, _UNKNOWN = Tri.TRUE, Tri.FALSE, Tri.UNKNOWN


class _All(_Composite):
    __slots__ = ()

    def column(self) -> RuleNode:
        from app.domain.batch.nodes import All

        return All([c.column() for c in self.children])

    def combine(self, children: list[RuleOutcome]) -> RuleOutcome:
        truth = _TRUE
        for child in children:
            if child[0] is _FALSE:
                truth = _FALSE
                break
            if child[0] is _UNKNOWN:
                truth = _UNKNOWN
        return self._outcome(truth, children, children)


class _Any(_Composite):
    __slots__ = ()

    def column(self) -> RuleNode:
        from app.domain.batch.nodes import Any_

        return Any_([c.column() for c in self.children])

    def combine(self, children: list[RuleOutcome]) -> RuleOutcome:
        # True if any child is, else unknown if any child is, else false.
        truth = _FALSE
        for child in children:
            if child[0] is _TRUE:
                # An alternative that holds is the reason; the ones that do not are
                # noise then.
                keep = [c for c in children if c[0] is _TRUE]
                return self._outcome(_TRUE, children, keep)
            if child[0] is _UNKNOWN:
                truth = _UNKNOWN
        return self._outcome(truth, children, children)


_NEGATION = {Tri.TRUE: Tri.FALSE, Tri.FALSE: Tri.TRUE, Tri.UNKNOWN: Tri.UNKNOWN}


class _Not(_Composite):
    __slots__ = ()

    def column(self) -> RuleNode:
        from app.domain.batch.nodes import Not

        return Not(self.children[0].column())

    def combine(self, children: list[RuleOutcome]) -> RuleOutcome:
        inner = children[0]
        return self._outcome(_NEGATION[inner[0]], [inner], [inner])


def compile_rule(
    rule: Rule, params: Params, fiscal_year: int, clause_id: str = "eligibility"
) -> RulePlan:
    """The rule tree for one version's parameters and one fiscal year."""
    from app.domain.leaves import compile_leaf

    clause = rule.id or clause_id
    if isinstance(rule, AllRule):
        parts = [
            compile_rule(r, params, fiscal_year, f"{clause}.{i}") for i, r in enumerate(rule.all)
        ]
        return _All(rule, clause, parts)
    if isinstance(rule, AnyRule):
        parts = [
            compile_rule(r, params, fiscal_year, f"{clause}.{i}") for i, r in enumerate(rule.any)
        ]
        return _Any(rule, clause, parts)
    if isinstance(rule, NotRule):
        return _Not(rule, clause, [compile_rule(rule.not_, params, fiscal_year, f"{clause}.0")])
    return compile_leaf(rule, params, fiscal_year, clause)


#: Compiled trees of rules evaluated outside a policy plan (formula options, tests),
#: with the rule and parameters they were compiled from (an ``id`` may be reused).
_COMPILED: dict[tuple[int, int, int, str], tuple[Rule, Mapping[str, Any], RulePlan]] = {}


def evaluate_rule(
    rule: Rule, facts: Facts, params: Params, clause_id: str = "eligibility"
) -> RuleOutcome:
    key = (id(rule), id(params), facts.fiscal_year, clause_id)
    cached = _COMPILED.get(key)
    if cached is None or cached[0] is not rule or cached[1] is not params:
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        cached = _COMPILED[key] = (
            rule,
            params,
            compile_rule(rule, params, facts.fiscal_year, clause_id),
        )
    return cached[2].explain(facts)
