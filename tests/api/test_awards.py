"""Awards: computed from the stored profile, capped, stored with their trace, listed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.support import (
    assert_money,
    assert_problem,
    create_enterprise,
    nanjing,
    pointers,
    post_award,
    profile,
    reason_texts,
    result_for,
)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
CLEAN = {"serious_dishonesty": False, "major_incident_last_year": False}


def green_factory(**overrides: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "kind": "enterprise",
        "location": nanjing("jiangning", "jiangning-development-zone"),
        "industry": "manufacturing",
        "compliance": CLEAN,
        "recognitions": [
            {"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}
        ],
    }
    facts.update(overrides)
    return profile("南京测试绿色制造有限公司", **facts)


def public_platform() -> dict[str, Any]:
    return profile(
        "南京测试信创服务有限公司",
        kind="platform",
        location=nanjing("jianye", "hexi-new-town"),
        compliance=CLEAN,
        recognitions=[
            {"kind": "public_platform", "level": "municipal", "granted_on": "2023-03-01"}
        ],
        years={"2024": {"performance": {"nj-public-platform": 88}}},
    )


# The rent subsidy (nj-startup-rent-subsidy) is in force from 2022 (its catalog
# version starts on 2022-01-01), so the three subsidised years are 2022-2024 and the
# fourth is 2025. The profile carries every year's facts the policy reads: rent paid,
# revenue for the growth tiers, a high-tech certificate valid in each year.
RENT_YEARS = (2022, 2023, 2024)
FOURTH_YEAR = 2025


def rent_startup() -> dict[str, Any]:
    return profile(
        "南京测试初创科技有限公司",
        kind="enterprise",
        registered_on="2021-03-15",
        location=nanjing("pukou", "jiangbei-new-area"),
        industry="scientific_research_technical",
        compliance=CLEAN,
        recognitions=[
            {
                "kind": "high_tech_enterprise",
                "level": "national",
                "granted_on": "2021-11-30",
                "expires_on": "2024-11-29",
            },
            {
                "kind": "high_tech_enterprise",
                "level": "national",
                "granted_on": "2024-11-30",
                "expires_on": "2027-11-29",
            },
        ],
        lease={"area_m2": "600", "start_on": "2021-04-01"},
        years={
            str(year): {"revenue": revenue, "rent_paid": "432000.00"}
            for year, revenue in (
                (2021, "5000000.00"),
                (2022, "8000000.00"),
                (2023, "9000000.00"),
                (2024, "12000000.00"),
                (2025, "15000000.00"),
            )
        },
    )


def _award(
    client: TestClient, enterprise_id: str, policy_id: str, year: int, **extra: Any
) -> dict[str, Any]:
    response = post_award(client, enterprise_id, policy_id, year, **extra)
    assert response.status_code == 201, response.text
    award: dict[str, Any] = response.json()
    return award


# ------------------------------------------------------------------------ computing one


def test_award_for_an_eligible_enterprise(client: TestClient) -> None:
    enterprise = create_enterprise(client, green_factory())
    response = post_award(client, enterprise["id"], "nj-green-manufacturing", 2024)
    assert response.status_code == 201, response.text
    award = response.json()
    assert award["id"]
    assert award["enterprise_id"] == enterprise["id"]
    assert award["policy_id"] == "nj-green-manufacturing"
    assert award["fiscal_year"] == 2024
    assert award["status"] == "computed"
    assert award["amount_basis"] == "computed"
    amount = assert_money(award["amount"])
    assert Decimal(0) < amount <= Decimal("500000.00")
    assert amount <= assert_money(award["uncapped_amount"])
    assert isinstance(award["caps_applied"], list)
    assert award["policy_version"]
    assert award["catalog_hash"] == client.get("/v1/policies").json()["catalog_hash"]
    assert award["profile_version"] == 1
    assert award["payer"]["level"]

    trace = award["trace"]
    assert trace["facts_read"], trace
    assert "location.city" in trace["facts_read"]
    assert trace["clauses"] and all(c["met"] is True for c in trace["clauses"])
    assert all(c["text"]["zh"] and c["text"]["en"] for c in trace["clauses"])
    assert trace["formula_steps"]
    assert trace["profile_version"] == 1
    assert trace["policy_version"] == award["policy_version"]

    # the stored award now counts against the policy's caps
    entitlements = client.get(
        f"/v1/enterprises/{enterprise['id']}/entitlements", params={"fiscal_year": 2024}
    ).json()
    after = result_for(entitlements, "nj-green-manufacturing")
    assert after["status"] == "ineligible"
    assert any("one award per policy and fiscal year" in t for t in reason_texts(after["reasons"]))

    fetched = client.get(f"/v1/awards/{award['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == award


def test_second_identical_award_is_a_409_problem(client: TestClient) -> None:
    enterprise = create_enterprise(client, green_factory())
    first = _award(client, enterprise["id"], "nj-green-manufacturing", 2024)
    problem = assert_problem(
        post_award(client, enterprise["id"], "nj-green-manufacturing", 2024), 409
    )
    assert first["id"] in problem["detail"]
    listed = client.get("/v1/awards", params={"enterprise_id": enterprise["id"]}).json()
    assert [a["id"] for a in listed["items"]] == [first["id"]]


def test_ineligible_is_a_422_problem_with_reasons(client: TestClient) -> None:
    body = green_factory(location={"province": "hubei", "city": "wuhan", "district": "hongshan"})
    enterprise = create_enterprise(client, body)
    response = post_award(client, enterprise["id"], "nj-green-manufacturing", 2024)
    problem = assert_problem(response, 422)
    assert problem["reasons"], problem
    assert any(r["met"] is False for r in problem["reasons"])
    assert any("Nanjing" in t for t in reason_texts(problem["reasons"]))
    assert problem.get("missing_facts") in (None, [])
    assert (
        client.get("/v1/awards", params={"enterprise_id": enterprise["id"]}).json()["items"] == []
    )


def test_undetermined_is_a_422_problem_with_missing_facts(client: TestClient) -> None:
    body = green_factory()
    del body["compliance"]
    enterprise = create_enterprise(client, body)
    problem = assert_problem(
        post_award(client, enterprise["id"], "nj-green-manufacturing", 2024), 422
    )
    assert problem["missing_facts"] == ["compliance.serious_dishonesty"]
    assert problem["reasons"]
    assert "compliance.serious_dishonesty" in problem["detail"]


def test_award_for_an_unknown_enterprise_is_a_404_problem(client: TestClient) -> None:
    assert_problem(post_award(client, UNKNOWN_ID, "nj-green-manufacturing", 2024), 404)


def test_award_for_an_unknown_policy_is_a_422_problem(client: TestClient) -> None:
    enterprise = create_enterprise(client, green_factory())
    problem = assert_problem(post_award(client, enterprise["id"], "xx-no-such-policy", 2024), 422)
    assert pointers(problem) == ["/policy_id"]


@pytest.mark.parametrize("policy_id", ["cn-hte-tax-rate", "nj-hte-green-channel"])
def test_no_award_for_a_policy_that_pays_none(client: TestClient, policy_id: str) -> None:
    body = green_factory(
        industry="software_information",
        recognitions=[
            {
                "kind": "high_tech_enterprise",
                "level": "national",
                "granted_on": "2023-11-30",
                "expires_on": "2026-11-29",
            }
        ],
        years={"2024": {"taxable_income": "5000000.00"}},
    )
    enterprise = create_enterprise(client, body)
    response = post_award(client, enterprise["id"], policy_id, 2024)
    assert_problem(response, 422)


# ------------------------------------------------------------------------ the 3-year limit


def test_rent_subsidy_is_refused_in_the_fourth_year(client: TestClient) -> None:
    enterprise = create_enterprise(client, rent_startup())
    eid = enterprise["id"]
    # before the policy took effect there is nothing to award
    early = assert_problem(post_award(client, eid, "nj-startup-rent-subsidy", 2021), 422)
    assert any(r["clause"] == "effective" for r in early["reasons"])

    awarded = []
    for year in RENT_YEARS:
        award = _award(client, eid, "nj-startup-rent-subsidy", year)
        assert Decimal(0) < assert_money(award["amount"]) <= Decimal("432000.00")
        awarded.append(award)
    assert awarded[0]["amount"] == "432000.00"  # the first subsidy year pays all the rent

    problem = assert_problem(post_award(client, eid, "nj-startup-rent-subsidy", FOURTH_YEAR), 422)
    failed = [r for r in problem["reasons"] if r["met"] is False]
    assert [r["clause"] for r in failed] == ["caps.max_years"], failed
    assert "at most 3 fiscal years" in failed[0]["text"]["en"]
    for year in RENT_YEARS:
        assert str(year) in failed[0]["text"]["en"]
    assert "3" in failed[0]["text"]["zh"]
    assert "at most 3 fiscal years" in problem["detail"]

    entitlements = client.get(
        f"/v1/enterprises/{eid}/entitlements", params={"fiscal_year": FOURTH_YEAR}
    )
    assert entitlements.status_code == 200
    result = result_for(entitlements.json(), "nj-startup-rent-subsidy")
    assert result["status"] == "ineligible"
    assert result["amount"] is None
    assert any("at most 3 fiscal years" in t for t in reason_texts(result["reasons"]))

    # the open calculator knows no award history, so it still says eligible
    answer = client.post(
        "/v1/eligibility", json={"profile": rent_startup(), "fiscal_year": FOURTH_YEAR}
    ).json()
    assert result_for(answer, "nj-startup-rent-subsidy")["status"] == "eligible"

    listed = client.get(
        "/v1/awards", params={"enterprise_id": eid, "policy_id": "nj-startup-rent-subsidy"}
    ).json()
    assert sorted(a["fiscal_year"] for a in listed["items"]) == list(RENT_YEARS)


# ------------------------------------------------------------------------ reviewer amounts


def test_reviewer_set_policy_needs_an_amount(client: TestClient) -> None:
    enterprise = create_enterprise(client, public_platform())
    eid = enterprise["id"]
    answer = client.get(f"/v1/enterprises/{eid}/entitlements", params={"fiscal_year": 2024}).json()
    result = result_for(answer, "nj-public-platform")
    assert result["status"] == "eligible"
    assert result["amount_basis"] == "set_by_reviewer"
    assert result["amount"] is None

    problem = assert_problem(post_award(client, eid, "nj-public-platform", 2024), 422)
    assert pointers(problem) == ["/amount"]

    award = _award(client, eid, "nj-public-platform", 2024, amount="800000.50")
    assert award["amount"] == "800000.50"
    assert award["amount_basis"] == "set_by_reviewer"
    assert award["trace"]["reviewer_amount"] in ("800000.50", "800000.5")

    other = create_enterprise(client, public_platform())
    award = _award(client, other["id"], "nj-public-platform", 2024, amount=300000)
    assert award["amount"] == "300000.00"


def test_amount_is_refused_for_a_computed_policy(client: TestClient) -> None:
    enterprise = create_enterprise(client, green_factory())
    response = post_award(
        client, enterprise["id"], "nj-green-manufacturing", 2024, amount="1000.00"
    )
    problem = assert_problem(response, 422)
    assert pointers(problem) == ["/amount"]
    assert (
        client.get("/v1/awards", params={"enterprise_id": enterprise["id"]}).json()["items"] == []
    )


# ------------------------------------------------------------------------ history is kept


def test_award_keeps_its_profile_version_after_a_put(client: TestClient) -> None:
    body = green_factory()
    enterprise = create_enterprise(client, body)
    award = _award(client, enterprise["id"], "nj-green-manufacturing", 2024)

    changed = json.loads(json.dumps(body))
    changed["recognitions"] = []
    changed["location"] = nanjing("gulou")
    updated = client.put(f"/v1/enterprises/{enterprise['id']}", json=changed)
    assert updated.status_code == 200
    assert updated.json()["version"] == 2

    stored = client.get(f"/v1/awards/{award['id']}").json()
    assert stored["profile_version"] == 1
    assert stored["amount"] == award["amount"]
    assert stored["trace"] == award["trace"]
    assert "green_factory" in json.dumps(stored["trace"]["facts_read"])
    versions = client.get(f"/v1/enterprises/{enterprise['id']}/versions").json()["items"]
    assert stored["trace"]["profile_hash"] == versions[0]["profile_hash"]

    # the calculator now reads version 2, on which the enterprise would not qualify
    now = client.get(
        f"/v1/enterprises/{enterprise['id']}/entitlements", params={"fiscal_year": 2024}
    ).json()
    assert now["profile_version"] == 2
    assert result_for(now, "nj-green-manufacturing")["status"] == "ineligible"


# ------------------------------------------------------------------------ listing


def test_awards_are_filtered(client: TestClient) -> None:
    green = create_enterprise(client, green_factory())
    platform = create_enterprise(client, public_platform())
    green_award = _award(client, green["id"], "nj-green-manufacturing", 2024)
    platform_award = _award(client, platform["id"], "nj-public-platform", 2024, amount="123456.78")
    mine = {green_award["id"], platform_award["id"]}

    def listed(**params: Any) -> list[dict[str, Any]]:
        response = client.get("/v1/awards", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        for item in items:
            assert item["trace"] is None  # the trace is in the detail view only
            assert_money(item["amount"])
        return items

    by_enterprise = listed(enterprise_id=green["id"])
    assert [a["id"] for a in by_enterprise] == [green_award["id"]]

    by_policy = listed(policy_id="nj-public-platform", enterprise_id=platform["id"])
    assert [a["id"] for a in by_policy] == [platform_award["id"]]
    assert all(
        a["policy_id"] == "nj-public-platform" for a in listed(policy_id="nj-public-platform")
    )

    # Each filter is checked twice: on the whole ledger (every row matches; the ledger
    # is shared with other tests) and on one enterprise (the row is there, or not).
    assert all(a["fiscal_year"] == 2024 for a in listed(fiscal_year=2024))
    assert listed(fiscal_year=2024, enterprise_id=green["id"]) == by_enterprise
    assert listed(fiscal_year=2023, enterprise_id=green["id"]) == []

    assert all(a["status"] == "computed" for a in listed(status="computed"))
    for award in (green_award, platform_award):
        found = listed(status="computed", enterprise_id=award["enterprise_id"])
        assert [a["id"] for a in found] == [award["id"]]
    assert not mine & {a["id"] for a in listed(status="approved")}

    band = listed(amount_min="123456.78", amount_max="123456.78")
    assert all(a["amount"] == "123456.78" for a in band)
    exact = listed(amount_min="123456.78", amount_max=123457, enterprise_id=platform["id"])
    assert [a["id"] for a in exact] == [platform_award["id"]]
    above = listed(amount_min="123456.79", enterprise_id=platform["id"])
    assert above == []
    below = listed(amount_max=123456, enterprise_id=platform["id"])
    assert below == []
    assert listed(amount_min=500000, amount_max=500000, enterprise_id=green["id"]) == (
        by_enterprise if green_award["amount"] == "500000.00" else []
    )

    nothing = listed(enterprise_id=UNKNOWN_ID)
    assert nothing == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "paid"},
        {"fiscal_year": 1999},
        {"amount_min": "-1"},
        {"amount_min": "1.234"},
        {"amount_max": "lots"},
        {"limit": 0},
        {"cursor": "garbage"},
        {"created_from": "yesterday"},
    ],
)
def test_bad_award_filters_are_422_problems(client: TestClient, params: dict[str, Any]) -> None:
    problem = assert_problem(client.get("/v1/awards", params=params), 422)
    assert [e.get("parameter") for e in problem["errors"]] == list(params)


def test_awards_are_paginated_by_cursor(client: TestClient) -> None:
    enterprise = create_enterprise(client, rent_startup())
    created = [
        _award(client, enterprise["id"], "nj-startup-rent-subsidy", y)["id"] for y in RENT_YEARS
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 1, "enterprise_id": enterprise["id"]}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/awards", params=params).json()
        pages += 1
        assert len(page["items"]) <= 1
        seen.extend(a["id"] for a in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert seen == created  # oldest first, none repeated, none skipped


def test_unknown_award_is_a_404_problem(client: TestClient) -> None:
    problem = assert_problem(client.get(f"/v1/awards/{UNKNOWN_ID}"), 404)
    assert UNKNOWN_ID in problem["detail"]
    assert_problem(client.get("/v1/awards/not-even-a-uuid"), 404)
