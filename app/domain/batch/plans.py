"""Policies compiled for the population engine: one ``PolicyPlan`` per policy and fiscal
year, memoised per policy object.

The nodes come from the version's one compiled plan (``app.domain.plan``): each clause,
expression and formula emits its column node. A recognition applied for on last year's
accounts keeps a plan per version (see ``applied``). A construct the columns cannot hold
makes the plan ``unsupported``: the per-profile engine answers that policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.catalog.schema import Caps, PolicyFile, Version
from app.domain.batch.applied import APPLIED
from app.domain.batch.columns import Spec
from app.domain.batch.context import PathIndex
from app.domain.batch.formulas import FormulaNode
from app.domain.batch.leaves import FINDING
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import Unsupported
from app.domain.engine import parameters, select_version
from app.domain.expressions import Params, constant
from app.domain.plan import version_plan


@dataclass(frozen=True, eq=False)
class PolicyPlan:
    """One policy compiled for one fiscal year."""

    policy: PolicyFile
    version: Version | None
    eligibility: RuleNode | None = None
    formula: FormulaNode | None = None
    index: PathIndex | None = None
    ceilings: tuple[Decimal, ...] = ()
    #: A history limit that fails even with no history (``max_years`` of 0).
    limits_fail: bool = False
    unsupported: str | None = None
    #: Whether the eligibility waits on reviewers' findings (``FINDING`` paths).
    findings: bool = False
    #: A version per application date: each version's plan, the preferred first, and
    #: the one rows without an application date take (-1: none is in force).
    by_application: tuple[PolicyPlan, ...] | None = None
    default_choice: int = -1

    @property
    def group(self) -> str | None:
        exclusivity = self.version.exclusivity if self.version else None
        return exclusivity.group if exclusivity else None


_PLANS: dict[tuple[int, int], tuple[PolicyFile, PolicyPlan]] = {}


def compile_policy(policy: PolicyFile, fiscal_year: int) -> PolicyPlan:
    """The policy's version in force that year, compiled (memoised per policy object)."""
    cached = _PLANS.get((id(policy), fiscal_year))
    if cached is not None and cached[0] is policy:
        return cached[1]
    plan = _compile(policy, fiscal_year)
    _PLANS[(id(policy), fiscal_year)] = (policy, plan)
    return plan


def _compile(policy: PolicyFile, fiscal_year: int) -> PolicyPlan:
    version = select_version(policy, fiscal_year)
    if version is None and policy.versions_by == "fiscal_year":
        return PolicyPlan(policy, None)
    try:
        if policy.versions_by == "application":
            return _by_application(policy, version, fiscal_year)
        assert version is not None
        return _compile_versions(policy, [version], fiscal_year)[0]
    except (Unsupported, ValueError) as exc:  # (ValueError: a window outside the calendar)
        return PolicyPlan(policy, version, unsupported=str(exc))


def _compile_versions(
    policy: PolicyFile, versions: Sequence[Version], fiscal_year: int
) -> list[PolicyPlan]:
    """Each version compiled, naming missing facts by one index shared between them."""
    compiled = []
    for version in versions:
        params = parameters(version)
        # The one compiled plan of the rule, emitting its column nodes.
        eligibility = version_plan(version, fiscal_year).eligibility.column()
        formula = version_plan(version, fiscal_year).formula.column()
        compiled.append((version, eligibility, formula, _caps(version.caps, params)))
    index = PathIndex([p for _, e, f, _ in compiled for p in (*e.paths(), *f.paths())])
    findings = any(path.startswith(FINDING) for path in index.paths)
    return [
        PolicyPlan(policy, v, e, f, index, ceilings, fails, findings=findings)
        for v, e, f, (ceilings, fails) in compiled
    ]


def _by_application(policy: PolicyFile, default: Version | None, fiscal_year: int) -> PolicyPlan:
    """A recognition whose version follows each row's application date (see
    ``applied``): every version compiled, in the order ``select_version`` prefers them."""
    preferred = sorted(policy.versions, key=lambda v: v.effective.from_, reverse=True)
    plans = _compile_versions(policy, preferred, fiscal_year)
    choice = -1 if default is None else next(i for i, v in enumerate(preferred) if v is default)
    return PolicyPlan(
        policy, default, index=plans[0].index, by_application=tuple(plans), default_choice=choice
    )


def _caps(caps: Caps, params: Params) -> tuple[tuple[Decimal, ...], bool]:
    """The ceilings with no award this year, and whether ``max_years`` allows none."""
    ceilings = []
    if caps.per_award is not None:
        ceilings.append(constant(caps.per_award, params))
    fails = caps.max_years is not None and not Decimal(0) < constant(caps.max_years, params)
    return tuple(ceilings), fails


def required_columns(policies: Iterable[PolicyFile], fiscal_year: int) -> set[Spec]:
    """The columns a table needs to evaluate these policies in that fiscal year."""
    specs: set[Spec] = set()
    for policy in policies:
        plan = compile_policy(policy, fiscal_year)
        if plan.by_application is not None:
            specs.add((APPLIED, "date"))
        for part in plan.by_application or (plan,):
            if part.eligibility is not None and part.formula is not None:
                specs.update(part.eligibility.specs())
                specs.update(part.formula.specs())
    return specs
