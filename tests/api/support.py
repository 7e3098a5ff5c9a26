"""Request helpers and builders shared by the API tests."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.db import repositories as repo
from app.db.models import Enterprise, ProfileVersion
from tests.helpers import random_uscc

PROBLEM = "application/problem+json"
MONEY_OUT = re.compile(r"^-?\d+\.\d{2}$")

# ------------------------------------------------------------------------ assertions


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, body
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def pointers(problem: dict[str, Any]) -> list[str]:
    return [e["pointer"] for e in problem.get("errors") or [] if e.get("pointer") is not None]


def assert_money(value: Any) -> Decimal:
    """Money in a response: a string with exactly two places."""
    assert isinstance(value, str), f"money must be a string, got {value!r}"
    assert MONEY_OUT.match(value), f"money must have two places, got {value!r}"
    return Decimal(value)


# ------------------------------------------------------------------------ builders


def nanjing(district: str = "jiangning", park: str | None = None) -> dict[str, str]:
    location = {"province": "jiangsu", "city": "nanjing", "district": district}
    if park:
        location["park"] = park
    return location


def profile(name: str = "南京测试科技有限公司", **facts: Any) -> dict[str, Any]:
    """A profile with a fresh valid USCC; ``facts`` are added as given."""
    return {"uscc": random_uscc(), "name": name, **copy.deepcopy(facts)}


def create_enterprise(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/enterprises", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def eligibility(
    client: TestClient, body: dict[str, Any], fiscal_year: int = 2024, **extra: Any
) -> dict[str, Any]:
    response = client.post(
        "/v1/eligibility", json={"profile": body, "fiscal_year": fiscal_year, **extra}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def result_for(answer: dict[str, Any], policy_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in answer["results"] if r["policy_id"] == policy_id]
    assert len(found) == 1, (
        f"{policy_id} not answered once: {[r['policy_id'] for r in answer['results']]}"
    )
    return found[0]


def post_award(
    client: TestClient, enterprise_id: str, policy_id: str, fiscal_year: int, **extra: Any
) -> httpx.Response:
    response: httpx.Response = client.post(
        "/v1/awards",
        json={
            "enterprise_id": enterprise_id,
            "policy_id": policy_id,
            "fiscal_year": fiscal_year,
            **extra,
        },
    )
    return response


def reason_texts(reasons: list[dict[str, Any]], met: bool | None = False) -> list[str]:
    """The English text of the reasons with ``met`` as given."""
    return [r["text"]["en"] for r in reasons if r["met"] is met]


def store_as_before(app: Any, profile: dict[str, Any]) -> Enterprise:
    """Write an enterprise and its first profile version straight to the database, as
    the service stored any location before its levels were checked (detached)."""
    with app.state.sessionmaker.begin() as session:
        enterprise = repo.add_enterprise(
            session,
            Enterprise(
                uscc=profile["uscc"],
                name=profile["name"],
                kind=profile["kind"],
                current_version=1,
                **profile["location"],
            ),
        )
        repo.add_profile_version(
            session,
            ProfileVersion(
                enterprise_id=enterprise.id,
                version=1,
                profile=profile,
                profile_hash="0" * 64,
                created_by="portal:before",
            ),
        )
        session.expunge(enterprise)
    return enterprise
