"""Gap analysis: how far an enterprise is from each rung of the two recognition
ladders, and which facts or findings would settle every policy still undetermined.

This is the "one test" of Wuhan's "one library, one test, one plan" (一库一测一方案):
each criterion met, unmet or unknown, with the numeric distance where there is one
(e.g. R&D is 3.2% of revenue where 5% is needed: 1,728,000.00 yuan more R&D).

There are two ladders, kept by two ministries: the science ministry's (technology-based
SME → high-tech enterprise) and the industry ministry's (innovative SME → 专精特新 SME
→ "little giant"). A high-tech certificate is a direct route into the second, not a
rung of it. A rung whose size cap the enterprise fails (clauses marked ``gate: size``,
such as the SME size test) is out of reach, so it is never offered as the next step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.catalog.loader import Catalog
from app.catalog.schema import AllRule, AnyRule, NotRule, PolicyFile, Rule
from app.domain.engine import evaluate_catalog
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.results import ClauseResult, Evaluation, PriorAward
from app.domain.text import show
from app.services.findings import findings_json


@dataclass(frozen=True)
class Ladder:
    id: str
    zh: str
    en: str
    rungs: tuple[str, ...]


LADDERS = (
    Ladder(
        "science",
        "科技部门梯队:科技型中小企业 → 高新技术企业",
        "the science ministry's ladder: technology-based SME → high-tech enterprise",
        ("cn-tech-sme", "cn-high-tech-enterprise"),
    ),
    Ladder(
        "industry",
        "工信部门梯队:创新型(科技和创新型)中小企业 → 专精特新中小企业 → 专精特新“小巨人”企业",
        'the industry ministry\'s ladder: innovative SME → 专精特新 SME → "little giant"',
        ("cn-innovative-sme", "cn-specialized-sme", "cn-little-giant"),
    ),
)
#: Every rung of both ladders, science first (the flat list of earlier answers).
LADDER = tuple(p for ladder in LADDERS for p in ladder.rungs)
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


def _size_gates(rule: Rule) -> set[str]:
    """Ids of the clauses marked ``gate: size`` in a rule tree."""
    found = {rule.id} if rule.gate == "size" and rule.id else set()
    if isinstance(rule, AllRule | AnyRule):
        for child in rule.all if isinstance(rule, AllRule) else rule.any:
            found |= _size_gates(child)
    elif isinstance(rule, NotRule):
        found |= _size_gates(rule.not_)
    return found


def _size_caps_failed(policy: PolicyFile, ev: Evaluation) -> list[ClauseResult]:
    version = next((v for v in policy.versions if v.version == ev.policy_version), None)
    if version is None:
        return []
    gates = _size_gates(version.eligibility)
    return [r for r in ev.reasons if r.clause in gates and r.met is False]


def _rung(catalog: Catalog, policy: PolicyFile, ev: Evaluation) -> dict[str, Any]:
    too_big = _size_caps_failed(policy, ev)
    return {
        "policy_id": policy.id,
        "title": policy.title.model_dump(),
        "policy_version": ev.policy_version,
        "status": ev.status,
        "reachable": not too_big,
        "out_of_reach": [{"clause": r.clause, "zh": r.text.zh, "en": r.text.en} for r in too_big],
        "criteria": [criterion_json(r) for r in ev.reasons],
        "unmet": sum(r.met is False for r in ev.reasons),
        "unknown": sum(r.met is None for r in ev.reasons),
        "missing_facts": [describe_fact(catalog, p) for p in ev.missing_facts],
        "findings_required": findings_json(catalog, ev.findings_required),
    }


def _next_rung(rungs: list[dict[str, Any]]) -> str | None:
    """The lowest rung not yet met that the enterprise can climb (not over a size cap)."""
    return next(
        (r["policy_id"] for r in rungs if r["status"] != "eligible" and r["reachable"]), None
    )


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
    ladders: list[dict[str, Any]] = []
    every_rung: list[dict[str, Any]] = []
    for ladder in LADDERS:
        rungs = [
            _rung(catalog, catalog.policies[pid], evaluations[pid])
            for pid in ladder.rungs
            if pid in catalog.policies and pid in evaluations
        ]
        every_rung += rungs
        ladders.append(
            {
                "id": ladder.id,
                "title": {"zh": ladder.zh, "en": ladder.en},
                "next_rung": _next_rung(rungs),
                "rungs": rungs,
            }
        )
    next_rungs = {ladder["id"]: ladder["next_rung"] for ladder in ladders}
    to_settle = [
        {
            "policy_id": pid,
            "title": catalog.policies[pid].title.model_dump(),
            "missing_facts": [describe_fact(catalog, p) for p in ev.missing_facts],
            "findings_required": findings_json(catalog, ev.findings_required),
        }
        for pid, ev in evaluations.items()
        if ev.status == "undetermined"
    ]
    return {
        "fiscal_year": fiscal_year,
        "catalog_hash": catalog.hash,
        "next_rung": next((n for n in next_rungs.values() if n), None),
        "next_rungs": next_rungs,
        "ladders": ladders,
        "ladder": every_rung,
        "to_settle": to_settle,
    }
