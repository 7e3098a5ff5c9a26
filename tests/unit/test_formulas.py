"""Award formulas, through the engine: fixed, share, performance, per unit, reviewer, tax."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain.facts import Facts
from app.domain.formulas import evaluate_formula

from .builders import FY, award, formula_model, policy, reason_text, run


def yr(**facts: Any) -> dict[str, Any]:
    return {"years": {str(FY): facts}}


# --------------------------------------------------------------------------- fixed


def test_fixed_literal_and_param() -> None:
    ev = run(policy(formula={"fixed": 1000000}))
    assert ev.status == "eligible"
    assert ev.amount == Decimal("1000000.00")
    assert ev.amount_basis == "computed"
    assert [s.name for s in ev.steps] == ["fixed"]
    ev = run(policy(formula={"fixed": "$award"}, params={"award": "1000000"}))
    assert str(ev.amount) == "1000000.00"
    assert str(ev.uncapped_amount) == "1000000.00"


# --------------------------------------------------------------------------- share


GROWTH_RATE = {
    "by_subsidy_year": {1: "1"},
    "by_growth": {
        "expr": {"growth": "revenue"},
        "tiers": [{"min": "0.3", "rate": "0.8"}, {"min": "0.1", "rate": "0.5"}],
    },
    "default": "0.2",
}
RENT_SHARE = {"share": {"base": {"fact": "years.{fy}.rent_paid"}, "rate": GROWTH_RATE}}


def rent_profile(rent: Any = 1000, last: Any = 100, this: Any = 100) -> dict[str, Any]:
    years: dict[str, Any] = {str(FY): {"rent_paid": rent, "revenue": this}}
    if last is not None:
        years[str(FY - 1)] = {"revenue": last}
    return {"years": years}


def test_share_by_subsidy_year_first() -> None:
    # first subsidy year: rate 1 whatever the growth (even unknown)
    ev = run(policy(formula=RENT_SHARE), rent_profile(last=None))
    assert ev.status == "eligible"
    assert ev.amount == Decimal("1000.00")
    assert [s.name for s in ev.steps] == ["base", "rate", "amount"]


@pytest.mark.parametrize(
    ("this", "rate"),
    [(130, "0.8"), (150, "0.8"), (129, "0.5"), (110, "0.5"), (109, "0.2"), (50, "0.2")],
)
def test_share_by_growth_tiers_then_default(this: int, rate: str) -> None:
    history = [award(fiscal_year=FY - 1)]  # second subsidy year: no by_subsidy_year rate
    ev = run(policy(formula=RENT_SHARE), rent_profile(this=this), history=history)
    assert ev.status == "eligible"
    assert ev.amount == Decimal(1000) * Decimal(rate)


def test_share_growth_unknown_is_undetermined_with_the_missing_paths() -> None:
    history = [award(fiscal_year=FY - 1)]
    ev = run(policy(formula=RENT_SHARE), rent_profile(last=None), history=history)
    assert ev.status == "undetermined"
    assert ev.missing_facts == (f"years.{FY - 1}.revenue",)
    assert ev.amount is None


def test_share_growth_undefined_falls_back_to_default() -> None:
    history = [award(fiscal_year=FY - 1)]
    ev = run(policy(formula=RENT_SHARE), rent_profile(last=0, this=500), history=history)
    assert ev.status == "eligible"
    assert ev.amount == Decimal("200.00")


def test_share_missing_base_and_growth_names_both() -> None:
    history = [award(fiscal_year=FY - 1)]
    ev = run(policy(formula=RENT_SHARE), {}, history=history)
    assert ev.status == "undetermined"
    assert ev.missing_facts == tuple(
        sorted({f"years.{FY}.rent_paid", f"years.{FY}.revenue", f"years.{FY - 1}.revenue"})
    )


def test_share_without_any_rate_pays_nothing() -> None:
    formula = {"share": {"base": {"fact": "x"}, "rate": {"by_subsidy_year": {2: "0.5"}}}}
    ev = run(policy(formula=formula), {"x": 1000})
    assert ev.amount == Decimal("0.00")
    assert ev.steps[1].text.en == "no rate applies"


def test_share_rate_param() -> None:
    formula = {"share": {"base": {"fact": "x"}, "rate": {"default": "$r"}}}
    ev = run(policy(formula=formula, params={"r": "0.125"}), {"x": "1000.04"})
    assert ev.amount == Decimal("125.01")  # 125.005 rounds half up


# --------------------------------------------------------------------------- performance


PERFORMANCE = {
    "performance": {
        "score": {"fact": "years.{fy}.performance.xx-test"},
        "of": "$cap",
        "tiers": [
            {"min": 90, "share": "1"},
            {"min": 80, "share": "0.6"},
            {"min": 70, "share": "0.3"},
        ],
    }
}


@pytest.mark.parametrize(
    ("score", "amount"),
    [
        (100, "5000000.00"),
        (90, "5000000.00"),
        ("89.9", "3000000.00"),
        (80, "3000000.00"),
        (70, "1500000.00"),
    ],
)
def test_performance_tiers_exact_amounts(score: Any, amount: str) -> None:
    pol = policy(formula=PERFORMANCE, params={"cap": 5000000})
    ev = run(pol, {"years": {str(FY): {"performance": {"xx-test": score}}}})
    assert ev.status == "eligible"
    assert str(ev.amount) == amount
    assert [s.name for s in ev.steps] == ["score", "share", "amount"]


def test_performance_below_lowest_tier_is_ineligible_with_a_reason() -> None:
    pol = policy(formula=PERFORMANCE, params={"cap": 5000000})
    ev = run(pol, {"years": {str(FY): {"performance": {"xx-test": "69.99"}}}})
    assert ev.status == "ineligible"
    assert ev.amount is None
    assert ev.missing_facts == ()
    last = ev.reasons[-1]
    assert last.clause == "formula.performance"
    assert last.met is False
    assert "below the lowest tier 70" in last.text.en
    assert "低于最低档" in last.text.zh
    assert last.actual == Decimal("69.99") and last.required == Decimal(70)


def test_performance_unknown_score() -> None:
    pol = policy(formula=PERFORMANCE, params={"cap": 5000000})
    ev = run(pol, {})
    assert ev.status == "undetermined"
    assert ev.missing_facts == (f"years.{FY}.performance.xx-test",)


# --------------------------------------------------------------------------- per unit


def per_unit(**spec: Any) -> dict[str, Any]:
    base = {
        "quantity": {"fact": "lease.area_m2"},
        "unit_price": {"fact": "lease.price"},
        "periods": 12,
        "rate": {"default": "1"},
    }
    return {"per_unit": {**base, **spec}}


def lease(area: Any = 500, price: Any = 50, **more: Any) -> dict[str, Any]:
    return {"lease": {"area_m2": area, "price": price, **more}}


def test_per_unit_plain() -> None:
    ev = run(policy(formula=per_unit()), lease())
    assert ev.amount == Decimal("300000.00")
    assert [s.name for s in ev.steps] == ["quantity", "unit_price", "periods", "rate", "amount"]


def test_per_unit_quantity_cap() -> None:
    ev = run(policy(formula=per_unit(quantity_cap=1000)), lease(area=1500))
    assert ev.amount == Decimal(1000 * 50 * 12)
    assert "quantity_cap" in [s.name for s in ev.steps]
    ev = run(policy(formula=per_unit(quantity_cap=1000)), lease(area=1000))
    assert ev.amount == Decimal(1000 * 50 * 12)
    assert "quantity_cap" not in [s.name for s in ev.steps]


def test_per_unit_unit_price_cap() -> None:
    ev = run(policy(formula=per_unit(unit_price_cap="$p"), params={"p": 80}), lease(price=95))
    assert ev.amount == Decimal(500 * 80 * 12)
    assert "unit_price_cap" in [s.name for s in ev.steps]
    ev = run(policy(formula=per_unit(unit_price_cap=80)), lease(price=60))
    assert ev.amount == Decimal(500 * 60 * 12)


def test_per_unit_price_cap_used_as_price_when_no_price_fact() -> None:
    spec = per_unit(unit_price_cap=80)
    del spec["per_unit"]["unit_price"]
    ev = run(policy(formula=spec), {"lease": {"area_m2": 10}})
    assert ev.amount == Decimal(10 * 80 * 12)


def test_per_unit_periods_from_months_in_year() -> None:
    spec = per_unit(periods={"months_in_year": "lease.start_on"})
    ev = run(policy(formula=spec), lease(start_on=f"{FY}-10-15"))
    assert ev.amount == Decimal(500 * 50 * 3)
    ev = run(policy(formula=spec), lease())
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("lease.start_on",)


def test_per_unit_rate_by_subsidy_year() -> None:
    spec = per_unit(rate={"by_subsidy_year": {1: "1", 2: "0.5", 3: "0.5"}})
    ev = run(policy(formula=spec), lease(), history=[award(fiscal_year=FY - 1)])
    assert ev.amount == Decimal(500 * 50 * 12) / 2


def test_per_unit_missing_facts() -> None:
    ev = run(policy(formula=per_unit()), {"lease": {"price": 50}})
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("lease.area_m2",)


def test_per_unit_not_above_caps_at_the_fact_times_the_rate() -> None:
    """``not_above`` caps the amount at (fact × rate): the subsidy is a share of the rent
    actually paid when that is below area × price × months."""
    spec = per_unit(
        not_above={"fact": "years.{fy}.rent_paid"}, rate={"by_subsidy_year": {1: "1", 2: "0.5"}}
    )
    profile = {**lease(), **yr(rent_paid=240000)}  # area × price × 12 = 300,000 > rent paid
    ev = run(policy(formula=spec), profile)
    assert ev.amount == Decimal("240000.00")
    assert ev.steps[-1].name == "not_above"
    # second year at 50%: min(300,000 × 0.5, 240,000 × 0.5) = 120,000, i.e. half the rent paid
    # (not min(150,000, 240,000) = 150,000, which "never more than this fact" alone allows)
    ev = run(policy(formula=spec), profile, history=[award(fiscal_year=FY - 1)])
    assert ev.amount == Decimal("120000.00")
    # below the ceiling, it does not bite
    ev = run(policy(formula=spec), {**lease(), **yr(rent_paid=400000)})
    assert ev.amount == Decimal("300000.00")
    assert "not_above" not in [s.name for s in ev.steps]


def test_per_unit_not_above_unknown() -> None:
    spec = per_unit(not_above={"fact": "years.{fy}.rent_paid"})
    ev = run(policy(formula=spec), lease())
    assert ev.status == "undetermined"
    assert ev.missing_facts == (f"years.{FY}.rent_paid",)


# --------------------------------------------------------------------------- set by reviewer


REVIEWER = {"set_by_reviewer": {"zh": "由主管部门核定", "en": "set by the reviewing department"}}


def test_set_by_reviewer_is_eligible_without_an_amount() -> None:
    ev = run(policy(formula=REVIEWER, caps={"per_award": 500000}))
    assert ev.status == "eligible"
    assert ev.amount is None
    assert ev.uncapped_amount is None
    assert ev.amount_basis == "set_by_reviewer"
    assert ev.steps[0].text.en == "set by the reviewing department"
    assert ev.missing_facts == ()


def test_set_by_reviewer_with_reviewer_amount_is_capped() -> None:
    pol = policy(formula=REVIEWER, caps={"per_award": 500000})
    ev = run(pol, reviewer_amount=Decimal("600000"))
    assert ev.status == "eligible"
    assert ev.amount == Decimal("500000.00")
    assert ev.uncapped_amount == Decimal("600000.00")
    assert ev.amount_basis == "set_by_reviewer"
    assert [c.cap for c in ev.caps_applied] == ["per_award"]
    ev = run(pol, reviewer_amount=Decimal("123.455"))
    assert str(ev.amount) == "123.46"


def test_reviewer_amount_ignored_for_computed_formulas() -> None:
    ev = run(policy(formula={"fixed": 100}), reviewer_amount=Decimal("999"))
    assert ev.amount == Decimal("100.00")


def test_set_by_reviewer_still_needs_eligibility() -> None:
    pol = policy({"fact": "employees", "op": "ge", "value": 1}, REVIEWER)
    assert run(pol, {}).status == "undetermined"
    assert run(pol, {"employees": 0}, reviewer_amount=Decimal(5)).status == "ineligible"


# --------------------------------------------------------------------------- tax estimate


TAX = {
    "tax_estimate": {
        "base": {"fact": "years.{fy}.taxable_income"},
        "share": "1",
        "tax_rate": "0.25",
        "tax_rate_when": [
            {
                "when": {"recognition": {"kind": "high_tech_enterprise", "valid_in_year": True}},
                "rate": "0.15",
            }
        ],
    }
}


def test_tax_estimate_ordinary_rate() -> None:
    ev = run(policy(formula=TAX), {"recognitions": [], **yr(taxable_income=1000000)})
    assert ev.status == "eligible"
    assert ev.amount_basis == "estimate"
    assert ev.amount == Decimal("250000.00")
    assert [s.name for s in ev.steps] == ["base", "share", "tax_rate", "amount"]


def test_tax_estimate_rate_when_holds() -> None:
    profile = {
        "recognitions": [{"kind": "high_tech_enterprise", "level": "national"}],
        **yr(taxable_income=1000000),
    }
    ev = run(policy(formula=TAX), profile)
    assert ev.amount == Decimal("150000.00")
    assert ev.steps[2].value == Decimal("0.15")


def test_tax_estimate_unknown_recognition_is_undetermined() -> None:
    ev = run(policy(formula=TAX), yr(taxable_income=1000000))
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("recognitions",)
    assert ev.amount_basis == "estimate"
    ev = run(policy(formula=TAX), {})
    assert ev.missing_facts == ("recognitions", f"years.{FY}.taxable_income")


def test_tax_estimate_missing_base() -> None:
    ev = run(policy(formula=TAX), {"recognitions": []})
    assert ev.status == "undetermined"
    assert ev.missing_facts == (f"years.{FY}.taxable_income",)


def test_tax_estimate_loss_saves_nothing() -> None:
    ev = run(policy(formula=TAX), {"recognitions": [], **yr(taxable_income=-500)})
    assert ev.status == "eligible"
    assert ev.amount == Decimal("0.00")


def test_tax_estimate_first_option_that_holds_wins() -> None:
    formula = {
        "tax_estimate": {
            "base": {"fact": "x"},
            "share": "1",
            "tax_rate": "0.25",
            "tax_rate_when": [
                {"when": {"fact": "small", "op": "eq", "value": True}, "rate": "0.05"},
                {"when": {"fact": "hte", "op": "eq", "value": True}, "rate": "0.15"},
            ],
        }
    }
    assert run(policy(formula=formula), {"x": 100, "small": False, "hte": True}).amount == Decimal(
        "15.00"
    )
    assert run(policy(formula=formula), {"x": 100, "small": True}).amount == Decimal("5.00")
    ev = run(policy(formula=formula), {"x": 100, "hte": True})
    assert ev.missing_facts == ("small",)


SHARE_WHEN = {
    "tax_estimate": {
        "base": {"fact": "x"},
        "share": "0.75",
        "share_when": [
            {
                "when": {
                    "id": "maker",
                    "text": {"zh": "制造业企业", "en": "a manufacturer"},
                    "fact": "maker",
                    "op": "eq",
                    "value": True,
                },
                "share": "1",
            },
            {
                "when": {"fact": "listed", "op": "eq", "value": True},
                "share": "1.2",
                "base": {"fact": "y"},
            },
        ],
        "tax_rate": "0.25",
        "tax_rate_when": [{"when": {"fact": "small", "op": "eq", "value": True}, "rate": "0.05"}],
    }
}


def test_share_when_default_share() -> None:
    ev = run(
        policy(formula=SHARE_WHEN), {"x": 100, "maker": False, "listed": False, "small": False}
    )
    assert ev.status == "eligible"
    assert ev.amount == Decimal("18.75")
    assert ev.steps[1].value == Decimal("0.75")


def test_share_when_first_that_holds_gives_the_share() -> None:
    profile = {"x": 100, "maker": True, "small": True}
    ev = run(policy(formula=SHARE_WHEN), profile)
    assert ev.amount == Decimal("5.00")
    assert ev.steps[1].value == Decimal("1")
    assert "a manufacturer" in ev.steps[1].text.en and "制造业企业" in ev.steps[1].text.zh


def test_share_when_may_bring_its_own_base() -> None:
    profile = {"x": 100, "y": 1000, "maker": False, "listed": True, "small": False}
    ev = run(policy(formula=SHARE_WHEN), profile)
    assert ev.amount == Decimal("300.00")
    assert ev.steps[0].value == Decimal("1000")
    # the default base is not needed once another base is chosen
    del profile["x"]
    assert run(policy(formula=SHARE_WHEN), profile).amount == Decimal("300.00")
    # the option's own base missing makes the estimate unknown
    del profile["y"]
    ev = run(policy(formula=SHARE_WHEN), profile)
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("y",)


def test_share_when_unknown_is_undetermined_never_a_guess() -> None:
    # whether the share is 100% or 75% is unknown: no amount, the fact is named
    ev = run(policy(formula=SHARE_WHEN), {"x": 100, "small": False})
    assert ev.status == "undetermined"
    assert ev.amount is None
    assert ev.missing_facts == ("maker",)
    # an unsettled share and an unsettled rate are both named, with the default base
    ev = run(policy(formula=SHARE_WHEN), {"maker": False})
    assert ev.missing_facts == ("listed", "small", "x")


def test_share_when_later_option_not_needed_once_one_holds() -> None:
    ev = run(policy(formula=SHARE_WHEN), {"x": 100, "maker": True, "small": False})
    assert ev.status == "eligible"
    assert ev.amount == Decimal("25.00")


# --------------------------------------------------------------------------- no amount


def test_no_amount() -> None:
    formula = {"no_amount": {"zh": "绿色通道", "en": "fast track"}}
    ev = run(policy(formula=formula, caps={"per_award": 1}))
    assert ev.status == "eligible"
    assert ev.amount is None
    assert ev.uncapped_amount is None
    assert ev.amount_basis == "none"
    assert ev.steps[0].text.zh == "绿色通道"
    assert ev.caps_applied == ()


def test_formulas_never_round_themselves() -> None:
    """Rounding happens once, in the engine: a formula's amount keeps every digit."""
    spec = formula_model({"share": {"base": {"fact": "x"}, "rate": {"default": "0.333"}}})
    outcome = evaluate_formula(spec, Facts({"x": "10.01"}, FY), {}, 1)
    assert outcome.amount == Decimal("3.33333")


def test_formula_reasons_stay_bilingual() -> None:
    ev = run(
        policy(formula=PERFORMANCE, params={"cap": 1}),
        {"years": {str(FY): {"performance": {"xx-test": 1}}}},
    )
    assert "|" in reason_text(ev)
    for step in run(policy(formula=RENT_SHARE), rent_profile()).steps:
        assert step.text.zh and step.text.en


@pytest.mark.parametrize("rent", ["-1000", -5, "-0", "-0.001"])
def test_a_negative_base_never_gives_a_negative_award(rent: Any) -> None:
    formula = {"share": {"base": {"fact": "years.{fy}.rent_paid"}, "rate": {"default": "0.5"}}}
    ev = run(policy(formula=formula, caps={"per_award": 100}), yr(rent_paid=rent))
    assert ev.status == "eligible"
    assert str(ev.amount) == "0.00"
    assert str(ev.uncapped_amount) == "0.00"


def test_a_negative_per_unit_quantity_never_gives_a_negative_award() -> None:
    ev = run(policy(formula=per_unit()), lease(area=-10))
    assert str(ev.amount) == "0.00"


def test_a_negative_reviewer_amount_pays_nothing() -> None:
    ev = run(policy(formula=REVIEWER, caps={"per_award": 500000}), reviewer_amount=Decimal("-5"))
    assert str(ev.amount) == "0.00"
