"""Stored enterprises: registration, versioned updates, listing, entitlements."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.support import (
    assert_money,
    assert_problem,
    create_enterprise,
    eligibility,
    nanjing,
    pointers,
    profile,
)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _software_company(**overrides: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "kind": "enterprise",
        "registered_on": "2019-03-15",
        "location": nanjing("yuhuatai", "china-nanjing-software-valley"),
        "industry": "software_information",
        "hte_field": "electronic_information",
        "employees": 120,
        "tech_staff": 40,
        "rd_staff": 30,
        "recognitions": [
            {
                "kind": "high_tech_enterprise",
                "level": "national",
                "granted_on": "2023-11-30",
                "expires_on": "2026-11-29",
            }
        ],
        "ip": {"class_i": 3, "class_ii": 10},
        "compliance": {"serious_dishonesty": False, "major_incident_last_year": False},
        "tax": {"book_based": True},
        "years": {
            "2023": {"revenue": "40000000.00", "operating_income": "40000000.00"},
            "2024": {
                "revenue": "48000000.00",
                "operating_income": "48000000.00",
                "rd_expense": "3600000.00",
                "rd_expense_domestic": "3600000.00",
                "taxable_income": "5000000.00",
            },
        },
    }
    facts.update(overrides)
    return profile("南京测试软件有限公司", **facts)


# ------------------------------------------------------------------------ create


def test_create_returns_201_with_version_1(client: TestClient) -> None:
    body = _software_company()
    response = client.post("/v1/enterprises", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"]
    assert created["version"] == 1
    assert created["uscc"] == body["uscc"]
    assert created["name"] == body["name"]
    assert created["kind"] == "enterprise"
    assert created["location"] == {
        "province": "jiangsu",
        "city": "nanjing",
        "district": "yuhuatai",
        "park": "china-nanjing-software-valley",
    }
    stored = created["profile"]
    assert stored["uscc"] == body["uscc"]
    assert stored["years"]["2024"]["revenue"] == "48000000.00"
    assert stored["recognitions"] == body["recognitions"]

    fetched = client.get(f"/v1/enterprises/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["profile"] == stored
    assert fetched.json()["version"] == 1


def test_only_the_name_is_required(client: TestClient) -> None:
    created = create_enterprise(client, {"name": "只有名称的企业"})
    assert created["version"] == 1
    assert created["uscc"] is None
    problem = assert_problem(client.post("/v1/enterprises", json={"uscc": None}), 422)
    assert pointers(problem) == ["/name"]


def test_duplicate_uscc_is_a_409_problem(client: TestClient) -> None:
    body = _software_company()
    first = create_enterprise(client, body)
    again = {**body, "name": "另一家"}
    problem = assert_problem(client.post("/v1/enterprises", json=again), 409)
    assert first["id"] in problem["detail"]
    # a lower-case spelling of the same code is the same code
    lower = {**body, "uscc": body["uscc"].lower()}
    assert_problem(client.post("/v1/enterprises", json=lower), 409)


# ------------------------------------------------------------------------ versions


def test_put_keeps_the_earlier_version(client: TestClient) -> None:
    body = _software_company()
    created = create_enterprise(client, body)
    eid = created["id"]

    changed = json.loads(json.dumps(body))
    changed["employees"] = 150
    changed["years"]["2024"]["revenue"] = "52000000.00"
    response = client.put(f"/v1/enterprises/{eid}", json=changed)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["id"] == eid
    assert updated["version"] == 2
    assert updated["profile"]["employees"] == 150

    current = client.get(f"/v1/enterprises/{eid}").json()
    assert current["version"] == 2
    assert current["profile"]["years"]["2024"]["revenue"] == "52000000.00"

    old = client.get(f"/v1/enterprises/{eid}", params={"version": 1})
    assert old.status_code == 200
    assert old.json()["version"] == 1
    assert old.json()["profile"] == created["profile"]
    assert old.json()["profile"]["employees"] == 120

    versions = client.get(f"/v1/enterprises/{eid}/versions")
    assert versions.status_code == 200
    listing = versions.json()
    assert listing["enterprise_id"] == eid
    assert [v["version"] for v in listing["items"]] == [1, 2]
    assert listing["items"][0]["profile"] == created["profile"]
    assert listing["items"][1]["profile"] == updated["profile"]
    assert listing["items"][0]["profile_hash"] != listing["items"][1]["profile_hash"]


def test_put_of_an_unchanged_profile_adds_no_version(client: TestClient) -> None:
    body = _software_company()
    created = create_enterprise(client, body)
    response = client.put(f"/v1/enterprises/{created['id']}", json=body)
    assert response.status_code == 200
    assert response.json()["version"] == 1
    versions = client.get(f"/v1/enterprises/{created['id']}/versions").json()
    assert [v["version"] for v in versions["items"]] == [1]


def test_put_cannot_change_the_uscc(client: TestClient) -> None:
    created = create_enterprise(client, _software_company())
    other = _software_company()  # a different, valid USCC
    problem = assert_problem(client.put(f"/v1/enterprises/{created['id']}", json=other), 422)
    assert pointers(problem) == ["/uscc"]


def test_put_cannot_take_another_enterprises_uscc(client: TestClient) -> None:
    first = create_enterprise(client, _software_company())
    second = create_enterprise(client, {"name": "无代码企业"})
    body = {"name": "无代码企业", "uscc": first["uscc"]}
    assert_problem(client.put(f"/v1/enterprises/{second['id']}", json=body), 409)


def test_put_is_validated_like_post(client: TestClient) -> None:
    created = create_enterprise(client, _software_company())
    bad = _software_company(industry="nonsense")
    bad["uscc"] = created["uscc"]
    problem = assert_problem(client.put(f"/v1/enterprises/{created['id']}", json=bad), 422)
    assert pointers(problem) == ["/industry"]


def test_unknown_version_is_a_404_problem(client: TestClient) -> None:
    created = create_enterprise(client, _software_company())
    assert_problem(client.get(f"/v1/enterprises/{created['id']}", params={"version": 7}), 404)
    assert_problem(client.get(f"/v1/enterprises/{created['id']}", params={"version": 0}), 422)


@pytest.mark.parametrize(
    ("method", "suffix", "params"),
    [
        ("GET", "", {}),
        ("PUT", "", {}),
        ("GET", "/versions", {}),
        ("GET", "/entitlements", {"fiscal_year": 2024}),
    ],
)
def test_unknown_enterprise_is_a_404_problem(
    client: TestClient, method: str, suffix: str, params: dict[str, Any]
) -> None:
    kwargs: dict[str, Any] = {"params": params}
    if method == "PUT":
        kwargs["json"] = profile()
    problem = assert_problem(
        client.request(method, f"/v1/enterprises/{UNKNOWN_ID}{suffix}", **kwargs), 404
    )
    assert UNKNOWN_ID in problem["detail"]


# ------------------------------------------------------------------------ listing


def test_list_is_paginated_by_cursor(client: TestClient) -> None:
    mine = {create_enterprise(client, profile(location=nanjing("lishui")))["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": 2, "district": "lishui"}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/enterprises", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        for item in page["items"]:
            assert item["location"]["district"] == "lishui"
            assert item["version"] >= 1
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a row was repeated across pages"
    assert mine <= set(seen), "a row was skipped"


def test_list_without_filters_returns_a_page_and_a_cursor(client: TestClient) -> None:
    for _ in range(3):
        create_enterprise(client, profile())
    page = client.get("/v1/enterprises", params={"limit": 2}).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    following = client.get(
        "/v1/enterprises", params={"limit": 2, "cursor": page["next_cursor"]}
    ).json()
    assert not {i["id"] for i in page["items"]} & {i["id"] for i in following["items"]}


def _fake_cursor(payload: Any) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        _fake_cursor(["yesterday", "x"]),
        _fake_cursor(["2024-01-01T00:00:00", "x"]),  # no time zone
        _fake_cursor({"a": 1}),
        _fake_cursor(["2024-01-01T00:00:00+00:00", 5]),
    ],
)
def test_bad_cursor_is_a_422_problem(client: TestClient, cursor: str) -> None:
    problem = assert_problem(client.get("/v1/enterprises", params={"cursor": cursor}), 422)
    assert [e.get("parameter") for e in problem["errors"]] == ["cursor"]


@pytest.mark.parametrize("limit", [0, -1, 201, "ten"])
def test_bad_limit_is_a_422_problem(client: TestClient, limit: Any) -> None:
    problem = assert_problem(client.get("/v1/enterprises", params={"limit": limit}), 422)
    assert [e.get("parameter") for e in problem["errors"]] == ["limit"]


# ------------------------------------------------------------------------ entitlements


def _verdicts(answer: dict[str, Any]) -> dict[str, tuple[str, str | None, list[str]]]:
    return {
        r["policy_id"]: (r["status"], r["amount"], r["missing_facts"]) for r in answer["results"]
    }


def test_entitlements_equal_eligibility_for_the_same_profile(client: TestClient) -> None:
    body = _software_company(
        recognitions=[
            {"kind": "high_tech_enterprise", "level": "national", "granted_on": "2023-11-30"},
            {"kind": "green_factory", "level": "national", "granted_on": "2024-03-01"},
            {"kind": "consortium_leader", "level": "municipal", "granted_on": "2023-06-30"},
        ]
    )
    created = create_enterprise(client, body)
    for fiscal_year in (2023, 2024):
        response = client.get(
            f"/v1/enterprises/{created['id']}/entitlements", params={"fiscal_year": fiscal_year}
        )
        assert response.status_code == 200, response.text
        stored = response.json()
        stateless = eligibility(client, body, fiscal_year)
        assert stored["fiscal_year"] == fiscal_year
        assert stored["profile_version"] == 1
        assert stored["catalog_hash"] == stateless["catalog_hash"]
        assert _verdicts(stored) == _verdicts(stateless)
        assert stored["totals"] == stateless["totals"]
        for result in stored["results"]:
            if result["amount"] is not None:
                assert_money(result["amount"])


def test_entitlements_read_the_current_version(client: TestClient) -> None:
    body = _software_company()
    created = create_enterprise(client, body)
    changed = json.loads(json.dumps(body))
    changed["location"] = {"province": "jiangsu", "city": "suzhou"}
    assert client.put(f"/v1/enterprises/{created['id']}", json=changed).status_code == 200
    stored = client.get(
        f"/v1/enterprises/{created['id']}/entitlements", params={"fiscal_year": 2024}
    ).json()
    assert stored["profile_version"] == 2
    assert _verdicts(stored) == _verdicts(eligibility(client, changed))


@pytest.mark.parametrize("params", [{}, {"fiscal_year": 1999}, {"fiscal_year": "this"}])
def test_entitlements_need_a_fiscal_year(client: TestClient, params: dict[str, Any]) -> None:
    created = create_enterprise(client, profile())
    problem = assert_problem(
        client.get(f"/v1/enterprises/{created['id']}/entitlements", params=params), 422
    )
    assert [e.get("parameter") for e in problem["errors"]] == ["fiscal_year"]
