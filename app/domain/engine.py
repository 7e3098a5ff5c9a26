"""Evaluate policies for an enterprise profile and a fiscal year.

``evaluate`` answers for one policy; ``evaluate_catalog`` for many, settling
exclusivity groups between them. Both are pure: the award history the caps need is
passed in, never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from app.catalog.schema import PolicyFile, Version
from app.domain.caps import (
    apply_ceilings,
    history_limits,
    in_force,
)
from app.domain.exclusivity import apply_exclusivity
from app.domain.facts import FactCache, Facts, as_day
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.money import ZERO, to_fen
from app.domain.plan import parameters, version_plan
from app.domain.results import (
    AmountBasis,
    Bilingual,
    ClauseResult,
    Evaluation,
    PriorAward,
    Status,
    Tri,
)

__all__ = [
    "evaluate",
    "evaluate_catalog",
    "evaluate_in_group",
    "group_members",
    "parameters",  # (where the batch engine and the tests take it from)
    "select_version",
]


def select_version(
    policy: PolicyFile, fiscal_year: int, profile: Mapping[str, Any] | None = None
) -> Version | None:
    """The version in force in the fiscal year: the latest one that overlaps it.

    A recognition applied for on last year's accounts (``versions_by: application``)
    takes the version in force on the profile's ``application_date``, or without one
    the latest in force during the year of application, fy+1.
    """
    applied = None
    if policy.versions_by == "application" and profile is not None:
        applied = as_day(profile.get("application_date"))
    key = (id(policy), fiscal_year, applied)
    cached = _SELECTED.get(key)
    if cached is not None and cached[0] is policy:
        return cached[1]
    if policy.versions_by != "application":
        version = _latest_in_force(policy, fiscal_year)
    elif applied is not None:
        version = _in_force_on(policy, applied)
    else:
        version = _latest_in_force(policy, fiscal_year + 1)
    if len(_SELECTED) > 65536:  # tests build many throwaway policies; dates vary
        _SELECTED.clear()
    _SELECTED[key] = (policy, version)
    return version


#: Versions selected by ``(id(policy), fiscal year, application date)`` (the date only
#: for a recognition, else ``None``), with their policy: a recognition's version was
#: chosen afresh twice an answer (``evaluate``, then ``evaluate_catalog``'s groups).
_SELECTED: dict[tuple[int, int, date | None], tuple[PolicyFile, Version | None]] = {}


def _latest_in_force(policy: PolicyFile, year: int) -> Version | None:
    candidates = [v for v in policy.versions if in_force(v.effective.from_, v.effective.to, year)]
    return max(candidates, key=lambda v: v.effective.from_, default=None)


def _in_force_on(policy: PolicyFile, day: date) -> Version | None:
    candidates = [
        v
        for v in policy.versions
        if v.effective.from_ <= day and (v.effective.to is None or day <= v.effective.to)
    ]
    return max(candidates, key=lambda v: v.effective.from_, default=None)


def evaluate(
    policy: PolicyFile,
    profile: Mapping[str, Any],
    fiscal_year: int,
    history: Sequence[PriorAward] = (),
    reviewer_amount: Decimal | None = None,
    findings: Findings = NO_FINDINGS,
    cache: FactCache | None = None,
) -> Evaluation:
    """One policy's verdict, amount and reasons for a profile in a fiscal year.

    ``cache`` shares the profile's facts between the policies of one answer."""
    version = select_version(policy, fiscal_year, profile)
    if version is None:
        return _out_of_force(policy, fiscal_year, profile)

    plan = version_plan(version, fiscal_year)
    params = plan.params
    facts = Facts(profile, fiscal_year, findings, cache)
    eligibility = plan.eligibility.explain(facts)
    own = [a for a in history if a.policy_id == policy.id]
    key = plan.recognition_key(profile)
    limits = (
        history_limits(version.caps, params, policy.id, fiscal_year, own, key)
        if own
        else plan.first_award_limits(policy.id, key)
    )
    reasons = [*eligibility.clauses, *limits]
    group = plan.group

    def answer(
        status: Status,
        amount: Decimal | None = None,
        basis: AmountBasis = "none",
        uncapped: Decimal | None = None,
        missing: Iterable[str] = (),
        required: Iterable[str] = (),
        **extra: Any,
    ) -> Evaluation:
        used = facts.findings_used
        return Evaluation(
            policy.id,
            version.version,
            fiscal_year,
            status,
            None if amount is None else to_fen(amount),
            basis,
            None if uncapped is None else to_fen(uncapped),
            tuple(reasons),
            tuple(sorted(set(missing))) if missing else (),
            facts_read=facts.read,  # (this policy's own: ``facts`` is not used again)
            recognition_key=key,
            exclusivity_group=group,
            findings_required=tuple(sorted(set(required))) if required else (),
            findings_used={k: f.as_trace() for k, f in sorted(used.items())} if used else {},
            **extra,
        )

    if eligibility.truth is Tri.FALSE or any(r.truth is Tri.FALSE for r in limits):
        # The common answer, without the closure's defaults and conversions.
        used = facts.findings_used
        return Evaluation(
            policy.id, version.version, fiscal_year, "ineligible", None, "none", None,
            (*reasons,), (), (), (), facts.read, key, group, (),
            {k: f.as_trace() for k, f in sorted(used.items())} if used else {},
        )  # fmt: skip

    subsidy_year = 1 + len({a.fiscal_year for a in own if a.fiscal_year < fiscal_year})
    formula = plan.formula.explain(facts, subsidy_year)
    steps = formula.steps
    if eligibility.truth is Tri.UNKNOWN or not formula.known:
        missing = [
            *(eligibility.missing if eligibility.truth is Tri.UNKNOWN else ()),
            *formula.missing,
        ]
        required = eligibility.findings if eligibility.truth is Tri.UNKNOWN else ()
        return answer(
            "undetermined", basis=formula.basis, missing=missing, required=required, steps=steps
        )
    if formula.nothing_due is not None:
        reasons.append(formula.nothing_due)
        return answer("ineligible", basis=formula.basis, steps=steps)

    uncapped = reviewer_amount if formula.basis == "set_by_reviewer" else formula.amount
    if uncapped is None:
        return answer("eligible", basis=formula.basis, steps=steps)
    if uncapped <= ZERO:
        # Fix (tests/unit): a formula over reported facts (a negative rent or revenue, a
        # "-0") came out as a negative award or "-0.00"; an award is never below zero.
        uncapped = ZERO
    amount, caps = apply_ceilings(uncapped, version.caps, params)
    if amount <= ZERO and uncapped > ZERO:
        reasons.append(
            ClauseResult(
                "caps.exhausted",
                Tri.FALSE,
                Bilingual("奖励上限为零,无可奖励金额", "the cap leaves nothing to award"),
            )
        )
        return answer("ineligible", basis=formula.basis, steps=steps, caps_applied=tuple(caps))
    return answer(
        "eligible", amount, formula.basis, uncapped, steps=steps, caps_applied=tuple(caps)
    )


def _out_of_force(policy: PolicyFile, fiscal_year: int, profile: Mapping[str, Any]) -> Evaluation:
    """The answer for a policy with no version in force: the same for every profile
    of the fiscal year, so made once (a recognition's depends on the profile's
    application date, so it is made afresh)."""
    if policy.versions_by != "application":
        cached = _OUT_OF_FORCE.get((id(policy), fiscal_year))
        if cached is not None and cached[0] is policy:
            return cached[1]
    reason = ClauseResult("effective", Tri.FALSE, _not_in_force(policy, fiscal_year))
    answer = Evaluation(
        policy.id, None, fiscal_year, "ineligible", None, "none", None, (reason,), ()
    )
    if policy.versions_by != "application":
        if len(_OUT_OF_FORCE) > 65536:  # tests build many throwaway policies
            _OUT_OF_FORCE.clear()
        _OUT_OF_FORCE[(id(policy), fiscal_year)] = (policy, answer)
    return answer


#: Answers of policies out of force, by ``(id(policy), fiscal year)``, with the policy.
_OUT_OF_FORCE: dict[tuple[int, int], tuple[PolicyFile, Evaluation]] = {}


def _not_in_force(policy: PolicyFile, fiscal_year: int) -> Bilingual:
    if policy.versions_by == "application":
        return Bilingual(
            f"该认定在依据 {fiscal_year} 年度数据申报时不适用(申报年份 {fiscal_year + 1})",
            f"the recognition is not in force for an application on fiscal year {fiscal_year}'s"
            f" accounts (applied for in {fiscal_year + 1})",
        )
    first = min(v.effective.from_ for v in policy.versions)
    ends = [v.effective.to for v in policy.versions]
    last = None if None in ends else max(e for e in ends if e is not None)
    if fiscal_year < first.year:
        return Bilingual(
            f"该政策在 {fiscal_year} 年度不适用:目录收录的最早版本自 {first} 起施行",
            f"the policy is not in force in fiscal year {fiscal_year}: the earliest version"
            f" the catalog holds took effect on {first}",
        )
    if last is not None and fiscal_year > last.year:
        return Bilingual(
            f"该政策在 {fiscal_year} 年度不适用:目录收录的最新版本已于 {last} 到期",
            f"the policy is not in force in fiscal year {fiscal_year}: the latest version"
            f" the catalog holds ended on {last}",
        )
    return Bilingual(
        f"该政策在 {fiscal_year} 年度不适用",
        f"the policy is not in force in fiscal year {fiscal_year}",
    )


def evaluate_catalog(
    policies: Iterable[PolicyFile],
    profile: Mapping[str, Any],
    fiscal_year: int,
    history: Sequence[PriorAward] = (),
    findings: Findings = NO_FINDINGS,
) -> list[Evaluation]:
    """Every policy's answer, with exclusivity groups settled between them."""
    policies = list(policies)
    cache = FactCache(profile)
    evaluations = [
        evaluate(p, profile, fiscal_year, history, findings=findings, cache=cache) for p in policies
    ]
    modes: dict[str, str] = {}
    for policy in policies:
        version = select_version(policy, fiscal_year, profile)
        if version is not None and version.exclusivity is not None:
            modes[version.exclusivity.group] = version.exclusivity.mode
    return apply_exclusivity(evaluations, modes, history)


def evaluate_in_group(
    policy: PolicyFile,
    members: Sequence[PolicyFile],
    profile: Mapping[str, Any],
    fiscal_year: int,
    history: Sequence[PriorAward] = (),
    reviewer_amount: Decimal | None = None,
    findings: Findings = NO_FINDINGS,
) -> Evaluation:
    """One policy's answer with its exclusivity group settled, as the whole catalog would.

    ``members`` are the policies of its group (itself included). A reviewer-set amount
    is the reviewer's decision, so it is not re-ranked against the group.
    """
    if reviewer_amount is not None or len(members) <= 1:
        return evaluate(policy, profile, fiscal_year, history, reviewer_amount, findings)
    evaluations = evaluate_catalog(members, profile, fiscal_year, history, findings)
    return next(e for e in evaluations if e.policy_id == policy.id)


def group_members(
    policies: Iterable[PolicyFile], policy: PolicyFile, fiscal_year: int
) -> list[PolicyFile]:
    """The policies that share the policy's exclusivity group in that fiscal year (itself included)."""
    version = select_version(policy, fiscal_year)
    if version is None or version.exclusivity is None:
        return [policy]
    group = version.exclusivity.group
    return [
        p
        for p in policies
        if (v := select_version(p, fiscal_year)) is not None
        and v.exclusivity
        and v.exclusivity.group == group
    ]
