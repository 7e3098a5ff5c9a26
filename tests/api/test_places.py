"""A location is one place (province ⊃ city ⊃ district ⊃ park), and a portal's scope
is decided on that place: every level must agree with the portal's, not any one.

The finding: a Hongshan (Wuhan) portal registered {"city": "nanjing", "district":
"hongshan"}; Nanjing's portal then took it for its own and approved 500,000.00 from
Nanjing's budget. The reverse let Wuhan edit a Jiangning enterprise.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import repositories as repo
from app.db.models import ApiKey, Enterprise
from app.main import create_app
from tests.api.conftest import issue_token, make_settings
from tests.api.support import (
    assert_problem,
    create_enterprise,
    pointers,
    profile,
    store_as_before,
)

GREEN = "nj-green-manufacturing"  # 500,000.00 from Nanjing's budget


def _green(location: dict[str, str]) -> dict[str, Any]:
    return profile(
        "示例绿色工厂有限公司",
        kind="enterprise",
        location=location,
        compliance={"serious_dishonesty": False},
        recognitions=[{"kind": "green_factory", "level": "national", "granted_on": "2024-03-01"}],
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def portals(client: TestClient) -> dict[str, dict[str, str]]:
    return {
        j: _bearer(issue_token(client.app, "portal", jurisdiction=j))  # type: ignore[arg-type]
        for j in ("nanjing", "wuhan", "jiangning", "hongshan")
    }


def _stored(client: TestClient, uscc: str) -> Enterprise | None:
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        return repo.get_enterprise_by_uscc(session, uscc)


# ---------------------------------------------------------------- one consistent place


@pytest.mark.parametrize(
    ("portal", "location", "named"),
    [
        ("hongshan", {"province": "hubei", "city": "nanjing", "district": "hongshan"}, "wuhan"),
        ("wuhan", {"city": "wuhan", "district": "jiangning"}, "nanjing"),
        ("nanjing", {"city": "nanjing", "district": "hongshan"}, "wuhan"),
        ("admin", {"city": "nanjing", "district": "hongshan"}, "wuhan"),
        ("admin", {"province": "hubei", "city": "nanjing"}, "jiangsu"),
    ],
)
def test_a_location_whose_levels_disagree_is_a_422_and_nothing_is_stored(
    client: TestClient,
    portals: dict[str, dict[str, str]],
    portal: str,
    location: dict[str, str],
    named: str,
) -> None:
    body = _green(location)
    headers = portals.get(portal, {})
    problem = assert_problem(client.post("/v1/enterprises", json=body, headers=headers), 422)
    lower = f"/location/{'district' if 'district' in location else 'city'}"
    assert lower in pointers(problem)
    # The detail names where the place really is, and the fix.
    [error] = [e for e in problem["errors"] if e["pointer"] == lower]
    assert named in error["detail"] and "give a" in error["detail"]
    assert _stored(client, body["uscc"]) is None


def test_put_cannot_move_an_enterprise_to_a_place_that_is_not_one(client: TestClient) -> None:
    body = _green({"province": "jiangsu", "city": "nanjing", "district": "jiangning"})
    created = create_enterprise(client, body)
    moved = {**body, "location": {"city": "wuhan", "district": "jiangning"}}
    problem = assert_problem(client.put(f"/v1/enterprises/{created['id']}", json=moved), 422)
    assert pointers(problem) == ["/location/district"]
    assert client.get(f"/v1/enterprises/{created['id']}").json()["version"] == 1


def test_the_calculator_refuses_a_place_that_is_not_one(client: TestClient) -> None:
    body = {"profile": _green({"city": "nanjing", "district": "hongshan"}), "fiscal_year": 2024}
    for path in ("/v1/eligibility", "/v1/gaps"):
        problem = assert_problem(client.post(path, json=body), 422)
        assert pointers(problem) == ["/profile/location/district"]


# ---------------------------------------------------------------- rows from before


@pytest.fixture(scope="module")
def misfiled(client: TestClient) -> Enterprise:
    """An enterprise stored with Nanjing as its city and Hongshan as its district, as the
    service accepted before locations were checked (written to the database directly)."""
    return store_as_before(client.app, _green({"city": "nanjing", "district": "hongshan"}))


def test_a_misfiled_enterprise_is_no_portals_own(
    client: TestClient, portals: dict[str, dict[str, str]], misfiled: Enterprise
) -> None:
    eid = misfiled.id
    for name, headers in portals.items():
        assert_problem(client.get(f"/v1/enterprises/{eid}", headers=headers), 404)
        listed = client.get("/v1/enterprises", params={"limit": 200}, headers=headers).json()
        assert eid not in {e["id"] for e in listed["items"]}, name
        award = {"enterprise_id": eid, "policy_id": GREEN, "fiscal_year": 2024}
        assert_problem(client.post("/v1/awards", json=award, headers=headers), 404)
        put = _green({"province": "hubei", "city": "wuhan", "district": "hongshan"})
        put["uscc"] = misfiled.uscc
        assert_problem(client.put(f"/v1/enterprises/{eid}", json=put, headers=headers), 404)
    # An admin still sees it, and corrects it; then it is Hongshan's.
    assert client.get(f"/v1/enterprises/{eid}").status_code == 200
    fixed = _green({"province": "hubei", "city": "wuhan", "district": "hongshan"})
    fixed["uscc"] = misfiled.uscc
    assert client.put(f"/v1/enterprises/{eid}", json=fixed).status_code == 200
    assert client.get(f"/v1/enterprises/{eid}", headers=portals["hongshan"]).status_code == 200
    assert_problem(client.get(f"/v1/enterprises/{eid}", headers=portals["nanjing"]), 404)


def test_start_up_names_stored_locations_that_are_not_one_place(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    store_as_before(client.app, _green({"city": "wuhan", "district": "jiangning"}))
    url = client.app.state.settings.database_url  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, "incentives"), TestClient(create_app(make_settings(url))):
        pass
    warned = [r.getMessage() for r in caplog.records if "not one place" in r.getMessage()]
    assert any("city wuhan, district jiangning" in m for m in warned), warned


# ---------------------------------------------------------------- partial places


def test_a_location_without_its_city_is_still_the_citys(
    client: TestClient, portals: dict[str, dict[str, str]]
) -> None:
    created = create_enterprise(client, _green({"district": "jiangning"}))
    eid = created["id"]
    for mine in ("nanjing", "jiangning"):
        assert client.get(f"/v1/enterprises/{eid}", headers=portals[mine]).status_code == 200
        listed = client.get("/v1/enterprises", params={"limit": 200}, headers=portals[mine])
        page = listed.json()["items"]
        while eid not in {e["id"] for e in page} and listed.json()["next_cursor"]:
            listed = client.get(
                "/v1/enterprises",
                params={"limit": 200, "cursor": listed.json()["next_cursor"]},
                headers=portals[mine],
            )
            page = listed.json()["items"]
        assert eid in {e["id"] for e in page}, mine
    for theirs in ("wuhan", "hongshan"):
        assert_problem(client.get(f"/v1/enterprises/{eid}", headers=portals[theirs]), 404)


# ---------------------------------------------------------------- keys and budgets


def test_a_portal_key_whose_place_left_the_catalog_reaches_nothing(client: TestClient) -> None:
    token = issue_token(client.app, "portal", jurisdiction="jiangning")  # type: ignore[arg-type]
    prefix = token.split("_")[1]
    with client.app.state.sessionmaker.begin() as session:  # type: ignore[attr-defined]
        key = repo.get_api_key_by_prefix(session, prefix)
        assert isinstance(key, ApiKey)
        key.jurisdiction = "atlantis"  # as if a catalog update dropped the place
    problem = assert_problem(client.get("/v1/enterprises", headers=_bearer(token)), 403)
    assert "atlantis" in problem["detail"] and "new key" in problem["detail"]


@pytest.mark.parametrize(
    ("level", "payer", "pointer"),
    [("district", "nanjing", "/payer_level"), ("city", "atlantis", "/payer_jurisdiction")],
)
def test_a_budget_is_paid_by_a_place_at_its_level(
    client: TestClient, level: str, payer: str, pointer: str
) -> None:
    body = {
        "policy_id": GREEN,
        "fiscal_year": 2061,
        "payer_level": level,
        "payer_jurisdiction": payer,
        "amount": "1000.00",
    }
    problem = assert_problem(client.post("/v1/budgets", json=body), 422)
    assert pointers(problem) == [pointer]


def test_a_district_portal_reaches_the_budgets_of_its_parks(
    client: TestClient, portals: dict[str, dict[str, str]]
) -> None:
    body = {
        "policy_id": GREEN,
        "fiscal_year": 2062,
        "payer_level": "park",
        "payer_jurisdiction": "jiangning-high-tech-zone",
        "amount": "1000.00",
    }
    created = client.post("/v1/budgets", json=body)
    assert created.status_code == 201, created.text

    def seen(portal: str) -> bool:
        answer = client.get("/v1/budgets", params={"fiscal_year": 2062}, headers=portals[portal])
        return created.json()["id"] in {b["id"] for b in answer.json()["items"]}

    assert seen("jiangning") and seen("nanjing")
    assert not seen("hongshan") and not seen("wuhan")
