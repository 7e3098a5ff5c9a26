"""Replaying an award from what the database holds: its profile version, its policy
version (and those of its exclusivity group), the award history it saw and the
reviewers' findings it was computed with.

Nothing is read from the catalog files, so a changed file can never change a replay.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.catalog.schema import PolicyFile
from app.db import repositories as repo
from app.db.models import Award
from app.domain.engine import evaluate_in_group
from app.domain.results import PriorAward, as_json
from app.services.findings import from_trace


def _stored_policy(session: Session, policy_version_id: str) -> PolicyFile:
    stored = repo.get_policy_version(session, policy_version_id)
    assert stored is not None, "an award's policy version is kept (foreign key)"
    return PolicyFile.model_validate(stored.document)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def replay(session: Session, award: Award) -> dict[str, Any]:
    trace = award.trace
    profile = repo.get_profile_version_by_id(session, award.profile_version_id)
    assert profile is not None
    policy = _stored_policy(session, award.policy_version_id)
    members = [
        policy if pid == policy.id else _stored_policy(session, vid)
        for pid, vid in (
            trace.get("group_policy_versions") or {policy.id: award.policy_version_id}
        ).items()
    ]
    history = [
        PriorAward(
            h["policy_id"],
            h["fiscal_year"],
            Decimal(h["amount"]),
            h.get("recognition_key"),
            h.get("exclusivity_group"),
        )
        for h in trace.get("history", [])
    ]
    # The reviewers' findings the award was computed with, as its trace kept them (an
    # award stored before findings existed had none).
    findings = from_trace(trace.get("findings"))
    ev = evaluate_in_group(
        policy,
        members,
        profile.profile,
        award.fiscal_year,
        history,
        _decimal(trace.get("reviewer_amount")),
        findings,
    )
    recomputed = as_json(
        {
            "status": ev.status,
            "amount": ev.amount,
            "uncapped_amount": ev.uncapped_amount,
            "formula_steps": [{"name": s.name, "value": s.value} for s in ev.steps],
            "caps_applied": [
                {"cap": c.cap, "limit": c.limit, "before": c.before, "after": c.after}
                for c in ev.caps_applied
            ],
            "findings_used": dict(ev.findings_used),
        }
    )
    stored = {
        "status": trace.get("status"),
        "amount": f"{award.amount:.2f}",
        "uncapped_amount": trace.get("uncapped_amount"),
        "formula_steps": [
            {"name": s["name"], "value": s["value"]} for s in trace.get("formula_steps", [])
        ],
        "caps_applied": [
            {k: c[k] for k in ("cap", "limit", "before", "after")}
            for c in trace.get("caps_applied", [])
        ],
        "findings_used": trace.get("findings_used") or {},
    }
    differences = [
        {"field": key, "stored": stored[key], "recomputed": recomputed[key]}
        for key in stored
        if stored[key] != recomputed[key]
    ]
    return {
        "award_id": award.id,
        "match": not differences,
        "policy_version": award.policy_version,
        "profile_version": award.profile_version,
        "stored": stored,
        "recomputed": recomputed,
        "differences": differences,
    }
