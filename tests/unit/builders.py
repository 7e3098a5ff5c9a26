"""Small builders for inline catalog policies, so each test states only what it tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter

from app.catalog.schema import Formula, PolicyFile, Rule
from app.domain import engine
from app.domain.expressions import Params
from app.domain.facts import Facts
from app.domain.results import Evaluation, PriorAward
from app.domain.rules import RuleOutcome, evaluate_rule

FY = 2024

#: A rule that holds for every profile: the product of two constants.
ALWAYS: dict[str, Any] = {"expr": {"product": [1, 1]}, "op": "eq", "value": 1}

_RULE = TypeAdapter(Rule)
_FORMULA = TypeAdapter(Formula)


def parameter(value: Any, unit: str = "yuan") -> dict[str, Any]:
    return {"value": str(value), "unit": unit, "basis": "local_rule", "note": "test value"}


def version(
    eligibility: Mapping[str, Any] | None = None,
    formula: Mapping[str, Any] | None = None,
    caps: Mapping[str, Any] | None = None,
    *,
    name: str = "1",
    params: Mapping[str, Any] | None = None,
    effective_from: str = "2000-01-01",
    effective_to: str | None = None,
    exclusivity: tuple[str, str] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": name,
        "effective": {"from": effective_from, "to": effective_to},
        "parameters": {k: parameter(v) for k, v in (params or {}).items()},
        "eligibility": dict(eligibility or ALWAYS),
        "formula": dict(formula or {"fixed": 100}),
        "caps": dict(caps or {}),
    }
    if exclusivity is not None:
        group, mode = exclusivity
        data["exclusivity"] = {
            "group": group,
            "mode": mode,
            "note": {"zh": "互斥", "en": "exclusive"},
        }
    return data


def policy(
    eligibility: Mapping[str, Any] | None = None,
    formula: Mapping[str, Any] | None = None,
    caps: Mapping[str, Any] | None = None,
    *,
    policy_id: str = "xx-test",
    versions: Sequence[Mapping[str, Any]] | None = None,
    **version_options: Any,
) -> PolicyFile:
    """A one-version policy (or one with the given ``versions``), validated like the catalog."""
    return PolicyFile.model_validate(
        {
            "id": policy_id,
            "title": {"zh": "测试政策", "en": "test policy"},
            "summary": {"zh": "测试", "en": "a test"},
            "kind": "award",
            "source": {"document": "测试文件", "section": "1", "quote": "测试"},
            "jurisdiction": "nanjing",
            "versions": list(versions or [version(eligibility, formula, caps, **version_options)]),
            "cases": [
                {
                    "name": "placeholder",
                    "fiscal_year": FY,
                    "profile": {},
                    "expect": {"status": "eligible"},
                }
            ],
        }
    )


def run(
    pol: PolicyFile,
    profile: Mapping[str, Any] | None = None,
    fiscal_year: int = FY,
    history: Sequence[PriorAward] = (),
    reviewer_amount: Decimal | None = None,
) -> Evaluation:
    return engine.evaluate(pol, profile or {}, fiscal_year, history, reviewer_amount)


def rule(
    data: Mapping[str, Any],
    profile: Mapping[str, Any] | None = None,
    fiscal_year: int = FY,
    params: Mapping[str, Any] | None = None,
) -> RuleOutcome:
    """Evaluate one rule tree directly (params as plain numbers)."""
    numbers: Params = {k: Decimal(str(v)) for k, v in (params or {}).items()}
    return evaluate_rule(_RULE.validate_python(data), Facts(profile or {}, fiscal_year), numbers)


def formula_model(data: Mapping[str, Any]) -> Any:
    return _FORMULA.validate_python(data)


def award(
    policy_id: str = "xx-test",
    fiscal_year: int = FY - 1,
    amount: str = "100",
    recognition_key: str | None = None,
    group: str | None = None,
) -> PriorAward:
    return PriorAward(policy_id, fiscal_year, Decimal(amount), recognition_key, group)


def reason_text(ev: Evaluation) -> str:
    """Every reason of an evaluation, zh and en, as one string to search."""
    return "\n".join(f"{r.clause}: {r.text.zh} | {r.text.en}" for r in ev.reasons)
