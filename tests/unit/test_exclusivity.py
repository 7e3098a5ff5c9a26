"""Exclusivity groups settled between policies: highest only, and top-up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.catalog.schema import PolicyFile
from app.domain.engine import evaluate_catalog
from app.domain.exclusivity import apply_exclusivity
from app.domain.results import Evaluation

from .builders import FY, award, policy, reason_text

GROUP = "green"


def member(policy_id: str, amount: int, mode: str = "highest_only", **options: Any) -> PolicyFile:
    return policy(
        formula={"fixed": amount}, policy_id=policy_id, exclusivity=(GROUP, mode), **options
    )


def by_id(evaluations: list[Evaluation]) -> dict[str, Evaluation]:
    return {ev.policy_id: ev for ev in evaluations}


# --------------------------------------------------------------------------- highest only


def test_highest_only_pays_the_higher_and_names_it_for_the_lower() -> None:
    result = by_id(evaluate_catalog([member("xx-low", 300), member("xx-high", 500)], {}, FY))
    assert result["xx-high"].status == "eligible"
    assert result["xx-high"].amount == Decimal("500.00")
    low = result["xx-low"]
    assert low.status == "ineligible"
    assert low.amount is None
    assert low.missing_facts == ()
    last = low.reasons[-1]
    assert last.clause == f"exclusivity.{GROUP}"
    assert last.met is False
    assert "xx-high" in last.text.en and "xx-high" in last.text.zh
    assert "highest only" in last.text.en


def test_highest_only_ties_are_broken_by_policy_id() -> None:
    for order in (["xx-b", "xx-a"], ["xx-a", "xx-b"]):
        result = by_id(evaluate_catalog([member(pid, 500) for pid in order], {}, FY))
        assert result["xx-a"].status == "eligible"
        assert result["xx-b"].status == "ineligible"
        assert "xx-a" in reason_text(result["xx-b"])


def test_results_keep_the_catalog_order() -> None:
    policies = [member("xx-low", 300), member("xx-high", 500), policy(policy_id="xx-free")]
    assert [ev.policy_id for ev in evaluate_catalog(policies, {}, FY)] == [
        "xx-low",
        "xx-high",
        "xx-free",
    ]


def test_only_eligible_members_compete() -> None:
    unknown = member("xx-unknown", 9999, eligibility={"fact": "employees", "op": "ge", "value": 1})
    result = by_id(evaluate_catalog([unknown, member("xx-known", 100)], {}, FY))
    assert result["xx-unknown"].status == "undetermined"
    assert result["xx-unknown"].missing_facts == ("employees",)
    assert result["xx-known"].status == "eligible"


def test_three_members_only_one_paid() -> None:
    policies = [member("xx-a", 100), member("xx-b", 300), member("xx-c", 200)]
    result = by_id(evaluate_catalog(policies, {}, FY))
    assert [pid for pid, ev in result.items() if ev.status == "eligible"] == ["xx-b"]


def test_policies_outside_the_group_are_untouched() -> None:
    outside = policy(formula={"fixed": 50}, policy_id="xx-outside")
    result = by_id(evaluate_catalog([member("xx-a", 100), outside], {}, FY))
    assert result["xx-outside"].status == "eligible"
    assert result["xx-outside"].amount == Decimal("50.00")


def test_prior_award_in_the_group_this_year_blocks_the_others() -> None:
    history = [award("xx-paid", FY, "100", group=GROUP)]
    policies = [member("xx-a", 300), member("xx-b", 500)]
    result = by_id(evaluate_catalog(policies, {}, FY, history))
    for pid in ("xx-a", "xx-b"):
        assert result[pid].status == "ineligible"
        assert "xx-paid" in reason_text(result[pid])


def test_prior_award_of_a_member_blocks_the_other_members() -> None:
    history = [award("xx-a", FY, "300", group=GROUP)]
    result = by_id(evaluate_catalog([member("xx-a", 300), member("xx-b", 500)], {}, FY, history))
    assert result["xx-a"].status == "ineligible"  # one award per policy and year
    assert result["xx-b"].status == "ineligible"  # the group has paid this year
    assert "xx-a" in reason_text(result["xx-b"])


def test_prior_award_in_another_year_or_group_does_not_block() -> None:
    history = [
        award("xx-paid", FY - 1, "100", group=GROUP),
        award("xx-other", FY, "100", group="other"),
    ]
    result = by_id(evaluate_catalog([member("xx-a", 300)], {}, FY, history))
    assert result["xx-a"].status == "eligible"


# --------------------------------------------------------------------------- top up


def test_top_up_pays_only_the_difference_above_a_prior_award() -> None:
    history = [award("xx-district", FY, "300", group=GROUP)]
    result = by_id(evaluate_catalog([member("xx-city", 500, "top_up")], {}, FY, history))
    city = result["xx-city"]
    assert city.status == "eligible"
    assert city.amount == Decimal("200.00")
    top_up = city.caps_applied[-1]
    assert top_up.cap == "exclusivity_top_up"
    assert (top_up.before, top_up.after) == (Decimal("500.00"), Decimal("200.00"))
    assert "300.00" in top_up.text.en and "300.00" in top_up.text.zh


def test_top_up_uses_the_highest_prior_award() -> None:
    history = [award("xx-d1", FY, "100", group=GROUP), award("xx-d2", FY, "450.5", group=GROUP)]
    result = by_id(evaluate_catalog([member("xx-city", 500, "top_up")], {}, FY, history))
    assert str(result["xx-city"].amount) == "49.50"


def test_top_up_excludes_lower_members() -> None:
    policies = [member("xx-low", 300, "top_up"), member("xx-high", 500, "top_up")]
    result = by_id(evaluate_catalog(policies, {}, FY))
    assert result["xx-high"].status == "eligible"
    assert result["xx-high"].amount == Decimal("500.00")
    assert result["xx-low"].status == "ineligible"
    assert result["xx-low"].amount is None
    assert "topping up" in reason_text(result["xx-low"])


def test_top_up_with_a_higher_prior_award_leaves_nothing() -> None:
    history = [award("xx-province", FY, "800", group=GROUP)]
    result = by_id(evaluate_catalog([member("xx-city", 500, "top_up")], {}, FY, history))
    assert result["xx-city"].status == "ineligible"
    assert result["xx-city"].amount is None


def test_top_up_prior_and_two_members() -> None:
    history = [award("xx-district", FY, "350", group=GROUP)]
    policies = [member("xx-low", 300, "top_up"), member("xx-high", 500, "top_up")]
    result = by_id(evaluate_catalog(policies, {}, FY, history))
    assert result["xx-high"].amount == Decimal("150.00")
    assert result["xx-low"].status == "ineligible"


def test_apply_exclusivity_without_groups_changes_nothing() -> None:
    evaluations = evaluate_catalog([policy(policy_id="xx-a"), policy(policy_id="xx-b")], {}, FY)
    assert apply_exclusivity(evaluations, {}, []) == evaluations
