"""Computing an award from a stored profile and storing it with its full trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.catalog.loader import Catalog
from app.catalog.schema import PolicyFile
from app.db import repositories as repo
from app.db.models import Award, AwardEvent, ProfileVersion
from app.db.repositories.plain_pg import LockedAward
from app.domain.engine import evaluate_in_group, group_members, select_version
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.results import Evaluation, PriorAward, as_json
from app.services import audit
from app.services.access import Place, check_award, hide_labels, shown_actor
from app.services.actors import Actor
from app.services.catalog_sync import store_policy_version
from app.services.errors import Conflict, Invalid, NotEligible, NotFound
from app.services.findings import current_findings, trace_findings
from app.services.matching import reason_json


def prior_awards(awards: Sequence[Award]) -> list[PriorAward]:
    return [
        PriorAward(a.policy_id, a.fiscal_year, a.amount, a.recognition_key, a.exclusivity_group)
        for a in awards
    ]


def payer_of(policy: PolicyFile, enterprise: Place) -> tuple[str, str | None]:
    """Who pays: the policy's fixed payer, or the enterprise's own district, park or city."""
    if policy.payer is None:
        return "none", None
    if policy.payer.jurisdiction:
        return policy.payer.level, policy.payer.jurisdiction
    own = {
        "district": enterprise.district,
        "park": enterprise.park or enterprise.district,
        "city": enterprise.city,
        "province": enterprise.province,
    }.get(policy.payer.level)
    return policy.payer.level, own


def _refuse(ev: Evaluation) -> None:
    reasons = [reason_json(r) for r in ev.reasons]
    if ev.status == "ineligible":
        failed = [r.text.en for r in ev.reasons if r.met is False]
        raise NotEligible(
            "the enterprise is not eligible: " + "; ".join(failed[:3]),
            reasons=reasons,
            missing_facts=[],
        )
    waiting = []
    if ev.missing_facts:
        waiting.append("these facts are given: " + ", ".join(ev.missing_facts))
    if ev.findings_required:
        waiting.append(
            "a reviewer records these findings (POST /v1/enterprises/{id}/findings): "
            + ", ".join(ev.findings_required)
        )
    raise NotEligible(
        "eligibility cannot be settled until " + " and ".join(waiting or ["more is known"]),
        reasons=reasons,
        missing_facts=list(ev.missing_facts),
        findings_required=list(ev.findings_required),
    )


def _amount(policy: PolicyFile, ev: Evaluation, requested: Decimal | None) -> Decimal:
    if ev.amount_basis == "set_by_reviewer":
        if requested is None:
            raise Invalid(
                "this policy's amount is set by the reviewing department: send `amount`",
                errors=[{"pointer": "/amount", "detail": "required for this policy"}],
            )
        if ev.amount is not None and ev.amount < requested:
            raise Invalid(
                f"the amount {requested:.2f} is above the policy's cap {ev.amount:.2f}",
                errors=[{"pointer": "/amount", "detail": f"at most {ev.amount:.2f}"}],
            )
    elif requested is not None:
        raise Invalid(
            "this policy's amount is computed from the profile; do not send `amount`",
            errors=[{"pointer": "/amount", "detail": "remove it"}],
        )
    if ev.amount_basis in ("none", "estimate") or ev.amount is None:
        kind = "a tax-benefit estimate" if ev.amount_basis == "estimate" else "no money"
        raise Invalid(
            f"policy {policy.id} gives {kind}; there is no award to store",
            errors=[{"pointer": "/policy_id", "detail": "choose a policy that pays an award"}],
        )
    return ev.amount


def trace_of(
    ev: Evaluation,
    profile: ProfileVersion,
    catalog_hash: str,
    reviewer: Decimal | None,
    history: Sequence[PriorAward] = (),
    group_versions: dict[str, str] | None = None,
    findings: Findings = NO_FINDINGS,
) -> dict[str, Any]:
    """Everything needed to explain the award and to replay it from the database alone."""
    trace: dict[str, Any] = as_json(
        {
            "computed_at": datetime.now(UTC).isoformat(),
            "fiscal_year": ev.fiscal_year,
            "policy_version": ev.policy_version,
            "catalog_hash": catalog_hash,
            "profile_version": profile.version,
            "profile_hash": profile.profile_hash,
            "status": ev.status,
            "facts_read": dict(ev.facts_read),
            "clauses": [reason_json(r) for r in ev.reasons],
            "formula_steps": [
                {"name": s.name, "value": s.value, "text": {"zh": s.text.zh, "en": s.text.en}}
                for s in ev.steps
            ],
            "caps_applied": [
                {
                    "cap": c.cap,
                    "limit": c.limit,
                    "before": c.before,
                    "after": c.after,
                    "text": {"zh": c.text.zh, "en": c.text.en},
                }
                for c in ev.caps_applied
            ],
            "uncapped_amount": ev.uncapped_amount,
            "amount": ev.amount,
            "amount_basis": ev.amount_basis,
            "reviewer_amount": reviewer,
            # What the caps and the exclusivity group saw, for replay.
            "history": [
                {
                    "policy_id": h.policy_id,
                    "fiscal_year": h.fiscal_year,
                    "amount": h.amount,
                    "recognition_key": h.recognition_key,
                    "exclusivity_group": h.exclusivity_group,
                }
                for h in history
            ],
            "group_policy_versions": group_versions or {},
            # The reviewers' findings the answer rests on (who found what, and when), and
            # every current finding the evaluation was given, which replay reads back.
            "findings_used": dict(ev.findings_used),
            "findings": trace_findings(findings),
        }
    )
    return trace


def compute_award(
    session: Session,
    catalog: Catalog,
    *,
    enterprise_id: str,
    policy_id: str,
    fiscal_year: int,
    amount: Decimal | None,
    actor: Actor,
    supersedes: Award | None = None,
) -> Award:
    """Compute the capped amount from the stored profile and store the award.

    The enterprise row is locked first, so two requests for the same enterprise see
    each other's awards (caps across years and groups hold under concurrency).
    """
    policy = catalog.policies.get(policy_id)
    if policy is None:
        raise Invalid(
            f"no policy `{policy_id}`",
            errors=[
                {"pointer": "/policy_id", "detail": f"known: {', '.join(sorted(catalog.policies))}"}
            ],
        )
    audit.serialize(session)
    enterprise = repo.lock_enterprise(session, enterprise_id)
    if enterprise is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    live = repo.live_awards_for(session, enterprise.id)
    same = [
        a
        for a in live
        if a.policy_id == policy_id
        and a.fiscal_year == fiscal_year
        and (supersedes is None or a.id != supersedes.id)
    ]
    if same:
        raise Conflict(
            f"award {same[0].id} for {policy_id} in {fiscal_year} already exists ({same[0].status})",
            existing_id=same[0].id,
        )
    profile = repo.get_profile_version(session, enterprise.id, enterprise.current_version)
    assert profile is not None, "every enterprise has a profile version"
    history = prior_awards([a for a in live if supersedes is None or a.id != supersedes.id])
    members = group_members(catalog, policy, fiscal_year)
    findings = current_findings(session, enterprise.id, fiscal_year)
    ev = evaluate_in_group(policy, members, profile.profile, fiscal_year, history, amount, findings)
    if ev.status != "eligible":
        _refuse(ev)
    award_amount = _amount(policy, ev, amount)
    # The version the evaluation used (one chosen by application date follows the profile).
    version = select_version(policy, fiscal_year, profile.profile)
    assert version is not None
    stored_version = store_policy_version(session, policy, version)
    group_versions = {}
    for member in members:
        member_version = select_version(member, fiscal_year, profile.profile)
        if member_version is None:
            continue  # not in force for this application: it took no part in the group
        group_versions[member.id] = store_policy_version(session, member, member_version).id
    payer_level, payer_jurisdiction = payer_of(policy, enterprise)
    award = repo.add_award(
        session,
        Award(
            enterprise_id=enterprise.id,
            policy_id=policy.id,
            policy_version_id=stored_version.id,
            policy_version=version.version,
            fiscal_year=fiscal_year,
            status="computed",
            amount=award_amount,
            uncapped_amount=ev.uncapped_amount,
            amount_basis=ev.amount_basis,
            payer_level=payer_level,
            payer_jurisdiction=payer_jurisdiction,
            catalog_hash=catalog.hash,
            profile_version_id=profile.id,
            profile_version=profile.version,
            trace=trace_of(ev, profile, catalog.hash, amount, history, group_versions, findings),
            recognition_key=ev.recognition_key,
            exclusivity_group=ev.exclusivity_group,
            created_by=actor.label,
            supersedes_id=supersedes.id if supersedes else None,
            revision=(supersedes.revision + 1) if supersedes else 1,
        ),
    )
    repo.add_award_event(
        session,
        AwardEvent(
            award_id=award.id,
            from_status=None,
            to_status="computed",
            actor=actor.label,
            reason=None,
            details={"amount": f"{award.amount:.2f}"},
        ),
    )
    audit.record(
        session,
        actor=actor.label,
        action="award.computed",
        object_type="award",
        object_id=award.id,
        payload={
            "enterprise_id": enterprise.id,
            "policy_id": policy.id,
            "fiscal_year": fiscal_year,
            "amount": f"{award.amount:.2f}",
            "amount_basis": award.amount_basis,
            "policy_version": award.policy_version,
            "profile_version": award.profile_version,
            "supersedes_id": award.supersedes_id,
            "reviewer_amount": amount,
        },
    )
    return award


def visible_award(session: Session, catalog: Catalog, actor: Actor, award_id: str) -> Award:
    """The award if the actor may see it (404 otherwise, as if it did not exist)."""
    award = repo.get_award(session, award_id)
    enterprise = repo.get_enterprise(session, award.enterprise_id) if award else None
    return check_award(actor, catalog, award, enterprise, award_id)


def award_json(
    award: Award | LockedAward, viewer: Actor, with_trace: bool = False
) -> dict[str, Any]:
    """The award as ``viewer`` sees it (an enterprise key is not shown who acted by name).

    ``award`` may be the row a transition read on PostgreSQL (``plain_pg``), which
    holds the trace's caps but not the trace."""
    trace = None
    if with_trace:
        assert isinstance(award, Award), "only a loaded award has its whole trace"
        trace = trace_for(viewer, award.trace)
    return {
        "id": award.id,
        "enterprise_id": award.enterprise_id,
        "policy_id": award.policy_id,
        "policy_version": award.policy_version,
        "fiscal_year": award.fiscal_year,
        "status": award.status,
        "amount": award.amount,
        "uncapped_amount": award.uncapped_amount,
        "amount_basis": award.amount_basis,
        "caps_applied": award.caps_applied,
        "payer": {"level": award.payer_level, "jurisdiction": award.payer_jurisdiction},
        "catalog_hash": award.catalog_hash,
        "profile_version": award.profile_version,
        "revision": award.revision,
        "supersedes_id": award.supersedes_id,
        "notice_start": award.notice_start,
        "notice_end": award.notice_end,
        "created_by": shown_actor(viewer, award.created_by),
        "created_at": award.created_at,
        "updated_at": award.updated_at,
        "trace": trace,
    }


def trace_for(viewer: Actor, trace: dict[str, Any]) -> dict[str, Any]:
    """The trace as ``viewer`` sees it: an enterprise key sees the role of the reviewers
    whose findings it names, never their key's label or prefix."""
    shown: dict[str, Any] = hide_labels(viewer, trace, reviewers_in(trace))
    return shown


def reviewers_in(trace: Mapping[str, Any]) -> set[str]:
    """The reviewers named by a trace's findings."""
    return {
        f["reviewer"]
        for part in ("findings", "findings_used")
        for f in (trace.get(part) or {}).values()
        if isinstance(f, dict) and isinstance(f.get("reviewer"), str)
    }
