"""``Idempotency-Key``: one effect however many times, and however concurrently, it is sent.

The key is claimed in the request's own transaction (a unique index on (API key, key)),
so 50 identical requests arriving together at four workers make one award, one
``award.computed`` audit record, and 50 identical answers, 49 of them replays.
"""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx

from tests.ledger.server import Call, LedgerServer, burst
from tests.ledger.support import (
    NOTICE,
    PLATFORM,
    act,
    assert_problem,
    budget,
    compute,
    ok,
    platform_profile,
    register,
    stored_events,
    verify,
)

COPIES = 50
YEAR = 2032  # this module's awards and budget


def _responses(outcomes: list[httpx.Response | BaseException]) -> list[httpx.Response]:
    failures = [o for o in outcomes if not isinstance(o, httpx.Response)]
    assert not failures, f"transport errors: {failures[:3]!r}"
    return [o for o in outcomes if isinstance(o, httpx.Response)]


def _audited(admin: httpx.Client, action: str, object_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(
        admin.get(
            "/v1/audit/events", params={"action": action, "object_id": object_id, "limit": 200}
        )
    )["items"]
    return items


def test_fifty_concurrent_copies_make_one_award(server: LedgerServer, admin: httpx.Client) -> None:
    enterprise = register(admin, platform_profile())
    key = f"award-{uuid.uuid4()}"
    body = {
        "enterprise_id": enterprise["id"],
        "policy_id": PLATFORM,
        "fiscal_year": YEAR,
        "amount": "20000.00",
    }

    responses = _responses(
        burst(
            server.base_url,
            server.admin_token,
            [Call("POST", "/v1/awards", body, {"Idempotency-Key": key})] * COPIES,
        )
    )

    assert Counter(r.status_code for r in responses) == {201: COPIES}, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    first = responses[0].json()
    assert all(r.json() == first for r in responses), "every answer is the same award"
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert Counter(replayed) == {"true": COPIES - 1, None: 1}, Counter(replayed)

    awards = ok(admin.get("/v1/awards", params={"enterprise_id": enterprise["id"]}))["items"]
    assert [a["id"] for a in awards] == [first["id"]]
    [computed] = _audited(admin, "award.computed", first["id"])
    assert computed["payload"]["enterprise_id"] == enterprise["id"]
    events = ok(admin.get(f"/v1/awards/{first['id']}/events"))["items"]
    assert [e["to_status"] for e in events] == ["computed"]

    # A later retry still replays the stored answer.
    again = admin.post("/v1/awards", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == first
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_same_key_with_another_body_is_refused(admin: httpx.Client) -> None:
    enterprise = register(admin, platform_profile())
    key = f"award-{uuid.uuid4()}"
    headers = {"Idempotency-Key": key}
    created = ok(
        compute(admin, enterprise["id"], fiscal_year=YEAR, amount="20000.00", headers=headers), 201
    )

    other = compute(admin, enterprise["id"], fiscal_year=YEAR, amount="30000.00", headers=headers)
    problem = assert_problem(other, 422)
    assert problem["errors"] == [
        {"parameter": "Idempotency-Key", "detail": "reused with another body"}
    ]
    other_year = compute(
        admin, enterprise["id"], fiscal_year=YEAR + 1, amount="20000.00", headers=headers
    )
    assert_problem(other_year, 422)

    awards = ok(admin.get("/v1/awards", params={"enterprise_id": enterprise["id"]}))["items"]
    assert [(a["id"], a["amount"]) for a in awards] == [(created["id"], "20000.00")]


def test_the_key_belongs_to_the_api_key_that_sent_it(
    server: LedgerServer, admin: httpx.Client
) -> None:
    enterprise = register(admin, platform_profile())
    neighbour = register(admin, platform_profile())
    key = f"award-{uuid.uuid4()}"
    headers = {"Idempotency-Key": key}
    created = ok(
        compute(admin, enterprise["id"], fiscal_year=YEAR, amount="20000.00", headers=headers), 201
    )

    with server.client(server.issue("admin", label="second-admin")) as second:
        # The same key and body from another API key is a request of its own: it is
        # carried out (not replayed), and finds the award the first key made.
        same = compute(
            second, enterprise["id"], fiscal_year=YEAR, amount="20000.00", headers=headers
        )
        problem = assert_problem(same, 409)
        assert problem["existing_id"] == created["id"]
        assert "Idempotent-Replayed" not in same.headers
        # ... and with another body it is not a reuse of someone else's key.
        fresh = compute(
            second, neighbour["id"], fiscal_year=YEAR, amount="20000.00", headers=headers
        )
        assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
        assert fresh.json()["enterprise_id"] == neighbour["id"]

    # The first key's record is untouched: it still replays its own answer.
    replay = compute(admin, enterprise["id"], fiscal_year=YEAR, amount="20000.00", headers=headers)
    assert replay.status_code == 201 and replay.json() == created
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_concurrent_approvals_with_one_key_commit_once(
    server: LedgerServer, admin: httpx.Client
) -> None:
    """An approval retried 20 times at once moves the budget once."""
    enterprise = register(admin, platform_profile())
    award = ok(compute(admin, enterprise["id"], fiscal_year=YEAR, amount="20000.00"), 201)
    ok(act(admin, award["id"], "notice", **NOTICE))
    before = budget(admin, PLATFORM, YEAR)
    committed_before = before["committed"] if before else "0.00"

    key = f"approve-{uuid.uuid4()}"
    responses = _responses(
        burst(
            server.base_url,
            server.admin_token,
            [
                Call(
                    "POST",
                    f"/v1/awards/{award['id']}/approve",
                    {"reason": "ok"},
                    {"Idempotency-Key": key},
                )
            ]
            * 20,
        )
    )
    assert Counter(r.status_code for r in responses) == {200: 20}, [r.text for r in responses][:3]
    assert all(r.json() == responses[0].json() for r in responses)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert responses[0].json()["status"] == "approved"

    after = budget(admin, PLATFORM, YEAR)
    assert after is not None
    assert Decimal(after["committed"]) - Decimal(committed_before) == Decimal("20000.00")
    [events] = stored_events(server, [award["id"]]).values()
    assert [e.to_status for e in events] == ["computed", "public_notice", "approved"]
    assert len(_audited(admin, "award.approved", award["id"])) == 1

    # Without a key, 20 concurrent approvals of another award: one wins, 19 conflict.
    other = ok(
        compute(
            admin, register(admin, platform_profile())["id"], fiscal_year=YEAR, amount="20000.00"
        ),
        201,
    )
    ok(act(admin, other["id"], "notice", **NOTICE))
    plain = _responses(
        burst(
            server.base_url,
            server.admin_token,
            [Call("POST", f"/v1/awards/{other['id']}/approve", {})] * 20,
        )
    )
    assert Counter(r.status_code for r in plain) == {200: 1, 409: 19}
    for r in plain:
        if r.status_code == 409:
            assert assert_problem(r, 409)["status_now"] == "approved"
    final = budget(admin, PLATFORM, YEAR)
    assert final is not None
    assert Decimal(final["committed"]) - Decimal(committed_before) == Decimal("40000.00")
    assert verify(admin)["ok"] is True
