"""200 approvals at once against a budget that holds 50 of them: never overspent.

Each award is exactly 20,000.00 and the budget 1,000,000.00, so exactly 50 approvals
fit. The 200 requests arrive together at four worker processes on one database (a
PostgreSQL database, and an SQLite file); the reservation is one conditional UPDATE
in the database, so exactly 50 succeed, the other 150 get a 409 problem, none a 5xx,
and the budget ends committed to the cent.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import httpx

from tests.ledger.server import Call, LedgerServer, burst
from tests.ledger.support import (
    PLATFORM,
    assert_problem,
    audit_events,
    budget,
    create_budget,
    ok,
    seed_awards,
    stored_awards,
    verify,
)

AWARDS = 200
AMOUNT = "20000.00"
BUDGET = "1000000.00"
FIT = int(Decimal(BUDGET) / Decimal(AMOUNT))  # 50
YEAR = 2030  # this module's budgets: (nj-public-platform, 2030 and 2029, nanjing)
TOP_UP_YEAR = 2029


def test_concurrent_approvals_commit_exactly_the_budget(
    server: LedgerServer, admin: httpx.Client
) -> None:
    ids = seed_awards(server, AWARDS, AMOUNT, fiscal_year=YEAR)
    created = create_budget(admin, PLATFORM, BUDGET, fiscal_year=YEAR)
    assert created["committed"] == "0.00" and created["remaining"] == BUDGET

    outcomes = burst(
        server.base_url,
        server.admin_token,
        [
            Call("POST", f"/v1/awards/{award_id}/approve", {"reason": "reviewed"})
            for award_id in ids
        ],
    )

    failures = [o for o in outcomes if not isinstance(o, httpx.Response)]
    assert not failures, f"transport errors: {failures[:3]!r}"
    responses = [o for o in outcomes if isinstance(o, httpx.Response)]
    statuses = Counter(r.status_code for r in responses)
    assert not [s for s in statuses if s >= 500], f"{statuses}\n{server.log_tail()}"
    assert statuses == {200: FIT, 409: AWARDS - FIT}, statuses

    approved = set()
    for award_id, response in zip(ids, responses, strict=True):
        if response.status_code == 200:
            body = response.json()
            assert body["id"] == award_id and body["status"] == "approved"
            approved.add(award_id)
        else:
            problem = assert_problem(response, 409)
            assert problem["budget_id"] == created["id"], problem
            assert "cannot take 20000.00" in problem["detail"], problem

    after = budget(admin, PLATFORM, YEAR)
    assert after is not None
    assert after["id"] == created["id"]
    assert after["amount"] == BUDGET
    assert after["committed"] == BUDGET
    assert after["remaining"] == "0.00"
    assert after["disbursed"] == "0.00"

    # The ledger agrees with the budget: the approved awards are exactly the 50 that
    # were answered 200, they point at the budget, and their amounts sum to committed.
    listed = ok(
        admin.get(
            "/v1/awards",
            params={"policy_id": PLATFORM, "fiscal_year": YEAR, "status": "approved", "limit": 200},
        )
    )["items"]
    assert {a["id"] for a in listed} == approved
    assert sum(Decimal(a["amount"]) for a in listed) == Decimal(after["committed"])
    rows = stored_awards(server, ids)
    for award_id, row in rows.items():
        if award_id in approved:
            assert row.status == "approved" and row.budget_id == created["id"]
        else:
            assert row.status == "public_notice" and row.budget_id is None

    utilisation = ok(
        admin.get("/v1/budgets/utilisation", params={"policy_id": PLATFORM, "fiscal_year": YEAR})
    )
    assert [u["utilisation"] for u in utilisation["items"]] == ["1.0000"]

    audited = [e["object_id"] for e in audit_events(admin, action="award.approved")]
    mine = [award_id for award_id in audited if award_id in rows]
    assert set(mine) == approved and len(mine) == FIT
    assert verify(admin)["ok"] is True


def test_one_more_approval_is_refused_and_an_increase_makes_room(
    server: LedgerServer, admin: httpx.Client
) -> None:
    """A full budget refuses one more; raising it by one award's amount lets exactly one
    more through; lowering it below committed is refused.

    Self-contained (its own fiscal year): under xdist the burst above may have run on a
    server of another worker."""
    year = TOP_UP_YEAR
    filled = seed_awards(server, 2, AMOUNT, fiscal_year=year)
    full = str(Decimal(AMOUNT) * 2)
    created = create_budget(admin, PLATFORM, full, fiscal_year=year)
    for award_id in filled:
        assert ok(admin.post(f"/v1/awards/{award_id}/approve", json={}))["status"] == "approved"
    before = budget(admin, PLATFORM, year)
    assert before is not None and before["id"] == created["id"]
    assert before["remaining"] == "0.00"
    [first, second] = seed_awards(server, 2, AMOUNT, fiscal_year=year)
    assert_problem(admin.post(f"/v1/awards/{first}/approve", json={}), 409)

    raised = str(Decimal(full) + Decimal(AMOUNT))
    ok(admin.put(f"/v1/budgets/{before['id']}", json={"amount": raised, "reason": "top-up"}))
    assert ok(admin.post(f"/v1/awards/{first}/approve", json={}))["status"] == "approved"
    assert_problem(admin.post(f"/v1/awards/{second}/approve", json={}), 409)
    lowered = admin.put(
        f"/v1/budgets/{before['id']}", json={"amount": full, "reason": "cut below committed"}
    )
    assert_problem(lowered, 409)
    after = budget(admin, PLATFORM, year)
    assert after is not None
    assert (after["amount"], after["committed"], after["remaining"]) == (raised, raised, "0.00")
