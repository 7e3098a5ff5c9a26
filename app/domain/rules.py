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
missing fact. ``explain(facts)`` then answers for one profile, and ``column()`` gives
the node that answers a column table of profiles (``app.domain.batch``). The
composites live in ``app.domain.composites``, the leaf kinds in ``app.domain.leaves``,
``app.domain.dated`` and ``app.domain.recognitions``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from mypy_extensions import mypyc_attr

from app.catalog.schema import AllRule, AnyRule, NotRule, Rule
from app.domain.expressions import Params
from app.domain.facts import Facts
from app.domain.results import Bilingual, ClauseResult, Tri

if TYPE_CHECKING:
    from app.domain.batch.nodes import RuleNode
    from app.domain.composites import Unfinished


class RuleOutcome(NamedTuple):
    truth: Tri
    clauses: tuple[ClauseResult, ...]
    missing: tuple[str, ...]
    #: Keys of the findings a reviewer has yet to record (unknown outcomes only).
    findings: tuple[str, ...] = ()


#: ``new_outcome(RuleOutcome, (truth, clauses, missing, findings))``: a NamedTuple's own
#: ``__new__`` is a Python function, a call more per clause and answer.
new_outcome = tuple.__new__


# Not an ``abc.ABC``: compiled (app/native), its subclasses would share one ABC cache, so
# ``isinstance`` could answer for one class what was found for another. The abstract
# methods stay marked for mypy.
class RulePlan:
    """A compiled clause: ``explain`` gives its outcome for one profile."""

    __slots__ = ("clause",)
    clause: str

    @abstractmethod
    def explain(self, facts: Facts) -> RuleOutcome:
        """The clause's outcome for one profile, with its reasons."""

    def unless_false(self, facts: Facts) -> RuleOutcome | Unfinished:
        """The outcome, or an ``Unfinished`` one when the clause is false and its
        reasons were not all made: asked by an ``any``, which keeps a false
        alternative's reasons only when none holds (``composites.Any_``)."""
        return self.explain(facts)

    #: Whether ``touch`` reads without explaining.
    reads_only = False

    def touch(self, facts: Facts) -> RuleOutcome | Unfinished | None:
        """Read what ``explain`` reads, for the trace: a clause an ``all`` no longer
        needs once a sibling is false still names its facts in the award's trace. A
        clause that cannot read more cheaply than it explains gives its outcome, which
        is then not made again (``None`` when only read: ``reads_only``)."""
        return self.explain(facts)

    @abstractmethod
    def column(self) -> RuleNode:
        """The same clause over whole columns (``app.domain.batch``), from the same
        resolved parameters, paths and dates."""


def label_of(node: Any, fallback: Bilingual) -> Bilingual:
    """The catalog's words for a clause, else the text built from what it tests."""
    if node.text is None:
        return fallback
    return Bilingual(node.text.zh, node.text.en)


# An ordinary Python class even where this module is compiled (app/native): a native
# class cannot extend a tuple.
@mypyc_attr(native_class=False)
class Kept(RuleOutcome):
    """An outcome kept for reuse (a leaf's answer to a word, a missing fact): a
    composite whose children all answered with kept outcomes reuses its own."""

    __slots__ = ()


def compile_rule(
    rule: Rule,
    params: Params,
    fiscal_year: int,
    clause_id: str = "eligibility",
    share: bool = True,
) -> RulePlan:
    """The rule tree for one version's parameters and one fiscal year.

    A named composite of a few clauses or more is answered once per profile for every
    policy that has the same (``app.domain.shared_clauses``); only the outermost is:
    ``share`` is false inside one."""
    from app.domain.composites import All, Any_, Not
    from app.domain.leaves import compile_leaf
    from app.domain.shared_clauses import SHARED_MIN_LEAVES, Shared, leaf_count, shared_key

    clause = rule.id or clause_id
    shares = share and rule.id is not None and isinstance(rule, AllRule | AnyRule | NotRule)
    inner = share and not shares
    plan: RulePlan
    if isinstance(rule, AllRule):
        parts = [
            compile_rule(r, params, fiscal_year, f"{clause}.{i}", inner)
            for i, r in enumerate(rule.all)
        ]
        plan = All(rule, clause, parts)
    elif isinstance(rule, AnyRule):
        parts = [
            compile_rule(r, params, fiscal_year, f"{clause}.{i}", inner)
            for i, r in enumerate(rule.any)
        ]
        plan = Any_(rule, clause, parts)
    elif isinstance(rule, NotRule):
        plan = Not(
            rule, clause, [compile_rule(rule.not_, params, fiscal_year, f"{clause}.0", inner)]
        )
    else:
        return compile_leaf(rule, params, fiscal_year, clause)
    if shares and leaf_count(plan) >= SHARED_MIN_LEAVES:
        return Shared(plan, shared_key(rule, params, fiscal_year, clause))
    return plan


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
