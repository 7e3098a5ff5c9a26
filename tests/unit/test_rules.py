"""Three-valued eligibility rules: composites, fact clauses, expressions, recognitions…"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain.results import ClauseResult, Tri

from .builders import FY, policy, rule, run

EMPLOYEES_10 = {"fact": "employees", "op": "ge", "value": 10}
STAFF_5 = {"fact": "tech_staff", "op": "ge", "value": 5}
REVENUE = {"fact": "years.{fy}.revenue", "op": "gt", "value": 1000}


def assert_bilingual(clauses: tuple[ClauseResult, ...]) -> None:
    assert clauses, "every evaluation gives at least one clause"
    for c in clauses:
        assert c.text.zh.strip(), c
        assert c.text.en.strip(), c


# --------------------------------------------------------------------------- composites


def test_all_true_when_every_clause_holds() -> None:
    out = rule({"all": [EMPLOYEES_10, STAFF_5]}, {"employees": 20, "tech_staff": 6})
    assert out.truth is Tri.TRUE
    assert out.missing == ()
    assert [c.truth for c in out.clauses] == [Tri.TRUE, Tri.TRUE]
    assert [c.clause for c in out.clauses] == ["eligibility.0", "eligibility.1"]


def test_all_false_clause_settles_even_when_others_unknown() -> None:
    out = rule({"all": [EMPLOYEES_10, STAFF_5]}, {"employees": 3})
    assert out.truth is Tri.FALSE
    assert out.missing == ()
    # the unknown clause is still reported, with what it lacks
    unknown = [c for c in out.clauses if c.truth is Tri.UNKNOWN]
    assert [c.missing for c in unknown] == [("tech_staff",)]


def test_all_false_settles_the_policy_as_ineligible_without_missing_facts() -> None:
    ev = run(policy({"all": [EMPLOYEES_10, STAFF_5, REVENUE]}), {"employees": 3})
    assert ev.status == "ineligible"
    assert ev.missing_facts == ()
    assert ev.amount is None


def test_all_unknown_names_every_missing_fact() -> None:
    out = rule({"all": [EMPLOYEES_10, STAFF_5, REVENUE]}, {"employees": 30})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("tech_staff", f"years.{FY}.revenue")


def test_any_true_clause_settles_even_when_others_unknown() -> None:
    out = rule({"any": [EMPLOYEES_10, STAFF_5]}, {"tech_staff": 8})
    assert out.truth is Tri.TRUE
    assert out.missing == ()
    # only the alternative that holds is kept as a reason
    assert [c.clause for c in out.clauses] == ["eligibility.1"]
    ev = run(policy({"any": [EMPLOYEES_10, STAFF_5]}), {"tech_staff": 8})
    assert ev.status == "eligible"
    assert ev.missing_facts == ()


def test_any_false_only_when_every_alternative_is_false() -> None:
    out = rule({"any": [EMPLOYEES_10, STAFF_5]}, {"employees": 1, "tech_staff": 1})
    assert out.truth is Tri.FALSE
    assert len(out.clauses) == 2


def test_any_unknown_when_no_true_and_some_unknown() -> None:
    out = rule({"any": [EMPLOYEES_10, STAFF_5]}, {"employees": 1})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("tech_staff",)
    ev = run(policy({"any": [EMPLOYEES_10, STAFF_5]}), {"employees": 1})
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("tech_staff",)


@pytest.mark.parametrize(
    ("profile", "truth"),
    [({"employees": 20}, Tri.FALSE), ({"employees": 2}, Tri.TRUE), ({}, Tri.UNKNOWN)],
)
def test_not(profile: dict[str, Any], truth: Tri) -> None:
    out = rule({"not": EMPLOYEES_10}, profile)
    assert out.truth is truth
    assert out.missing == (("employees",) if truth is Tri.UNKNOWN else ())


def test_nested_composites_collect_missing_once_in_order() -> None:
    tree = {
        "all": [
            {"any": [EMPLOYEES_10, STAFF_5]},
            {"not": {"fact": "employees", "op": "gt", "value": 500}},
            REVENUE,
        ]
    }
    out = rule(tree, {})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("employees", "tech_staff", f"years.{FY}.revenue")


def test_clause_ids_come_from_the_catalog_when_given() -> None:
    out = rule(
        {"all": [{**EMPLOYEES_10, "id": "staff"}, STAFF_5]}, {"employees": 20, "tech_staff": 9}
    )
    assert [c.clause for c in out.clauses] == ["staff", "eligibility.1"]


def test_labelled_composite_adds_its_own_clause() -> None:
    text = {"zh": "规模或人员达标", "en": "size or staff criterion"}
    out = rule({"any": [EMPLOYEES_10, STAFF_5], "id": "size", "text": text}, {"employees": 1})
    own = [c for c in out.clauses if c.clause == "size"]
    assert len(own) == 1
    assert own[0].truth is Tri.UNKNOWN
    assert own[0].text.zh == text["zh"] and own[0].text.en == text["en"]
    assert own[0].missing == ("tech_staff",)
    # the leaves are still there, with ids under the composite's
    assert {c.clause for c in out.clauses} == {"size", "size.0", "size.1"}


def test_unlabelled_composite_adds_no_clause() -> None:
    out = rule({"all": [EMPLOYEES_10]}, {"employees": 11})
    assert [c.clause for c in out.clauses] == ["eligibility.0"]


def test_labelled_leaf_uses_its_text_plus_the_detail() -> None:
    out = rule({**EMPLOYEES_10, "text": {"zh": "员工人数", "en": "head count"}}, {"employees": 11})
    assert out.clauses[0].text.zh.startswith("员工人数")
    assert out.clauses[0].text.en.startswith("head count")
    assert "11" in out.clauses[0].text.en


# --------------------------------------------------------------------------- fact ops


@pytest.mark.parametrize(
    ("op", "value", "actual", "truth"),
    [
        ("eq", 10, 10, Tri.TRUE),
        ("eq", 10, "10.00", Tri.TRUE),  # numbers compare as numbers
        ("eq", 10, 11, Tri.FALSE),
        ("eq", "software", "software", Tri.TRUE),
        ("eq", "software", "biomedicine", Tri.FALSE),
        ("eq", True, True, Tri.TRUE),
        ("eq", True, False, Tri.FALSE),
        ("eq", True, 1, Tri.FALSE),  # a bool is not the number 1
        ("eq", 1, True, Tri.FALSE),
        ("ne", 10, 11, Tri.TRUE),
        ("ne", 10, 10, Tri.FALSE),
        ("ne", "a", "b", Tri.TRUE),
        ("gt", 10, 11, Tri.TRUE),
        ("gt", 10, 10, Tri.FALSE),
        ("gt", 10, "10.01", Tri.TRUE),
        ("ge", 10, 10, Tri.TRUE),
        ("ge", 10, 9, Tri.FALSE),
        ("lt", 10, 9, Tri.TRUE),
        ("lt", 10, 10, Tri.FALSE),
        ("le", 10, 10, Tri.TRUE),
        ("le", 10, 11, Tri.FALSE),
        ("in", ["a", "b"], "b", Tri.TRUE),
        ("in", ["a", "b"], "c", Tri.FALSE),
        ("in", [1, 2], "2", Tri.TRUE),
        ("not_in", ["a", "b"], "c", Tri.TRUE),
        ("not_in", ["a", "b"], "a", Tri.FALSE),
    ],
)
def test_fact_ops(op: str, value: Any, actual: Any, truth: Tri) -> None:
    out = rule({"fact": "x", "op": op, "value": value}, {"x": actual})
    assert out.truth is truth
    assert out.missing == ()
    assert_bilingual(out.clauses)


def test_numeric_fact_clause_carries_actual_required_and_op() -> None:
    out = rule(EMPLOYEES_10, {"employees": "8"})
    (clause,) = out.clauses
    assert clause.actual == Decimal(8)
    assert clause.required == Decimal(10)
    assert clause.op == "ge"
    assert clause.met is False


@pytest.mark.parametrize(
    "profile",
    [{}, {"employees": None}, {"employees": "many"}, {"employees": True}, {"employees": [1]}],
)
def test_missing_or_ill_typed_fact_is_unknown(profile: dict[str, Any]) -> None:
    out = rule(EMPLOYEES_10, profile)
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("employees",)
    assert "employees" in out.clauses[0].text.en
    assert "employees" in out.clauses[0].text.zh


def test_in_with_a_non_list_value_is_unknown() -> None:
    out = rule({"fact": "x", "op": "in", "value": "abc"}, {"x": "a"})
    assert out.truth is Tri.UNKNOWN


def test_nested_fact_path() -> None:
    profile = {"compliance": {"serious_dishonesty": False}}
    out = rule({"fact": "compliance.serious_dishonesty", "op": "eq", "value": False}, profile)
    assert out.truth is Tri.TRUE
    out = rule({"fact": "compliance.major_incident_last_year", "op": "eq", "value": False}, profile)
    assert out.missing == ("compliance.major_incident_last_year",)


def test_path_through_a_non_mapping_is_missing() -> None:
    out = rule({"fact": "location.city", "op": "eq", "value": "nanjing"}, {"location": "nanjing"})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("location.city",)


def test_dollar_param_values() -> None:
    out = rule(
        {"fact": "employees", "op": "le", "value": "$max"}, {"employees": 500}, params={"max": 500}
    )
    assert out.truth is Tri.TRUE
    assert out.clauses[0].required == Decimal(500)
    out = rule(
        {"fact": "employees", "op": "le", "value": "$max"}, {"employees": 501}, params={"max": 500}
    )
    assert out.truth is Tri.FALSE
    out = rule(
        {"fact": "employees", "op": "in", "value": ["$a", "$b"]},
        {"employees": 7},
        params={"a": 3, "b": 7},
    )
    assert out.truth is Tri.TRUE


def test_dollar_param_through_the_engine() -> None:
    pol = policy({"fact": "employees", "op": "ge", "value": "$min"}, params={"min": 10})
    assert run(pol, {"employees": 10}).status == "eligible"
    assert run(pol, {"employees": 9}).status == "ineligible"


@pytest.mark.parametrize(
    ("template", "fiscal_year", "path"),
    [
        ("years.{fy}.revenue", 2024, "years.2024.revenue"),
        ("years.{fy-1}.revenue", 2024, "years.2023.revenue"),
        ("years.{fy-2}.revenue", 2024, "years.2022.revenue"),
        ("years.{fy+1}.revenue", 2024, "years.2025.revenue"),
        (
            "years.{fy}.performance.nj-innovation-consortium",
            2023,
            "years.2023.performance.nj-innovation-consortium",
        ),
    ],
)
def test_year_templates_resolved_in_missing_facts(
    template: str, fiscal_year: int, path: str
) -> None:
    out = rule({"fact": template, "op": "gt", "value": 0}, {}, fiscal_year=fiscal_year)
    assert out.missing == (path,)
    assert path in out.clauses[0].text.en
    ev = run(policy({"fact": template, "op": "gt", "value": 0}), {}, fiscal_year=fiscal_year)
    assert ev.status == "undetermined"
    assert ev.missing_facts == (path,)


def test_year_template_reads_the_right_year() -> None:
    profile = {"years": {"2023": {"revenue": 5}, "2024": {"revenue": 50}}}
    assert rule({"fact": "years.{fy-1}.revenue", "op": "eq", "value": 5}, profile).truth is Tri.TRUE
    assert rule({"fact": "years.{fy}.revenue", "op": "eq", "value": 50}, profile).truth is Tri.TRUE


# --------------------------------------------------------------------------- compare rules


def years(**by_year: dict[str, Any]) -> dict[str, Any]:
    return {"years": {y.lstrip("y"): facts for y, facts in by_year.items()}}


def test_compare_ratio() -> None:
    tree = {
        "expr": {"ratio": [{"fact": "tech_staff"}, {"fact": "employees"}]},
        "op": "ge",
        "value": "0.1",
    }
    out = rule(tree, {"tech_staff": 10, "employees": 100})
    assert out.truth is Tri.TRUE
    assert out.clauses[0].actual == Decimal("0.1")
    assert rule(tree, {"tech_staff": 9, "employees": 100}).truth is Tri.FALSE
    unknown = rule(tree, {"tech_staff": 9})
    assert unknown.truth is Tri.UNKNOWN
    assert unknown.missing == ("employees",)
    assert rule(tree, {}).missing == ("tech_staff", "employees")


def test_ratio_with_zero_denominator_is_false_with_a_reason() -> None:
    tree = {
        "expr": {"ratio": [{"fact": "tech_staff"}, {"fact": "employees"}]},
        "op": "ge",
        "value": "0.1",
    }
    out = rule(tree, {"tech_staff": 3, "employees": 0})
    assert out.truth is Tri.FALSE
    assert out.missing == ()
    (clause,) = out.clauses
    assert "zero" in clause.text.en
    assert "无法计算" in clause.text.zh
    ev = run(policy(tree), {"tech_staff": 3, "employees": "0.00"})
    assert ev.status == "ineligible"
    assert ev.missing_facts == ()


def test_ratio_of_a_ratio_with_zero_denominator_is_still_false() -> None:
    inner = {"ratio": [{"fact": "a"}, {"fact": "b"}]}
    tree = {"expr": {"ratio": [inner, {"fact": "c"}]}, "op": "lt", "value": 1}
    assert rule(tree, {"a": 1, "b": 0, "c": 2}).truth is Tri.FALSE


def test_compare_product_with_param() -> None:
    tree = {
        "expr": {"product": [{"fact": "employees"}, "$share"]},
        "op": "le",
        "value": {"fact": "tech_staff"},
    }
    out = rule(tree, {"employees": 100, "tech_staff": 10}, params={"share": "0.1"})
    assert out.truth is Tri.TRUE
    out = rule(tree, {"employees": 100, "tech_staff": 9}, params={"share": "0.1"})
    assert out.truth is Tri.FALSE
    out = rule(tree, {"employees": 100}, params={"share": "0.1"})
    assert out.missing == ("tech_staff",)


def test_compare_sum_years() -> None:
    tree = {"expr": {"sum_years": "rd_expense", "span": 3}, "op": "ge", "value": 300}
    profile = years(y2022={"rd_expense": 100}, y2023={"rd_expense": 100}, y2024={"rd_expense": 100})
    out = rule(tree, profile)
    assert out.truth is Tri.TRUE
    assert out.clauses[0].actual == Decimal(300)
    profile["years"]["2022"]["rd_expense"] = 99
    assert rule(tree, profile).truth is Tri.FALSE
    del profile["years"]["2022"]
    out = rule(tree, profile)
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("years.2022.rd_expense",)


def test_compare_ratio_of_sums() -> None:
    """The high-tech R&D intensity test: R&D over 3 years over revenue over 3 years."""
    tree = {
        "expr": {
            "ratio": [{"sum_years": "rd_expense", "span": 3}, {"sum_years": "revenue", "span": 3}]
        },
        "op": "ge",
        "value": "0.05",
    }
    profile = years(
        y2022={"rd_expense": 5, "revenue": 100},
        y2023={"rd_expense": 5, "revenue": 100},
        y2024={"rd_expense": 5, "revenue": 100},
    )
    assert rule(tree, profile).truth is Tri.TRUE
    assert rule(tree, {}).missing == (
        "years.2024.rd_expense",
        "years.2023.rd_expense",
        "years.2022.rd_expense",
        "years.2024.revenue",
        "years.2023.revenue",
        "years.2022.revenue",
    )


def test_growth_is_the_arithmetic_mean_of_yearly_rates() -> None:
    # 100 -> 200 (+100%) -> 220 (+10%): mean 55%, not the geometric ~48.3%
    profile = years(y2022={"revenue": 100}, y2023={"revenue": 200}, y2024={"revenue": 220})
    tree = {"expr": {"growth": "revenue", "span": 2}, "op": "ge", "value": "0.55"}
    out = rule(tree, profile)
    assert out.truth is Tri.TRUE
    assert out.clauses[0].actual == Decimal("0.55")
    assert rule({**tree, "value": "0.5501"}, profile).truth is Tri.FALSE


def test_growth_span_one_and_missing_years() -> None:
    tree = {"expr": {"growth": "revenue"}, "op": "ge", "value": "0.2"}
    assert rule(tree, years(y2023={"revenue": 100}, y2024={"revenue": 120})).truth is Tri.TRUE
    assert rule(tree, years(y2023={"revenue": 100}, y2024={"revenue": 119})).truth is Tri.FALSE
    out = rule(tree, years(y2024={"revenue": 120}))
    assert out.missing == ("years.2023.revenue",)


def test_growth_from_a_non_positive_base_is_false_with_a_reason() -> None:
    tree = {"expr": {"growth": "revenue"}, "op": "ge", "value": "0.2"}
    out = rule(tree, years(y2023={"revenue": 0}, y2024={"revenue": 120}))
    assert out.truth is Tri.FALSE
    assert "not positive" in out.clauses[0].text.en


@pytest.mark.parametrize(
    ("start_on", "months"),
    [
        ("2020-05-10", 12),
        ("2023-12-31", 12),
        ("2024-01-01", 12),
        ("2024-03-15", 10),
        ("2024-12-01", 1),
        ("2025-01-01", 0),
    ],
)
def test_months_in_year(start_on: str, months: int) -> None:
    tree = {"expr": {"months_in_year": "lease.start_on"}, "op": "eq", "value": months}
    out = rule(tree, {"lease": {"start_on": start_on}})
    assert out.truth is Tri.TRUE, out.clauses
    assert out.clauses[0].actual == Decimal(months)


@pytest.mark.parametrize(
    "profile", [{}, {"lease": {"start_on": "not a date"}}, {"lease": {"start_on": 5}}]
)
def test_months_in_year_unknown(profile: dict[str, Any]) -> None:
    tree = {"expr": {"months_in_year": "lease.start_on"}, "op": "ge", "value": 1}
    out = rule(tree, profile)
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("lease.start_on",)


# --------------------------------------------------------------------------- recognitions


def hte(
    level: str = "national",
    granted_on: str | None = "2023-11-30",
    expires_on: str | None = None,
    kind: str = "high_tech_enterprise",
) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": kind, "level": level}
    if granted_on is not None:
        item["granted_on"] = granted_on
    if expires_on is not None:
        item["expires_on"] = expires_on
    return item


def test_recognition_kind() -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise"}}
    assert rule(tree, {"recognitions": [hte()]}).truth is Tri.TRUE
    assert rule(tree, {"recognitions": [hte(kind="tech_sme")]}).truth is Tri.FALSE


def test_recognition_missing_key_is_unknown() -> None:
    out = rule({"recognition": {"kind": "high_tech_enterprise"}}, {})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("recognitions",)
    ev = run(policy({"recognition": {"kind": "high_tech_enterprise"}}), {"name": "x"})
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("recognitions",)


def test_recognition_empty_list_is_false() -> None:
    out = rule({"recognition": {"kind": "high_tech_enterprise"}}, {"recognitions": []})
    assert out.truth is Tri.FALSE
    assert out.missing == ()
    assert_bilingual(out.clauses)


def test_recognition_not_a_list_is_unknown() -> None:
    out = rule({"recognition": {"kind": "high_tech_enterprise"}}, {"recognitions": {"kind": "x"}})
    assert out.truth is Tri.UNKNOWN


def test_recognition_levels() -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise", "levels": ["national", "provincial"]}}
    assert rule(tree, {"recognitions": [hte("provincial")]}).truth is Tri.TRUE
    assert rule(tree, {"recognitions": [hte("municipal")]}).truth is Tri.FALSE
    assert rule(tree, {"recognitions": [hte("municipal"), hte("national")]}).truth is Tri.TRUE
    out = rule(tree, {"recognitions": []})
    assert "国家级" in out.clauses[0].text.zh
    assert "national/provincial" in out.clauses[0].text.en


@pytest.mark.parametrize(
    ("granted_on", "truth"),
    [
        ("2022-12-31", Tri.FALSE),
        ("2023-01-01", Tri.TRUE),
        ("2024-12-31", Tri.TRUE),
        ("2025-01-01", Tri.FALSE),
    ],
)
def test_recognition_granted_window(granted_on: str, truth: Tri) -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise", "granted_from": -1, "granted_to": 0}}
    out = rule(tree, {"recognitions": [hte(granted_on=granted_on)]})
    assert out.truth is truth
    assert_bilingual(out.clauses)


def test_recognition_granted_window_needs_the_grant_date() -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise", "granted_from": -1}}
    out = rule(tree, {"recognitions": [hte(granted_on=None)]})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("recognitions",)
    # a dated one in the window settles it even beside an undated one
    out = rule(tree, {"recognitions": [hte(granted_on=None), hte(granted_on="2024-02-01")]})
    assert out.truth is Tri.TRUE
    # an unparseable date counts as undated
    out = rule(tree, {"recognitions": [hte(granted_on="someday")]})
    assert out.truth is Tri.UNKNOWN


def test_recognition_only_granted_from() -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise", "granted_from": 0}}
    assert rule(tree, {"recognitions": [hte(granted_on="2030-01-01")]}).truth is Tri.TRUE
    assert rule(tree, {"recognitions": [hte(granted_on="2023-12-31")]}).truth is Tri.FALSE


@pytest.mark.parametrize(
    ("expires_on", "truth"),
    [
        (None, Tri.TRUE),
        ("2023-12-31", Tri.FALSE),
        ("2024-01-01", Tri.TRUE),
        ("2026-11-29", Tri.TRUE),
    ],
)
def test_recognition_valid_in_year(expires_on: str | None, truth: Tri) -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise", "valid_in_year": True}}
    assert rule(tree, {"recognitions": [hte(expires_on=expires_on)]}).truth is truth


def test_recognition_expiry_ignored_without_valid_in_year() -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise"}}
    assert rule(tree, {"recognitions": [hte(expires_on="2000-01-01")]}).truth is Tri.TRUE


def test_recognition_ignores_non_mapping_items() -> None:
    tree = {"recognition": {"kind": "high_tech_enterprise"}}
    assert rule(tree, {"recognitions": ["high_tech_enterprise", 3, None]}).truth is Tri.FALSE


# --------------------------------------------------------------------------- first time above


FIRST = {"first_time_above": {"fact": "operating_income", "threshold": 100, "lookback": 2}}


def income(**by_year: Any) -> dict[str, Any]:
    return {"years": {y.lstrip("y"): {"operating_income": v} for y, v in by_year.items()}}


def test_first_time_above_first_time_is_true() -> None:
    out = rule(FIRST, income(y2022=50, y2023=90, y2024=150))
    assert out.truth is Tri.TRUE
    assert out.missing == ()
    assert out.clauses[0].actual == Decimal(150)
    assert_bilingual(out.clauses)


def test_first_time_above_second_time_is_false() -> None:
    out = rule(FIRST, income(y2022=120, y2023=90, y2024=150))
    assert out.truth is Tri.FALSE
    assert "2022" in out.clauses[0].text.en


def test_first_time_above_checks_known_years_beyond_the_lookback() -> None:
    out = rule(FIRST, income(y2015=500, y2022=50, y2023=90, y2024=150))
    assert out.truth is Tri.FALSE
    assert "2015" in out.clauses[0].text.en


def test_first_time_above_current_year_at_or_below_is_false() -> None:
    assert rule(FIRST, income(y2024=100)).truth is Tri.FALSE  # at, not above
    out = rule(FIRST, income(y2024=80))
    assert out.truth is Tri.FALSE
    assert out.missing == ()


def test_first_time_above_missing_lookback_year_is_unknown_naming_it() -> None:
    out = rule(FIRST, income(y2023=90, y2024=150))
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("years.2022.operating_income",)
    ev = run(policy(FIRST), income(y2023=90, y2024=150))
    assert ev.status == "undetermined"
    assert ev.missing_facts == ("years.2022.operating_income",)


def test_first_time_above_missing_current_year() -> None:
    out = rule(FIRST, income(y2022=50, y2023=90))
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("years.2024.operating_income",)
    # an earlier year already above settles it even without the current year
    assert rule(FIRST, income(y2022=500)).truth is Tri.FALSE


def test_first_time_above_ignores_later_years_and_param_threshold() -> None:
    tree = {"first_time_above": {"fact": "operating_income", "threshold": "$t", "lookback": 1}}
    out = rule(tree, income(y2023=90, y2024=150, y2025=999), params={"t": 100})
    assert out.truth is Tri.TRUE


def test_first_time_above_with_odd_year_keys_does_not_crash() -> None:
    profile = income(y2023=90, y2024=150)
    profile["years"]["²"] = {"operating_income": 1}  # str.isdigit() but not int()-able
    profile["years"]["notes"] = "x"
    assert (
        rule(
            FIRST | {"first_time_above": {**FIRST["first_time_above"], "lookback": 1}}, profile
        ).truth
        is Tri.TRUE
    )


# --------------------------------------------------------------------------- years since, date within


@pytest.mark.parametrize(
    ("registered_on", "op", "value", "truth"),
    [
        ("2023-12-31", "ge", 1, Tri.TRUE),  # exactly one whole year to Dec 31, 2024
        ("2024-01-01", "ge", 1, Tri.FALSE),
        ("2022-06-01", "ge", 2, Tri.TRUE),
        ("2022-06-01", "ge", 3, Tri.FALSE),
        ("2021-01-01", "lt", 3, Tri.FALSE),
        ("2022-01-01", "lt", 3, Tri.TRUE),
        ("2025-06-01", "ge", 0, Tri.FALSE),  # registered after the fiscal year
    ],
)
def test_years_since(registered_on: str, op: str, value: int, truth: Tri) -> None:
    out = rule(
        {"years_since": "registered_on", "op": op, "value": value}, {"registered_on": registered_on}
    )
    assert out.truth is truth
    assert_bilingual(out.clauses)


def test_years_since_unknown_and_param() -> None:
    out = rule({"years_since": "registered_on", "op": "ge", "value": "$y"}, {}, params={"y": 1})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("registered_on",)
    out = rule(
        {"years_since": "registered_on", "op": "ge", "value": "$y"},
        {"registered_on": "2020-02-02"},
        params={"y": 4},
    )
    assert out.truth is Tri.TRUE
    assert out.clauses[0].actual == Decimal(4)


@pytest.mark.parametrize(
    ("day", "truth"),
    [
        ("2022-12-31", Tri.FALSE),
        ("2023-01-01", Tri.TRUE),
        ("2024-12-31", Tri.TRUE),
        ("2025-01-01", Tri.FALSE),
    ],
)
def test_date_within(day: str, truth: Tri) -> None:
    out = rule(
        {"date_within": "lease.start_on", "from_year": -1, "to_year": 0},
        {"lease": {"start_on": day}},
    )
    assert out.truth is truth
    assert_bilingual(out.clauses)


def test_date_within_open_ended_and_unknown() -> None:
    tree = {"date_within": "lease.start_on", "from_year": 0}
    assert rule(tree, {"lease": {"start_on": "2099-01-01"}}).truth is Tri.TRUE
    out = rule(tree, {"lease": {}})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == ("lease.start_on",)


# --------------------------------------------------------------------------- reasons


BIG_TREE = {
    "all": [
        EMPLOYEES_10,
        {"fact": "industry", "op": "in", "value": ["software_information", "biomedicine"]},
        {
            "any": [
                STAFF_5,
                {"not": {"fact": "compliance.serious_dishonesty", "op": "eq", "value": True}},
            ]
        },
        {
            "expr": {"ratio": [{"fact": "tech_staff"}, {"fact": "employees"}]},
            "op": "ge",
            "value": "0.1",
        },
        {"expr": {"growth": "revenue", "span": 2}, "op": "ge", "value": "0.05"},
        {"expr": {"sum_years": "rd_expense", "span": 3}, "op": "ge", "value": 1},
        {"expr": {"months_in_year": "lease.start_on"}, "op": "ge", "value": 1},
        {
            "recognition": {
                "kind": "high_tech_enterprise",
                "levels": ["national"],
                "granted_from": -2,
                "valid_in_year": True,
            }
        },
        FIRST,
        {"years_since": "registered_on", "op": "ge", "value": 1},
        {"date_within": "lease.start_on", "from_year": -3, "to_year": 0},
        {"all": [REVENUE], "text": {"zh": "营收", "en": "revenue"}},
    ]
}

PROFILES = [
    {},
    {
        "employees": 100,
        "tech_staff": 0,
        "industry": "software_information",
        "registered_on": "2010-01-01",
    },
    {
        "employees": 0,
        "tech_staff": 3,
        "industry": "x",
        "compliance": {"serious_dishonesty": True},
        "lease": {"start_on": "2023-05-05"},
        "recognitions": [hte(expires_on="2026-01-01")],
        **years(
            y2022={"revenue": 100, "rd_expense": 1, "operating_income": 10},
            y2023={"revenue": 0, "rd_expense": 1, "operating_income": 10},
            y2024={"revenue": 120, "rd_expense": 1, "operating_income": 1000},
        ),
    },
]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_clause_has_zh_and_en_reasons(profile: dict[str, Any]) -> None:
    out = rule(BIG_TREE, profile)
    assert_bilingual(out.clauses)
    ev = run(policy(BIG_TREE), profile)
    assert_bilingual(ev.reasons)


def test_huge_and_tiny_numbers_are_compared_and_shown_in_full() -> None:
    out = rule({"expr": {"fact": "x"}, "op": "ge", "value": 1}, {"x": "1e30"})
    assert out.truth is Tri.TRUE
    assert "1" + "0" * 30 in out.clauses[0].text.en
    out = rule(
        {"expr": {"fact": "x"}, "op": "gt", "value": 0}, {"x": "123456789012345678901234567.891"}
    )
    assert "123456789012345678901234567.891" in out.clauses[0].text.zh
    out = rule({"expr": {"fact": "x"}, "op": "gt", "value": 0}, {"x": "1e-30"})
    assert out.truth is Tri.TRUE
