"""Profiles, seeding and assertions shared by the ledger tests."""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from app.api.schemas.profile import EnterpriseProfile
from app.db.models import Award, AwardEvent, Budget
from app.services import awards as award_service
from app.services import enterprises as enterprise_service
from app.services import lifecycle
from app.services.actors import SYSTEM
from tests.helpers import random_uscc
from tests.ledger.server import LedgerServer

PROBLEM = "application/problem+json"
FY = 2024
PLATFORM = "nj-public-platform"  # reviewer-set amount, paid by the city (nanjing)
GREEN = "nj-green-manufacturing"  # a fixed 500000.00, paid by the city
RENT = "nj-startup-rent-subsidy"  # computed from the lease, paid by the enterprise's district
#: 公示 of nine working days, long over: approval is allowed at once.
NOTICE = {"notice_start": "2024-01-02", "notice_end": "2024-01-12"}

_rng = random.Random()


def uscc() -> str:
    return random_uscc(_rng)


def location(district: str) -> dict[str, str]:
    return {"province": "jiangsu", "city": "nanjing", "district": district}


def platform_profile(district: str = "jiangning", score: int = 88, **extra: Any) -> dict[str, Any]:
    """Eligible for nj-public-platform in 2022-2035: an AI computing centre with a pass
    mark every year (each test module works in fiscal years of its own)."""
    return {
        "uscc": uscc(),
        "name": "南京示例智能计算中心有限公司",
        "kind": "platform",
        "location": location(district),
        "compliance": {"serious_dishonesty": False},
        "recognitions": [
            {"kind": "ai_computing_center", "level": "municipal", "granted_on": "2022-07-01"}
        ],
        "years": {str(y): {"performance": {PLATFORM: score}} for y in range(2022, 2036)},
        **extra,
    }


def green_profile(district: str = "liuhe") -> dict[str, Any]:
    """Eligible for nj-green-manufacturing in 2024 (national green factory, listed 2024)."""
    return {
        "uscc": uscc(),
        "name": "南京示例汽车零部件有限公司",
        "kind": "enterprise",
        "location": location(district),
        "compliance": {"serious_dishonesty": False},
        "recognitions": [
            {"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}
        ],
    }


def rent_profile(district: str = "jiangning", rent_paid: str = "480000.00") -> dict[str, Any]:
    """Eligible for nj-startup-rent-subsidy in 2024: 500 m2 all year, the first subsidy
    year, so the award is the rent paid (480000.00 at the 80 yuan/m2/month cap)."""
    return {
        "uscc": uscc(),
        "name": "南京示例智能科技有限公司",
        "kind": "enterprise",
        "registered_on": "2023-05-10",
        "location": location(district),
        "compliance": {"serious_dishonesty": False},
        "recognitions": [
            {
                "kind": "tech_sme",
                "level": "national",
                "granted_on": "2024-04-30",
                "expires_on": "2024-12-31",
            }
        ],
        "lease": {"area_m2": "500", "start_on": "2023-06-01"},
        "years": {"2024": {"rent_paid": rent_paid}},
    }


# ---------------------------------------------------------------- through the API


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def register(client: httpx.Client, profile: dict[str, Any]) -> dict[str, Any]:
    return ok(client.post("/v1/enterprises", json=profile), 201)


def compute(
    client: httpx.Client,
    enterprise_id: str,
    policy_id: str = PLATFORM,
    fiscal_year: int = FY,
    amount: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "enterprise_id": enterprise_id,
        "policy_id": policy_id,
        "fiscal_year": fiscal_year,
    }
    if amount is not None:
        body["amount"] = amount
    return client.post("/v1/awards", json=body, headers=headers or {})


def act(client: httpx.Client, award_id: str, action: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/awards/{award_id}/{action}", json=body)


def budget(
    client: httpx.Client, policy_id: str, fiscal_year: int = FY, payer: str = "nanjing"
) -> dict[str, Any] | None:
    found = ok(
        client.get(
            "/v1/budgets",
            params={"policy_id": policy_id, "fiscal_year": fiscal_year, "payer": payer},
        )
    )["items"]
    assert len(found) <= 1, found
    return found[0] if found else None


def create_budget(
    client: httpx.Client,
    policy_id: str,
    amount: str,
    fiscal_year: int = FY,
    level: str = "city",
    payer: str = "nanjing",
) -> dict[str, Any]:
    return ok(
        client.post(
            "/v1/budgets",
            json={
                "policy_id": policy_id,
                "fiscal_year": fiscal_year,
                "payer_level": level,
                "payer_jurisdiction": payer,
                "amount": amount,
            },
        ),
        201,
    )


def audit_events(client: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
    """Every audit record matching ``filters``, page after page (at most 100 pages)."""
    events: list[dict[str, Any]] = []
    after = 0
    for _page in range(100):
        page = ok(
            client.get("/v1/audit/events", params={**filters, "after_seq": after, "limit": 200})
        )
        events += page["items"]
        if page["next_cursor"] is None:
            return events
        after = int(page["next_cursor"])
    raise AssertionError("more than 100 pages of audit records")


def verify(client: httpx.Client, **params: Any) -> dict[str, Any]:
    return ok(client.get("/v1/audit/verify", params=params))


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``; its body."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].split(";")[0] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str) and body[key], body
    return body


# ---------------------------------------------------------------- through the service layer


def seed_awards(
    server: LedgerServer,
    count: int,
    amount: str,
    *,
    policy_id: str = PLATFORM,
    fiscal_year: int = FY,
    district: str = "xuanwu",
    notice: bool = True,
) -> list[str]:
    """``count`` enterprises with one reviewer-set award each, noticed in the past, in one
    transaction through the same services the API calls (fast, and fully audited)."""
    catalog = server.catalog
    ids = []
    with server.session() as session:
        for _ in range(count):
            profile = EnterpriseProfile.model_validate(platform_profile(district))
            enterprise, _version = enterprise_service.create_enterprise(
                session, catalog, profile, SYSTEM
            )
            award = award_service.compute_award(
                session,
                catalog,
                enterprise_id=enterprise.id,
                policy_id=policy_id,
                fiscal_year=fiscal_year,
                amount=Decimal(amount),
                actor=SYSTEM,
            )
            if notice:
                lifecycle.transition(
                    session,
                    catalog,
                    SYSTEM,
                    award.id,
                    "notice",
                    notice_start=date.fromisoformat(NOTICE["notice_start"]),
                    notice_end=date.fromisoformat(NOTICE["notice_end"]),
                )
            ids.append(award.id)
    return ids


def stored_awards(server: LedgerServer, ids: list[str]) -> dict[str, Award]:
    with server.session() as session:
        rows = session.scalars(select(Award).where(Award.id.in_(ids))).all()
        return {a.id: a for a in rows}


def stored_events(server: LedgerServer, ids: list[str]) -> dict[str, list[AwardEvent]]:
    found: dict[str, list[AwardEvent]] = {i: [] for i in ids}
    with server.session() as session:
        rows = session.scalars(
            select(AwardEvent)
            .where(AwardEvent.award_id.in_(ids))
            .order_by(AwardEvent.at, AwardEvent.id)
        ).all()
        for event in rows:
            found[event.award_id].append(event)
    return found


def stored_budget(server: LedgerServer, budget_id: str) -> Budget:
    with server.session() as session:
        row = session.get(Budget, budget_id)
        assert row is not None
        return row
