"""Matching: evaluate a profile against the catalog and shape the answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from app.catalog.loader import Catalog
from app.catalog.schema import PolicyFile
from app.domain.engine import evaluate_catalog
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.money import ZERO
from app.domain.results import ClauseResult, Evaluation, PriorAward, Tri
from app.services.errors import Invalid
from app.services.findings import findings_json, known_findings


def select_policies(catalog: Catalog, policy_ids: Iterable[str] | None) -> list[PolicyFile]:
    if policy_ids is None:
        return list(catalog)
    unknown = [p for p in policy_ids if p not in catalog.policies]
    if unknown:
        raise Invalid(
            f"unknown policy id(s): {', '.join(unknown)}",
            errors=[
                {
                    "pointer": "/policy_ids",
                    "detail": f"known ids: {', '.join(sorted(catalog.policies))}",
                }
            ],
        )
    return [catalog.policies[p] for p in dict.fromkeys(policy_ids)]


def reason_json(result: ClauseResult) -> dict[str, Any]:
    return {
        "clause": result.clause,
        "met": result.met,
        "text": {"zh": result.text.zh, "en": result.text.en},
        "missing_facts": list(result.missing),
    }


def _reasons_json(results: Sequence[ClauseResult]) -> list[dict[str, Any]]:
    """``reason_json`` of each result, kept on the result: most of an answer's ~300
    reasons are outcomes the compiled catalog keeps and hands out again (a leaf's
    answer to a word, a missing fact), so their JSON is built once. The dicts are
    shared between answers: read them, never change them."""
    shaped = []
    for r in results:
        kept = r.__dict__
        json = kept.get("_json")
        if json is None:
            truth = r.truth
            json = kept["_json"] = {
                "clause": r.clause,
                "met": True if truth is _TRUE else False if truth is _FALSE else None,
                "text": {"zh": r.text.zh, "en": r.text.en},
                "missing_facts": list(r.missing),
            }
        shaped.append(json)
    return shaped


_TRUE, _FALSE = Tri.TRUE, Tri.FALSE


def answer_json(
    policy: PolicyFile,
    ev: Evaluation,
    catalog: Catalog,
    findings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One policy's answer; ``findings`` is the catalog's findings by key when the caller
    shapes many answers (looked up once rather than per answer)."""
    payer = None
    if policy.payer is not None:
        payer = {"level": policy.payer.level, "jurisdiction": policy.payer.jurisdiction}
    return {
        "policy_id": ev.policy_id,
        "policy_version": ev.policy_version,
        "title": {"zh": policy.title.zh, "en": policy.title.en},
        "kind": policy.kind,
        "status": ev.status,
        "amount": ev.amount,
        "amount_basis": ev.amount_basis,
        "uncapped_amount": ev.uncapped_amount,
        "reasons": _reasons_json(ev.reasons),
        "missing_facts": list(ev.missing_facts),
        "findings_required": (
            findings_json(catalog, ev.findings_required, findings) if ev.findings_required else []
        ),
        "findings_used": [{"key": k, **v} for k, v in ev.findings_used.items()],
        "payer": payer,
    }


def totals(evaluations: Sequence[Evaluation]) -> dict[str, Any]:
    def total(basis: str) -> Decimal:
        return sum(
            (
                e.amount or ZERO
                for e in evaluations
                if e.status == "eligible" and e.amount_basis == basis
            ),
            ZERO,
        )

    return {
        "eligible": sum(e.status == "eligible" for e in evaluations),
        "ineligible": sum(e.status == "ineligible" for e in evaluations),
        "undetermined": sum(e.status == "undetermined" for e in evaluations),
        "computed_amount": total("computed"),
        "estimated_tax_benefit": total("estimate"),
    }


def check_eligibility(
    catalog: Catalog,
    facts: Mapping[str, Any],
    fiscal_year: int,
    policy_ids: Iterable[str] | None = None,
    history: Sequence[PriorAward] = (),
    findings: Findings = NO_FINDINGS,
) -> dict[str, Any]:
    """The eligibility answer for a profile (stateless, or with a stored award history and
    the findings reviewers recorded on the enterprise)."""
    policies = select_policies(catalog, policy_ids)
    evaluations = evaluate_catalog(policies, facts, fiscal_year, history, findings)
    known = known_findings(catalog)
    return {
        "fiscal_year": fiscal_year,
        "catalog_hash": catalog.hash,
        "totals": totals(evaluations),
        "results": [
            answer_json(p, e, catalog, known) for p, e in zip(policies, evaluations, strict=True)
        ],
    }
