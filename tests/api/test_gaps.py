"""Gap analysis over HTTP: the two routes the README documents.

The profile is the one of tests/unit/test_gaps.py, whose distances were computed by
hand; here they must come back through the API, for a sent profile and a stored one.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.services.gaps import LADDER
from tests.api.support import assert_problem, create_enterprise, profile
from tests.unit.test_gaps import PROFILE


def _criterion(report: dict[str, Any], policy_id: str, clause: str) -> dict[str, Any]:
    rung = next(r for r in report["ladder"] if r["policy_id"] == policy_id)
    found: dict[str, Any] = next(c for c in rung["criteria"] if c["clause"] == clause)
    return found


def _rd_gap(report: dict[str, Any]) -> dict[str, Any]:
    return _criterion(report, "cn-high-tech-enterprise", "rd-share.small.ratio")


def test_gaps_for_a_sent_profile(client: TestClient) -> None:
    response = client.post(
        "/v1/gaps", json={"fiscal_year": 2024, "profile": {"name": "南京示例", **PROFILE}}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert [r["policy_id"] for r in report["ladder"]] == [
        p for ladder in report["ladders"] for p in (r["policy_id"] for r in ladder["rungs"])
    ]
    assert {r["policy_id"] for r in report["ladder"]} <= set(LADDER)
    assert [ladder["id"] for ladder in report["ladders"]] == ["science", "industry"]
    # 5% of 96,000,000 of revenue over three years, 3,072,000 spent on R&D.
    assert _rd_gap(report)["met"] is False
    assert _rd_gap(report)["distance"] == "1728000.00"
    assert report["to_settle"] and report["next_rung"] in LADDER


def test_gaps_for_a_stored_enterprise(client: TestClient) -> None:
    enterprise = create_enterprise(client, profile("南京示例差距分析有限公司", **PROFILE))
    response = client.get(f"/v1/enterprises/{enterprise['id']}/gaps", params={"fiscal_year": 2024})
    assert response.status_code == 200, response.text
    assert _rd_gap(response.json())["distance"] == "1728000.00"


def test_gaps_for_an_unknown_enterprise_is_a_problem(client: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert_problem(client.get(f"/v1/enterprises/{missing}/gaps?fiscal_year=2024"), 404)


def test_gaps_need_a_fiscal_year(client: TestClient) -> None:
    enterprise = create_enterprise(client, profile("南京示例差距年度有限公司"))
    body = assert_problem(client.get(f"/v1/enterprises/{enterprise['id']}/gaps"), 422)
    assert [e.get("parameter") for e in body["errors"]] == ["fiscal_year"]
    body = assert_problem(client.post("/v1/gaps", json={"profile": {"name": "x"}}), 422)
    assert "/fiscal_year" in [e.get("pointer") for e in body["errors"]]
