"""What-if scenarios: the catalog with some parameters changed, policies switched off
or budgets set, for a simulation. The catalog itself is never changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from app.catalog.schema import PolicyFile
from app.domain.engine import select_version
from app.profile.bounded import NO_NUL, PolicyId
from app.profile.types import MONEY_MAX, MoneyIn, StrictModel
from app.services.errors import Invalid

# A parameter of a policy version, and a new value for it: a cap, a rate, a threshold
# (kept with the run's parameters). Its magnitude is bounded like an amount, so that
# what the engine computes from it is still an amount.
ParameterName = Annotated[str, StringConstraints(min_length=1, max_length=100), NO_NUL]
ParameterValue = Annotated[Decimal, Field(ge=-MONEY_MAX, le=MONEY_MAX, decimal_places=6)]


class PolicyChange(StrictModel):
    policy_id: PolicyId
    enabled: bool = Field(
        default=True, description="false: the policy is switched off in the scenario"
    )
    parameters: dict[ParameterName, ParameterValue] = Field(
        default_factory=dict,
        description="new values of the version's parameters (caps, rates, thresholds)",
    )
    budget: MoneyIn | None = Field(
        default=None, description="the annual budget per payer in the scenario"
    )


def apply_changes(
    policies: Mapping[str, PolicyFile], changes: Sequence[PolicyChange], fiscal_year: int
) -> dict[str, PolicyFile]:
    """The scenario's policies: copies with the changed parameters, without the switched-off ones."""
    scenario = dict(policies)
    for i, change in enumerate(changes):
        policy = policies.get(change.policy_id)
        if policy is None:
            raise Invalid(
                f"no policy `{change.policy_id}`",
                errors=[{"pointer": f"/changes/{i}/policy_id", "detail": "unknown policy"}],
            )
        if not change.enabled:
            scenario.pop(change.policy_id, None)
            continue
        if not change.parameters:
            continue
        version = select_version(policy, fiscal_year)
        if version is None:
            raise Invalid(
                f"{change.policy_id} is not in force in {fiscal_year}",
                errors=[{"pointer": f"/changes/{i}/policy_id", "detail": "not in force"}],
            )
        unknown = sorted(set(change.parameters) - set(version.parameters))
        if unknown:
            raise Invalid(
                f"{change.policy_id} has no parameter {', '.join(unknown)}",
                errors=[
                    {
                        "pointer": f"/changes/{i}/parameters",
                        "detail": f"known: {', '.join(sorted(version.parameters))}",
                    }
                ],
            )
        parameters = {
            name: p.model_copy(update={"value": change.parameters[name]})
            if name in change.parameters
            else p
            for name, p in version.parameters.items()
        }
        changed = version.model_copy(update={"parameters": parameters})
        scenario[change.policy_id] = policy.model_copy(
            update={"versions": [changed if v is version else v for v in policy.versions]}
        )
    return scenario


def budget_overrides(changes: Sequence[PolicyChange]) -> dict[str, Decimal]:
    return {c.policy_id: c.budget for c in changes if c.budget is not None}
