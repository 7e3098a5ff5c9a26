"""A policy version compiled for a fiscal year: what every answer of it shares.

Built once per version object and fiscal year (``version_plan``): the parameters as
ready values, the eligibility rule and the formula compiled (``app.domain.rules``,
``app.domain.formulas``), and what the caps need of the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from app.catalog.schema import Version
from app.domain.caps import history_limits, recognition_key, rewarded_levels
from app.domain.formulas import FormulaPlan, compile_formula
from app.domain.results import ClauseResult
from app.domain.rules import RulePlan, compile_rule

#: Clauses of a first award kept per plan, by recognition key.
_FIRST_MAX = 64


def parameters(version: Version) -> dict[str, Decimal]:
    return {name: p.value for name, p in version.parameters.items()}


class VersionPlan:
    """A policy version compiled for a fiscal year: what every answer of it shares."""

    __slots__ = (
        "caps",
        "eligibility",
        "first",
        "fiscal_year",
        "formula",
        "group",
        "mode",
        "params",
        "recognized",
    )

    def __init__(self, version: Version, fiscal_year: int) -> None:
        self.caps, self.fiscal_year = version.caps, fiscal_year
        #: ``first_award_limits`` by recognition key.
        self.first: dict[str | None, tuple[ClauseResult, ...]] = {}
        self.params = parameters(version)
        self.eligibility: RulePlan = compile_rule(version.eligibility, self.params, fiscal_year)
        self.formula: FormulaPlan = compile_formula(version.formula, self.params, fiscal_year)
        kinds = version.caps.recognition_kind
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
        #: Each kind of recognition an award pays, with the levels the rule rewards.
        self.recognized = [(kind, rewarded_levels(version.eligibility, kind)) for kind in kinds]
        self.group = version.exclusivity.group if version.exclusivity else None
        self.mode = version.exclusivity.mode if version.exclusivity else None

    def first_award_limits(self, policy_id: str, key: str | None) -> tuple[ClauseResult, ...]:
        """The caps' clauses for an enterprise with no award of the policy yet: the
        same for every such answer with the same recognition key, so made once."""
        limits = self.first.get(key)
        if limits is None:
            made = history_limits(self.caps, self.params, policy_id, self.fiscal_year, [], key)
            limits = tuple(made)
            if len(self.first) < _FIRST_MAX:
                self.first[key] = limits
        return limits

    def recognition_key(self, profile: Mapping[str, Any]) -> str | None:
        """The key of the recognition an award pays: the latest grant among its kinds
        (see ``caps.award_recognition_key``)."""
        if not self.recognized:
            return None
        keys = [
            key
            for kind, levels in self.recognized
            if (key := recognition_key(profile, kind, levels)) is not None
        ]
        return max(keys, key=lambda k: (k.rsplit(":", 1)[1], k), default=None)


#: Compiled versions by ``(id(version), fiscal year)``, with the version they belong to
#: (an ``id`` is reused once its object is gone).
_PLANS: dict[tuple[int, int], tuple[Version, VersionPlan]] = {}


def version_plan(version: Version, fiscal_year: int) -> VersionPlan:
    """The version compiled for the fiscal year, once per version object."""
    cached = _PLANS.get((id(version), fiscal_year))
    if cached is not None and cached[0] is version:
        return cached[1]
    if len(_PLANS) > 65536:  # tests build many throwaway policies
        _PLANS.clear()
    plan = VersionPlan(version, fiscal_year)
    _PLANS[(id(version), fiscal_year)] = (version, plan)
    return plan
