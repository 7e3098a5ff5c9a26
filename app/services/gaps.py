"""Gap analysis: how far an enterprise is from each rung of the recognition ladder,
and which facts would settle every policy that is still undetermined.

This is the "one test" of Wuhan's "one library, one test, one plan" (一库一测一方案):
each criterion met, unmet or unknown, with the numeric distance where there is one
(e.g. R&D is 3.2% of revenue where 5% is needed: 1,728,000.00 yuan more R&D).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from app.catalog.loader import Catalog
from app.domain.engine import evaluate_catalog
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.results import ClauseResult, PriorAward
from app.domain.text import show

#: technology-based SME → high-tech enterprise → 专精特新 SME → national "little giant"
LADDER = ("cn-tech-sme", "cn-high-tech-enterprise", "cn-specialized-sme", "cn-little-giant")
_YEAR = re.compile(r"^\d{4}$")


def describe_fact(catalog: Catalog, path: str) -> dict[str, str]:
    """The vocabulary's zh/en description of a concrete fact path (years.2024.revenue)."""
    parts = ["*" if _YEAR.match(p) else p for p in path.split(".")]
    for spec in catalog.vocabulary.facts:
        pattern = spec.path.split(".")
        if len(pattern) == len(parts) and all(
            a in ("*", b) for a, b in zip(pattern, parts, strict=True)
        ):
            return {"path": path, "zh": spec.zh, "en": spec.en, "unit": spec.unit or ""}
    return {"path": path, "zh": path, "en": path, "unit": ""}


def _distance_text(result: ClauseResult) -> dict[str, str] | None:
    if result.distance is None or result.distance_of is None:
        return None
    amount = (
        show(abs(result.distance)) if abs(result.distance) >= 1 else f"{abs(result.distance):.4f}"
    )
    if result.distance > 0:
        return {
            "zh": f"{result.distance_of} 还需增加 {amount}",
            "en": f"{result.distance_of} needs {amount} more",
        }
    return {
        "zh": f"{result.distance_of} 需减少 {amount}",
        "en": f"{result.distance_of} must fall by {amount}",
    }


def criterion_json(result: ClauseResult) -> dict[str, Any]:
    return {
        "clause": result.clause,
        "met": result.met,
        "text": {"zh": result.text.zh, "en": result.text.en},
        "actual": None if result.actual is None else str(result.actual),
        "required": None if result.required is None else str(result.required),
        "op": result.op,
        "distance": None
        if result.distance is None
        else f"{result.distance.quantize(Decimal('0.01')):f}",
        "distance_of": result.distance_of,
        "distance_text": _distance_text(result),
        "missing_facts": list(result.missing),
    }


def gap_analysis(
    catalog: Catalog,
    profile: Mapping[str, Any],
    fiscal_year: int,
    history: Sequence[PriorAward] = (),
    findings: Findings = NO_FINDINGS,
) -> dict[str, Any]:
    policies = list(catalog)
    evaluations = {
        e.policy_id: e for e in evaluate_catalog(policies, profile, fiscal_year, history, findings)
    }
    rungs = []
    for policy_id in LADDER:
        policy, ev = catalog.policies.get(policy_id), evaluations.get(policy_id)
        if policy is None or ev is None:
            continue
        rungs.append(
            {
                "policy_id": policy_id,
                "title": policy.title.model_dump(),
                "status": ev.status,
                "criteria": [criterion_json(r) for r in ev.reasons],
                "unmet": sum(r.met is False for r in ev.reasons),
                "unknown": sum(r.met is None for r in ev.reasons),
                "missing_facts": [describe_fact(catalog, p) for p in ev.missing_facts],
            }
        )
    next_rung = next((r["policy_id"] for r in rungs if r["status"] != "eligible"), None)
    to_settle = [
        {
            "policy_id": pid,
            "title": catalog.policies[pid].title.model_dump(),
            "missing_facts": [describe_fact(catalog, p) for p in ev.missing_facts],
        }
        for pid, ev in evaluations.items()
        if ev.status == "undetermined"
    ]
    return {
        "fiscal_year": fiscal_year,
        "catalog_hash": catalog.hash,
        "next_rung": next_rung,
        "ladder": rungs,
        "to_settle": to_settle,
    }
