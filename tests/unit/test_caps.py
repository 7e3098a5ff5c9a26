"""Caps: ceilings on the amount, limits from the award history, rounding, versions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from app.domain.caps import in_force, recognition_key
from app.domain.engine import parameters, select_version

from .builders import FY, award, policy, reason_text, run, version

RENT = {
    "share": {
        "base": {"fact": "years.{fy}.rent_paid"},
        "rate": {"by_subsidy_year": {1: "1", 2: "0.5", 3: "0.25"}, "default": "0.1"},
    }
}


def rent(amount: Any = 1000) -> dict[str, Any]:
    return {"years": {str(FY): {"rent_paid": amount}}}


# --------------------------------------------------------------------------- per award


def test_per_award_cap_bites() -> None:
    ev = run(
        policy(formula={"fixed": 2500000}, caps={"per_award": "$cap"}, params={"cap": 2000000})
    )
    assert ev.status == "eligible"
    assert ev.amount == Decimal("2000000.00")
    assert ev.uncapped_amount == Decimal("2500000.00")
    (cap,) = ev.caps_applied
    assert (cap.cap, cap.limit, cap.before, cap.after) == (
        "per_award",
        Decimal(2000000),
        Decimal(2500000),
        Decimal(2000000),
    )
    assert "2000000.00" in cap.text.en and "2000000.00" in cap.text.zh


def test_per_award_cap_below_it_is_reported_but_changes_nothing() -> None:
    ev = run(policy(formula={"fixed": 100}, caps={"per_award": 500}))
    assert ev.amount == Decimal("100.00")
    assert ev.caps_applied[0].before == ev.caps_applied[0].after == Decimal(100)


def test_a_second_award_in_a_year_is_refused_not_topped_up_to_a_yearly_ceiling() -> None:
    # The case that tells the two readings apart: a yearly ceiling shared by tranches
    # would pay the 4,000.00 of room left; one award a year pays nothing more.
    pol = policy(formula={"fixed": 5000}, caps={"per_award": 5000})
    ev = run(pol, history=[award(fiscal_year=FY, amount="1000")])
    assert ev.status == "ineligible"
    assert ev.amount is None
    assert [c.clause for c in ev.reasons if c.met is False] == ["caps.one_award_per_year"]
    # an award of this policy for an earlier year leaves this year's award whole
    ev = run(pol, history=[award(fiscal_year=FY - 1, amount="4900")])
    assert ev.amount == Decimal("5000.00")


def test_a_yearly_room_cap_is_refused_by_the_loader() -> None:
    with pytest.raises(ValidationError) as refused:
        policy(formula={"fixed": 400}, caps={"per_enterprise_per_year": 1000})
    assert "per_award" in str(refused.value)


def test_a_zero_ceiling_leaves_nothing_to_award() -> None:
    ev = run(policy(formula={"fixed": 100}, caps={"per_award": 0}))
    assert ev.status == "ineligible"
    assert ev.amount is None
    assert "the cap leaves nothing to award" in reason_text(ev)


# --------------------------------------------------------------------------- max years


def test_max_years_reached_is_ineligible() -> None:
    pol = policy(formula=RENT, caps={"max_years": 3})
    history = [award(fiscal_year=y) for y in (FY - 3, FY - 2, FY - 1)]
    ev = run(pol, rent(), history=history)
    assert ev.status == "ineligible"
    assert ev.amount is None
    assert ev.missing_facts == ()
    assert "at most 3 fiscal years" in reason_text(ev)
    assert "最多享受 3 个年度" in reason_text(ev)
    (clause,) = [r for r in ev.reasons if r.clause == "caps.max_years"]
    assert clause.met is False
    assert clause.actual == 3 and clause.required == 3


def test_max_years_not_reached_uses_the_subsidy_year_rate() -> None:
    pol = policy(formula=RENT, caps={"max_years": "$years"}, params={"years": 3})
    history = [award(fiscal_year=FY - 2), award(fiscal_year=FY - 1)]
    ev = run(pol, rent(), history=history)
    assert ev.status == "eligible"
    assert ev.amount == Decimal("250.00")  # subsidy year 3: 25%
    (clause,) = [r for r in ev.reasons if r.clause == "caps.max_years"]
    assert clause.met is True


def test_max_years_ignores_other_policies_and_counts_distinct_years() -> None:
    pol = policy(formula=RENT, caps={"max_years": 3})
    history = [
        award(fiscal_year=FY - 3),
        award(fiscal_year=FY - 3, amount="5"),
        award("xx-other", FY - 2),
        award("xx-other", FY - 1),
    ]
    ev = run(pol, rent(), history=history)
    assert ev.status == "eligible"
    assert ev.amount == Decimal("500.00")  # subsidy year 2


def test_subsidy_year_counts_only_earlier_years() -> None:
    ev = run(policy(formula=RENT), rent(), history=[award(fiscal_year=FY + 1)])
    assert ev.amount == Decimal("1000.00")


# --------------------------------------------------------------------------- once per


def test_once_per_enterprise() -> None:
    pol = policy(formula={"fixed": 100}, caps={"once_per": "enterprise"})
    assert run(pol).status == "eligible"
    ev = run(pol, history=[award(fiscal_year=FY - 5)])
    assert ev.status == "ineligible"
    assert "once per enterprise" in reason_text(ev)
    assert str(FY - 5) in reason_text(ev)
    assert run(pol, history=[award("xx-other", FY - 5)]).status == "eligible"


def recognized(granted_on: str) -> dict[str, Any]:
    return {
        "recognitions": [
            {"kind": "quality_benchmark", "level": "national", "granted_on": granted_on}
        ]
    }


def test_once_per_recognition() -> None:
    pol = policy(
        {"recognition": {"kind": "quality_benchmark", "levels": ["national"]}},
        {"fixed": "$cap"},
        {"per_award": "$cap", "once_per": "recognition", "recognition_kind": "quality_benchmark"},
        params={"cap": 500000},
    )
    first = run(pol, recognized("2023-06-01"))
    assert first.status == "eligible"
    assert first.recognition_key == "quality_benchmark:2023-06-01"
    paid = award(fiscal_year=FY - 1, amount="500000", recognition_key=first.recognition_key)
    again = run(pol, recognized("2023-06-01"), history=[paid])
    assert again.status == "ineligible"
    assert "already awarded" in reason_text(again)
    # a new recognition (a later grant date) is a new key: eligible again
    renewed = run(pol, recognized("2026-06-01"), fiscal_year=2026, history=[paid])
    assert renewed.status == "eligible"
    assert renewed.recognition_key == "quality_benchmark:2026-06-01"
    assert renewed.amount == Decimal("500000.00")


def test_a_new_grant_at_a_level_the_policy_ignores_does_not_reopen_the_award() -> None:
    pol = policy(
        {"recognition": {"kind": "quality_benchmark", "levels": ["national"]}},
        {"fixed": 100},
        {"once_per": "recognition", "recognition_kind": "quality_benchmark"},
    )
    national = {"kind": "quality_benchmark", "level": "national", "granted_on": "2023-06-01"}
    first = run(pol, {"recognitions": [national]}, fiscal_year=2023)
    paid = award(fiscal_year=2023, recognition_key=first.recognition_key)
    municipal = {"kind": "quality_benchmark", "level": "municipal", "granted_on": "2025-01-01"}
    later = run(pol, {"recognitions": [national, municipal]}, fiscal_year=2025, history=[paid])
    assert later.status == "ineligible"


def test_recognition_key_is_the_latest_grant_of_that_kind() -> None:
    profile = {
        "recognitions": [
            {"kind": "quality_benchmark", "granted_on": "2020-01-01"},
            {"kind": "quality_benchmark", "granted_on": "2023-01-01"},
            {"kind": "ip_benchmark", "granted_on": "2024-01-01"},
            "junk",
        ]
    }
    assert recognition_key(profile, "quality_benchmark") == "quality_benchmark:2023-01-01"
    assert recognition_key(profile, "green_factory") is None
    assert recognition_key({}, "quality_benchmark") is None


# --------------------------------------------------------------------------- one award a year


def test_one_award_per_policy_per_fiscal_year() -> None:
    pol = policy(formula={"fixed": 100})
    ev = run(pol, history=[award(fiscal_year=FY, amount="100")])
    assert ev.status == "ineligible"
    (clause,) = [r for r in ev.reasons if r.clause == "caps.one_award_per_year"]
    assert "100.00" in clause.text.en
    assert str(FY) in clause.text.en and str(FY) in clause.text.zh
    # an award of another policy, or of another year, does not count
    assert run(pol, history=[award("xx-other", FY)]).status == "eligible"
    assert run(pol, history=[award(fiscal_year=FY - 1)]).status == "eligible"


def test_history_settles_even_when_eligibility_is_unknown() -> None:
    pol = policy({"fact": "employees", "op": "ge", "value": 1}, caps={"max_years": 1})
    ev = run(pol, {}, history=[award(fiscal_year=FY - 1)])
    assert ev.status == "ineligible"
    assert ev.missing_facts == ()


# --------------------------------------------------------------------------- rounding


def test_rounding_half_up_once_at_the_end() -> None:
    formula = {"share": {"base": {"fact": "x"}, "rate": {"default": "0.5"}}}
    ev = run(policy(formula=formula), {"x": "0.25"})  # 0.125 -> 0.13
    assert str(ev.amount) == "0.13"
    assert str(ev.uncapped_amount) == "0.13"
    ev = run(policy(formula=formula), {"x": "5.35"})  # 2.675 -> 2.68
    assert str(ev.amount) == "2.68"


def test_caps_apply_to_the_unrounded_amount() -> None:
    formula = {"share": {"base": {"fact": "x"}, "rate": {"default": "0.1"}}}
    ev = run(policy(formula=formula, caps={"per_award": 100}), {"x": "1000.06"})
    # 100.006 is capped at 100 and only then rounded; the uncapped figure is rounded too
    assert str(ev.amount) == "100.00"
    assert str(ev.uncapped_amount) == "100.01"
    assert ev.caps_applied[0].before == Decimal("100.006")


def test_per_unit_rounds_once() -> None:
    formula = {
        "per_unit": {
            "quantity": {"fact": "q"},
            "unit_price": {"fact": "p"},
            "periods": 3,
            "rate": {"default": "0.5"},
        }
    }
    # 1.5 × 3.11 × 3 × 0.5 = 6.9975 -> 7.00 (rounding the price first would give 6.99…)
    ev = run(policy(formula=formula), {"q": "1.5", "p": "3.11"})
    assert str(ev.amount) == "7.00"


@pytest.mark.parametrize("x", ["0.01", "12345.675", "99999999.995", "3"])
def test_amounts_always_have_two_places(x: str) -> None:
    formula = {"share": {"base": {"fact": "x"}, "rate": {"default": "1"}}}
    ev = run(policy(formula=formula), {"x": x})
    assert ev.amount is not None
    assert ev.amount.as_tuple().exponent == -2


# --------------------------------------------------------------------------- versions


def two_versions() -> Any:
    return policy(
        versions=[
            version(
                formula={"fixed": 1000},
                caps={"per_award": "$cap"},
                name="2020.1",
                params={"cap": 500},
                effective_from="2020-01-01",
                effective_to="2022-06-30",
            ),
            version(
                formula={"fixed": 1000},
                caps={"per_award": "$cap"},
                name="2022.2",
                params={"cap": 800},
                effective_from="2022-07-01",
            ),
        ]
    )


@pytest.mark.parametrize(
    ("fiscal_year", "name", "amount"),
    [
        (2020, "2020.1", "500.00"),
        (2021, "2020.1", "500.00"),
        (2022, "2022.2", "800.00"),
        (2030, "2022.2", "800.00"),
    ],
)
def test_version_selected_by_fiscal_year(fiscal_year: int, name: str, amount: str) -> None:
    pol = two_versions()
    ev = run(pol, fiscal_year=fiscal_year)
    assert ev.policy_version == name
    assert str(ev.amount) == amount
    chosen = select_version(pol, fiscal_year)
    assert chosen is not None and chosen.version == name
    assert parameters(chosen)["cap"] == Decimal(amount)


def test_year_before_the_first_version_is_not_in_force() -> None:
    ev = run(two_versions(), fiscal_year=2019)
    assert ev.status == "ineligible"
    assert ev.policy_version is None
    assert ev.amount is None
    assert ev.missing_facts == ()
    assert "not in force" in reason_text(ev)
    assert "不适用" in reason_text(ev)
    assert select_version(two_versions(), 2019) is None


def test_year_after_an_ended_version_is_not_in_force() -> None:
    pol = policy(effective_from="2020-01-01", effective_to="2022-12-31")
    assert run(pol, fiscal_year=2022).status == "eligible"
    assert run(pol, fiscal_year=2023).status == "ineligible"


def test_in_force_overlap() -> None:
    from datetime import date

    assert in_force(date(2022, 7, 1), None, 2022)
    assert in_force(date(2020, 1, 1), date(2022, 1, 1), 2022)
    assert not in_force(date(2020, 1, 1), date(2021, 12, 31), 2022)
    assert not in_force(date(2023, 1, 1), None, 2022)


def test_a_huge_amount_is_capped_and_still_rounded() -> None:
    formula = {"share": {"base": {"fact": "x"}, "rate": {"default": "1"}}}
    ev = run(policy(formula=formula, caps={"per_award": 500000}), {"x": "1e30"})
    assert str(ev.amount) == "500000.00"
    assert str(ev.uncapped_amount) == "1" + "0" * 30 + ".00"


def test_once_per_recognition_over_several_kinds_pays_each_listing_once() -> None:
    # A green factory listing, then a green supply-chain listing a year later: two
    # listings, two awards; the same listing never twice.
    listed = {
        "any": [
            {"recognition": {"kind": "green_factory", "levels": ["national"]}},
            {"recognition": {"kind": "green_supply_chain", "levels": ["national"]}},
        ]
    }
    kinds = ["green_factory", "green_supply_chain"]
    pol = policy(listed, {"fixed": 100}, {"once_per": "recognition", "recognition_kind": kinds})
    factory = {"kind": "green_factory", "level": "national", "granted_on": "2023-03-01"}
    chain = {"kind": "green_supply_chain", "level": "national", "granted_on": "2024-03-01"}
    first = run(pol, {"recognitions": [factory]}, fiscal_year=2023)
    assert first.status == "eligible"
    assert first.recognition_key == "green_factory:2023-03-01"
    paid = award(fiscal_year=2023, recognition_key=first.recognition_key)
    same = run(pol, {"recognitions": [factory]}, fiscal_year=2024, history=[paid])
    assert same.status == "ineligible"
    second = run(pol, {"recognitions": [factory, chain]}, fiscal_year=2024, history=[paid])
    assert second.status == "eligible"
    assert second.recognition_key == "green_supply_chain:2024-03-01"
    # A provincial listing is not one the policy rewards: it never keys an award.
    provincial = {**chain, "level": "provincial", "granted_on": "2025-01-01"}
    assert (
        run(pol, {"recognitions": [factory, provincial]}, fiscal_year=2024).recognition_key
        == "green_factory:2023-03-01"
    )
