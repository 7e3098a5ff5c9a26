"""A worker killed (SIGKILL) in the middle of a burst of approvals leaves no trace.

200 awards of 10,000.00 compete for a budget of 500,000.00 while one of the four
uvicorn workers is killed outright. The requests it was serving fail at the client
(connection reset: tolerated); the others answer 200 or 409, never 5xx. Afterwards:
no award is half-written (its status, its events, its budget link and its audit
records agree), every approval the server acknowledged is there, the budget's
committed equals the approved awards' sum and stays within the amount, and the audit
chain verifies. Retrying the lost requests then fills the budget exactly: a killed
transaction held back no money.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from decimal import Decimal

import httpx
from sqlalchemy import text

from tests.ledger.server import LedgerServer, async_client, auth
from tests.ledger.support import (
    PLATFORM,
    assert_problem,
    audit_events,
    budget,
    create_budget,
    seed_awards,
    stored_awards,
    stored_events,
    verify,
)

AWARDS = 200  # enough that the burst outlasts the first answers (approvals are fast now)
AMOUNT = Decimal("10000.00")
BUDGET = Decimal("500000.00")
FIT = int(BUDGET / AMOUNT)  # 50
YEAR = 2031  # this module's budget: (nj-public-platform, 2031, nanjing)


async def _approvals_with_a_kill(
    server: LedgerServer, ids: list[str], budget_id: str
) -> tuple[int, int, list[httpx.Response | BaseException]]:
    """Send every approval at once; once a worker holds ten of them (or after ten seconds),
    SIGKILL the worker that holds the most connections. The victim, how many it held,
    and the outcomes.

    The test holds the budget back until the kill (PostgreSQL: its row locked; SQLite:
    the database's write lock, which every approval waits for within its busy timeout):
    every approval is then waiting inside its request when the worker dies, however
    fast the machine answers. Without it a burst could finish before the first look, or
    leave the victim holding only idle keep-alive connections."""
    done = 0
    victim: list[tuple[int, int]] = []
    lock = server.engine.connect()
    if server.backend == "postgresql":
        lock.execute(text("SELECT id FROM budgets WHERE id = :id FOR UPDATE"), {"id": budget_id})
    else:
        lock.begin()  # BEGIN IMMEDIATE (app.db.session): the write lock, taken at once
    patience = time.monotonic() + 10

    async with async_client(server.base_url, len(ids)) as client:

        async def approve(award_id: str) -> httpx.Response:
            nonlocal done
            try:
                return await client.post(
                    f"/v1/awards/{award_id}/approve",
                    json={"reason": "burst"},
                    headers=auth(server.admin_token),
                )
            finally:
                done += 1

        async def kill() -> None:
            try:
                await find_and_kill()
            finally:
                lock.rollback()  # the others go on
                lock.close()

        async def find_and_kill() -> None:
            pid, count = 0, 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(0.005)
                held = server.connections_by_worker()
                pid, count = max(held.items(), key=lambda item: item[1], default=(0, 0))
                if count < 10 and time.monotonic() < patience:
                    continue  # the burst is still arriving
                if count > 0 or done >= len(ids):
                    break
            assert pid, "no worker to kill"
            os.kill(pid, signal.SIGKILL)
            victim.append((pid, count))

        killer = asyncio.create_task(kill())
        results = await asyncio.wait_for(
            asyncio.gather(*(approve(i) for i in ids), return_exceptions=True), 180
        )
        await asyncio.wait_for(killer, 60)
    [(pid, held)] = victim
    return pid, held, list(results)


def _wait_healthy(server: LedgerServer) -> None:
    deadline = time.monotonic() + 120
    with server.client() as client:
        while time.monotonic() < deadline:
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"the server did not recover:\n{server.log_tail()}")


def test_a_killed_worker_leaves_no_half_written_award(
    server: LedgerServer, admin: httpx.Client
) -> None:
    ids = seed_awards(server, AWARDS, f"{AMOUNT}", fiscal_year=YEAR)
    created = create_budget(admin, PLATFORM, f"{BUDGET}", fiscal_year=YEAR)
    assert len(server.worker_pids()) == server.workers
    startups = server.startups()

    victim, held, outcomes = asyncio.run(_approvals_with_a_kill(server, ids, created["id"]))

    # The victim is gone (the supervisor starts another in its place).
    assert victim not in server.worker_pids()
    answered = {i: o for i, o in zip(ids, outcomes, strict=True) if isinstance(o, httpx.Response)}
    lost = [i for i, o in zip(ids, outcomes, strict=True) if not isinstance(o, httpx.Response)]
    unexpected = [
        o
        for o in outcomes
        if isinstance(o, BaseException) and not isinstance(o, httpx.TransportError)
    ]
    assert not unexpected, unexpected[:3]
    statuses = Counter(r.status_code for r in answered.values())
    assert set(statuses) <= {200, 409}, f"{statuses}\n{server.log_tail()}"
    for response in answered.values():
        if response.status_code == 409:
            assert_problem(response, 409)
    acknowledged = {i for i, r in answered.items() if r.status_code == 200}
    print(
        f"\n[crash] held={held} {statuses} lost={len(lost)} {Counter(type(o).__name__ for o in outcomes)}"
    )
    # The kill cut requests in flight (else this proved nothing).
    assert held > 0 and lost, (held, statuses)

    _wait_healthy(server)
    server.wait_for_workers(startups + 1)  # the supervisor replaced the victim
    _check_ledger(server, admin, ids, created["id"], acknowledged)
    assert verify(admin)["ok"] is True

    # Retry what was lost (and what was refused): the budget fills exactly.
    for award_id in lost + [i for i, r in answered.items() if r.status_code == 409]:
        response = admin.post(f"/v1/awards/{award_id}/approve", json={"reason": "retry"})
        assert response.status_code in (200, 409), response.text
    approved = _check_ledger(server, admin, ids, created["id"], acknowledged)
    assert len(approved) == FIT
    final = budget(admin, PLATFORM, YEAR)
    assert final is not None and (final["committed"], final["remaining"]) == (f"{BUDGET}", "0.00")
    assert verify(admin)["ok"] is True


def _check_ledger(
    server: LedgerServer,
    admin: httpx.Client,
    ids: list[str],
    budget_id: str,
    acknowledged: set[str],
) -> set[str]:
    """Every award whole and consistent; the budget equal to the approved sum. The
    approved ids."""
    rows = stored_awards(server, ids)
    events = stored_events(server, ids)
    assert set(rows) == set(ids)
    approved = set()
    for award_id, row in rows.items():
        steps = [(e.from_status, e.to_status) for e in events[award_id]]
        if row.status == "approved":
            approved.add(award_id)
            assert row.budget_id == budget_id, award_id
            assert steps == [
                (None, "computed"),
                ("computed", "public_notice"),
                ("public_notice", "approved"),
            ]
            assert events[award_id][-1].details["budget_id"] == budget_id
        else:
            assert row.status == "public_notice", (award_id, row.status)
            assert row.budget_id is None, award_id
            assert steps == [(None, "computed"), ("computed", "public_notice")]
    assert acknowledged <= approved, "an approval answered 200 was lost"
    assert len(approved) <= FIT

    stored = budget(admin, PLATFORM, YEAR)
    assert stored is not None and stored["id"] == budget_id
    committed = Decimal(stored["committed"])
    assert (
        committed == sum((rows[i].amount for i in approved), Decimal("0")) == AMOUNT * len(approved)
    )
    assert committed <= Decimal(stored["amount"]) == BUDGET
    assert Decimal(stored["remaining"]) == BUDGET - committed

    audited = [e["object_id"] for e in audit_events(admin, action="award.approved")]
    assert sorted(i for i in audited if i in rows) == sorted(approved)
    return approved
