"""The open calculator: POST /v1/eligibility answers for every policy and stores nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.support import (
    assert_money,
    create_enterprise,
    eligibility,
    nanjing,
    profile,
    reason_texts,
    result_for,
)

STATUSES = {"eligible", "ineligible", "undetermined"}
BASES = {"computed", "set_by_reviewer", "estimate", "none"}


def green_factory() -> dict[str, Any]:
    """A Nanjing enterprise on the national green factory list (listed in 2024)."""
    return profile(
        "南京测试汽车零部件有限公司",
        kind="enterprise",
        location=nanjing("jiangning", "jiangning-development-zone"),
        industry="manufacturing",
        compliance={"serious_dishonesty": False, "major_incident_last_year": False},
        recognitions=[{"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}],
    )


def consortium_leader_without_score() -> dict[str, Any]:
    """Every fact nj-innovation-consortium reads, but the 2024 performance score.

    The policy asks: registered in Nanjing; an enterprise or R&D institution; a
    consortium-leader recognition (municipal or higher) valid in the year; as an
    enterprise, prior-year revenue of at least 400 million; no serious dishonesty; and
    the year's performance score (which also drives the formula).
    """
    return profile(
        "南京测试集成电路有限公司",
        kind="enterprise",
        location=nanjing("yuhuatai"),
        compliance={"serious_dishonesty": False, "major_incident_last_year": False},
        recognitions=[
            {
                "kind": "consortium_leader",
                "level": "municipal",
                "granted_on": "2023-06-30",
                "expires_on": "2026-06-29",
            },
        ],
        years={
            "2023": {"revenue": "450000000.00"},
            "2024": {"revenue": "480000000.00", "performance": {}},
        },
    )


def software_second_time_above() -> dict[str, Any]:
    """A software enterprise above 100 million in 2021, below after, above again in 2024."""
    return profile(
        "南京测试信息技术有限公司",
        kind="enterprise",
        industry="software_information",
        location=nanjing("jianye"),
        compliance={"serious_dishonesty": False, "major_incident_last_year": False},
        years={
            "2020": {"operating_income": "80000000.00"},
            "2021": {"operating_income": "112000000.00"},
            "2022": {"operating_income": "91000000.00"},
            "2023": {"operating_income": "97000000.00"},
            "2024": {"operating_income": "130000000.00"},
        },
    )


def _count_enterprises(client: TestClient) -> int:
    count, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/enterprises", params=params).json()
        count += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return count


# ------------------------------------------------------------------------ the answer's shape


def test_every_policy_is_answered_with_reasons_in_both_languages(client: TestClient) -> None:
    answer = eligibility(client, green_factory())
    catalog = client.get("/v1/policies").json()
    assert answer["fiscal_year"] == 2024
    assert answer["catalog_hash"] == catalog["catalog_hash"]
    assert sorted(r["policy_id"] for r in answer["results"]) == sorted(
        p["id"] for p in catalog["items"]
    )
    for result in answer["results"]:
        assert result["status"] in STATUSES
        assert result["amount_basis"] in BASES
        assert result["title"]["zh"] and result["title"]["en"]
        if result["amount"] is not None:
            assert_money(result["amount"])
        if result.get("uncapped_amount") is not None:
            assert_money(result["uncapped_amount"])
        assert result["reasons"], result["policy_id"]
        for reason in result["reasons"]:
            assert reason["clause"]
            assert reason["met"] in (True, False, None)
            assert reason["text"]["zh"] and reason["text"]["en"]
        assert isinstance(result["missing_facts"], list)
        if result["status"] == "undetermined":
            assert result["missing_facts"], result
        else:
            assert result["missing_facts"] == [], result
        if result["status"] == "ineligible":
            assert reason_texts(result["reasons"], met=False), result
    totals = answer["totals"]
    assert totals["eligible"] + totals["ineligible"] + totals["undetermined"] == len(
        answer["results"]
    )
    assert_money(totals["computed_amount"])
    assert_money(totals["estimated_tax_benefit"])


def test_totals_add_up_the_eligible_amounts(client: TestClient) -> None:
    answer = eligibility(client, green_factory())
    computed = sum(
        (
            Decimal(r["amount"])
            for r in answer["results"]
            if r["status"] == "eligible" and r["amount_basis"] == "computed" and r["amount"]
        ),
        Decimal(0),
    )
    assert Decimal(answer["totals"]["computed_amount"]) == computed
    for status in STATUSES:
        assert answer["totals"][status] == sum(r["status"] == status for r in answer["results"])


def test_policy_ids_narrow_the_answer(client: TestClient) -> None:
    wanted = ["nj-green-manufacturing", "nj-innovation-consortium"]
    answer = eligibility(client, green_factory(), policy_ids=wanted)
    assert [r["policy_id"] for r in answer["results"]] == wanted


def test_a_bare_profile_is_undetermined_not_ineligible(client: TestClient) -> None:
    answer = eligibility(client, {"name": "只有名称"})
    for result in answer["results"]:
        if result["status"] == "ineligible":
            # only a policy not in force can refuse a profile that says nothing
            assert any(r["clause"] == "effective" for r in result["reasons"]), result
        assert result["amount"] is None or result["status"] == "eligible"


# ------------------------------------------------------------------------ acceptance cases


def test_nanjing_green_factory_is_eligible_for_green_manufacturing(client: TestClient) -> None:
    result = result_for(eligibility(client, green_factory()), "nj-green-manufacturing")
    assert result["status"] == "eligible", result
    assert result["amount_basis"] == "computed"
    amount = assert_money(result["amount"])
    assert Decimal(0) < amount <= Decimal("500000.00")
    assert result["missing_facts"] == []
    assert all(r["met"] is True for r in result["reasons"]), result["reasons"]
    assert result["policy_version"]


def test_green_factory_outside_nanjing_is_ineligible(client: TestClient) -> None:
    body = green_factory()
    body["location"] = {"province": "hubei", "city": "wuhan", "district": "hongshan"}
    result = result_for(eligibility(client, body), "nj-green-manufacturing")
    assert result["status"] == "ineligible"
    assert result["amount"] is None
    assert any("Nanjing" in text for text in reason_texts(result["reasons"]))


def test_consortium_leader_without_a_score_is_undetermined(client: TestClient) -> None:
    result = result_for(
        eligibility(client, consortium_leader_without_score()), "nj-innovation-consortium"
    )
    assert result["status"] == "undetermined", result
    assert result["missing_facts"] == ["years.2024.performance.nj-innovation-consortium"]
    assert result["amount"] is None
    unknown = [r for r in result["reasons"] if r["met"] is None]
    assert unknown and all(
        r["missing_facts"] == ["years.2024.performance.nj-innovation-consortium"] for r in unknown
    )


def test_consortium_leader_with_a_score_is_eligible(client: TestClient) -> None:
    body = consortium_leader_without_score()
    body["years"]["2024"]["performance"] = {"nj-innovation-consortium": 92}
    result = result_for(eligibility(client, body), "nj-innovation-consortium")
    assert result["status"] == "eligible", result
    assert Decimal(0) < assert_money(result["amount"]) <= Decimal("5000000.00")


def test_software_enterprise_above_100m_for_the_second_time_is_ineligible(
    client: TestClient,
) -> None:
    result = result_for(
        eligibility(client, software_second_time_above()), "nj-software-revenue-milestone"
    )
    assert result["status"] == "ineligible", result
    assert result["missing_facts"] == []
    assert result["amount"] is None
    failed = reason_texts(result["reasons"])
    assert any("2021" in text for text in failed), failed


def test_software_enterprise_above_100m_for_the_first_time_is_eligible(
    client: TestClient,
) -> None:
    body = software_second_time_above()
    body["years"]["2021"]["operating_income"] = "99000000.00"
    result = result_for(eligibility(client, body), "nj-software-revenue-milestone")
    assert result["status"] == "eligible", result
    # the source states no amount: the reviewing department sets it
    assert result["amount_basis"] == "set_by_reviewer"
    assert result["amount"] is None


def test_policy_not_in_force_is_ineligible(client: TestClient) -> None:
    result = result_for(eligibility(client, green_factory(), 2005), "nj-green-manufacturing")
    assert result["status"] == "ineligible"
    assert any(r["clause"] == "effective" for r in result["reasons"])


# ------------------------------------------------------------------------ nothing stored


def test_eligibility_stores_nothing(client: TestClient) -> None:
    before = _count_enterprises(client)
    for body in (green_factory(), consortium_leader_without_score(), software_second_time_above()):
        eligibility(client, body)
    assert _count_enterprises(client) == before
    # the same USCC can still be registered afterwards
    body = green_factory()
    eligibility(client, body)
    assert client.post("/v1/enterprises", json=body).status_code == 201
    assert _count_enterprises(client) == before + 1


@pytest.mark.parametrize("fiscal_year", [2022, 2023, 2024, 2025])
def test_answer_is_deterministic(client: TestClient, fiscal_year: int) -> None:
    body = green_factory()
    first = eligibility(client, body, fiscal_year)
    second = eligibility(client, body, fiscal_year)
    assert first == second


# ------------------------------------------------------------------------ the vocabulary


def _place_words(places: list[dict[str, Any]]) -> dict[str, str]:
    """A province, city, district and park that belong together."""
    for province in places:
        for city in province.get("cities", []):
            for district in city.get("districts", []):
                for park in district.get("parks", []):
                    return {
                        "province": province["value"],
                        "city": city["value"],
                        "district": district["value"],
                        "park": park["value"],
                    }
    raise AssertionError("the vocabulary names no park")


def _sample(fact: dict[str, Any], vocabulary: dict[str, Any], places: dict[str, str]) -> Any:
    kind = fact["type"]
    if kind == "enum":
        level = fact["path"].rsplit(".", 1)[-1]
        if fact["path"].startswith("location.") and level in places:
            return places[level]
        return vocabulary["enumerations"][fact["enum"]][0]["value"]
    samples = {
        "money": "1000.00",
        "decimal": "120.5",
        "share": "0.25",
        "integer": 3,
        "score": 80,
        "date": "2023-06-30",
        "boolean": False,
    }
    return samples[kind]


def _put(profile_: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node: Any = profile_
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if key == "*":
            key = {"years": "2024", "performance": "nj-innovation-consortium"}.get(keys[i - 1], "0")
        if isinstance(node, list):
            while len(node) <= int(key):
                node.append({})
            if last:
                node[int(key)] = value
            node = node[int(key)]
            continue
        if last:
            node[key] = value
        else:
            nxt = keys[i + 1]
            node = node.setdefault(key, [] if nxt == "*" and key == "recognitions" else {})


def test_every_fact_of_the_vocabulary_can_be_sent(client: TestClient) -> None:
    """facts.yaml and the profile schema agree: a client can state every fact a rule reads."""
    vocabulary = client.get("/v1/vocabulary").json()
    places = _place_words(vocabulary["places"])
    body: dict[str, Any] = profile()
    for fact in vocabulary["facts"]:
        if fact["type"] in ("list", "text"):
            continue  # containers and identity, filled through their members
        _put(body, fact["path"], _sample(fact, vocabulary, places))
    response = client.post("/v1/eligibility", json={"profile": body, "fiscal_year": 2024})
    assert response.status_code == 200, response.text
    stored = create_enterprise(client, body)["profile"]
    for fact in vocabulary["facts"]:
        if fact["type"] not in ("list", "text"):
            assert _has(stored, fact["path"]), fact["path"]


def _has(node: Any, path: str) -> bool:
    for key in path.split("."):
        if key == "*":
            if isinstance(node, list):
                node = node[0] if node else None
            elif isinstance(node, dict) and node:
                node = next(iter(node.values()))
            else:
                return False
            continue
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return node is not None
