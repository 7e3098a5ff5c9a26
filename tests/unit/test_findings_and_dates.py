"""Findings only an official can make, application dates, and sums and differences."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.catalog.schema import PolicyFile
from app.domain import engine
from app.domain.findings import RecordedFinding
from app.domain.results import Tri

from .builders import FY, policy, reason_text, rule, version

POSITION = {
    "id": "market-position",
    "text": {"zh": "市场地位较为靠前", "en": "a leading market position"},
    "finding": "market_position",
}
REVENUE = {"fact": "years.{fy}.revenue", "op": "ge", "value": 1000}


def _found(met: bool) -> dict[str, RecordedFinding]:
    return {"market_position": RecordedFinding("market_position", met, "王审核", date(2026, 6, 1))}


# --------------------------------------------------------------------------- findings


def test_an_unrecorded_finding_is_required_not_a_missing_fact() -> None:
    pol = policy({"all": [REVENUE, POSITION]})
    answer = engine.evaluate(pol, {"years": {str(FY): {"revenue": 5000}}}, FY)
    assert answer.status == "undetermined"
    assert answer.missing_facts == ()
    assert answer.findings_required == ("market_position",)
    assert "awaits an official's finding" in reason_text(answer)


def test_a_failed_computable_clause_settles_without_the_finding() -> None:
    pol = policy({"all": [REVENUE, POSITION]})
    answer = engine.evaluate(pol, {"years": {str(FY): {"revenue": 10}}}, FY)
    assert answer.status == "ineligible"
    assert answer.findings_required == ()


def test_missing_facts_and_findings_are_listed_apart() -> None:
    pol = policy({"all": [REVENUE, POSITION]})
    answer = engine.evaluate(pol, {}, FY)
    assert answer.status == "undetermined"
    assert answer.missing_facts == (f"years.{FY}.revenue",)
    assert answer.findings_required == ("market_position",)


@pytest.mark.parametrize(("met", "status"), [(True, "eligible"), (False, "ineligible")])
def test_a_recorded_finding_settles_the_clause_with_reviewer_and_date(
    met: bool, status: str
) -> None:
    pol = policy({"all": [REVENUE, POSITION]})
    answer = engine.evaluate(pol, {"years": {str(FY): {"revenue": 5000}}}, FY, findings=_found(met))
    assert answer.status == status
    assert answer.findings_required == ()
    assert answer.findings_used["market_position"]["reviewer"] == "王审核"
    assert answer.findings_used["market_position"]["recorded_on"] == "2026-06-01"
    text = reason_text(answer)
    assert "王审核" in text and "2026-06-01" in text


def test_a_finding_in_the_profile_is_not_a_finding() -> None:
    # Enterprises do not find for themselves: only the findings passed in count.
    pol = policy({"all": [POSITION]})
    answer = engine.evaluate(pol, {"findings": {"market_position": True}}, FY)
    assert answer.status == "undetermined"


def test_an_alternative_route_that_holds_needs_no_finding() -> None:
    pol = policy({"any": [REVENUE, POSITION]})
    answer = engine.evaluate(pol, {"years": {str(FY): {"revenue": 5000}}}, FY)
    assert answer.status == "eligible"
    assert answer.findings_required == ()


# --------------------------------------------------------------------------- application dates

REGISTERED = {"days_before_application": {"since": "registered_on", "min": 365}}


@pytest.mark.parametrize(
    ("profile", "truth", "missing"),
    [
        ({"registered_on": "2024-03-01", "application_date": "2025-02-28"}, Tri.FALSE, ()),
        ({"registered_on": "2024-03-01", "application_date": "2025-03-01"}, Tri.TRUE, ()),
        # Without the date: the application falls in fy+1 = 2025.
        ({"registered_on": "2024-01-01"}, Tri.TRUE, ()),
        ({"registered_on": "2024-06-01"}, Tri.UNKNOWN, ("application_date",)),
        ({"registered_on": "2025-01-01"}, Tri.FALSE, ()),
        ({}, Tri.UNKNOWN, ("registered_on",)),
    ],
)
def test_days_before_application(
    profile: dict[str, Any], truth: Tri, missing: tuple[str, ...]
) -> None:
    out = rule(REGISTERED, profile, fiscal_year=2024)
    assert out.truth is truth
    assert out.missing == missing


def _by_application() -> PolicyFile:
    base = policy(
        versions=[
            version(name="2022", effective_from="2022-08-01", formula={"fixed": 1}),
            version(name="2026", effective_from="2026-04-01", formula={"fixed": 2}),
        ]
    )
    return base.model_copy(update={"versions_by": "application"})


@pytest.mark.parametrize(
    ("fiscal_year", "profile", "expected"),
    [
        (2024, {}, "2022"),
        (2025, {}, "2026"),  # applied for in 2026, when the 2026 measures are in force
        (2025, {"application_date": "2026-03-31"}, "2022"),
        (2025, {"application_date": "2026-04-01"}, "2026"),
        # Applied for in 2022: the 2022 measures were in force for part of that year…
        (2021, {}, "2022"),
        # … but not on a dated application before 2022-08-01.
        (2021, {"application_date": "2022-05-01"}, None),
    ],
)
def test_versions_by_application(
    fiscal_year: int, profile: dict[str, Any], expected: str | None
) -> None:
    pol = _by_application()
    chosen = engine.select_version(pol, fiscal_year, profile)
    assert (chosen.version if chosen else None) == expected
    answer = engine.evaluate(pol, profile, fiscal_year)
    assert answer.policy_version == expected
    if expected is None:
        assert "applied for in" in reason_text(answer)


def test_versions_by_fiscal_year_ignore_the_application_date() -> None:
    pol = policy(
        versions=[
            version(name="old", effective_from="2020-01-01", effective_to="2022-12-31"),
            version(name="new", effective_from="2023-01-01"),
        ]
    )
    chosen = engine.select_version(pol, 2022, {"application_date": "2024-01-01"})
    assert chosen is not None and chosen.version == "old"
    gone = engine.evaluate(pol, {}, 2019)
    assert gone.status == "ineligible"
    assert "the earliest version the catalog holds took effect on 2020-01-01" in reason_text(gone)


def test_a_year_after_the_last_version_says_when_it_ended() -> None:
    pol = policy(versions=[version(effective_from="2023-01-01", effective_to="2027-12-31")])
    gone = engine.evaluate(pol, {}, 2028)
    assert "the latest version the catalog holds ended on 2027-12-31" in reason_text(gone)


# --------------------------------------------------------------------------- sum, difference


@pytest.mark.parametrize(
    ("expr", "value", "truth"),
    [
        ({"sum": [{"fact": "years.{fy}.revenue"}, {"fact": "years.{fy-1}.revenue"}]}, 30, Tri.TRUE),
        (
            {"sum": [{"fact": "years.{fy}.revenue"}, {"fact": "years.{fy-1}.revenue"}]},
            31,
            Tri.FALSE,
        ),
        ({"difference": [{"fact": "years.{fy}.revenue"}, 5]}, 15, Tri.TRUE),
        ({"difference": [{"fact": "years.{fy}.revenue"}, "$cut"]}, 16, Tri.FALSE),
    ],
)
def test_sum_and_difference(expr: dict[str, Any], value: int, truth: Tri) -> None:
    profile = {"years": {str(FY): {"revenue": "20"}, str(FY - 1): {"revenue": "10"}}}
    out = rule({"expr": expr, "op": "ge", "value": value}, profile, params={"cut": 5})
    assert out.truth is truth


def test_a_sum_with_an_unknown_part_names_it() -> None:
    expr = {"sum": [{"fact": "years.{fy}.revenue"}, {"fact": "years.{fy-1}.revenue"}]}
    out = rule({"expr": expr, "op": "ge", "value": 1}, {"years": {str(FY): {"revenue": 5}}})
    assert out.truth is Tri.UNKNOWN
    assert out.missing == (f"years.{FY - 1}.revenue",)


def test_difference_amount_is_exact() -> None:
    expr = {"difference": [{"fact": "years.{fy}.revenue"}, {"fact": "years.{fy}.rent_paid"}]}
    profile = {"years": {str(FY): {"revenue": "100.10", "rent_paid": "0.05"}}}
    out = rule({"expr": expr, "op": "eq", "value": "100.05"}, profile)
    assert out.truth is Tri.TRUE
    assert out.clauses[0].actual == Decimal("100.05")
