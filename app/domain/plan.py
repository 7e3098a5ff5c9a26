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
from app.domain.caps import recognition_key, rewarded_levels
from app.domain.formulas import FormulaPlan, compile_formula
from app.domain.rules import RulePlan, compile_rule


def parameters(version: Version) -> dict[str, Decimal]:
    return {name: p.value for name, p in version.parameters.items()}


class VersionPlan:
    """A policy version compiled for a fiscal year: what every answer of it shares."""

    __slots__ = ("eligibility", "formula", "group", "mode", "params", "recognized")

    def __init__(self, version: Version, fiscal_year: int) -> None:
        self.params = parameters(version)
        self.eligibility: RulePlan = compile_rule(version.eligibility, self.params, fiscal_year)
        self.formula: FormulaPlan = compile_formula(version.formula, self.params, fiscal_year)
        kinds = version.caps.recognition_kind
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or ())
        #: Each kind of recognition an award pays, with the levels the rule rewards.
        self.recognized = [(kind, rewarded_levels(version.eligibility, kind)) for kind in kinds]
        self.group = version.exclusivity.group if version.exclusivity else None
        self.mode = version.exclusivity.mode if version.exclusivity else None

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
