"""An award's life and the money that follows it.

computed → public_notice → approved → disbursed → revoked moves the amount from
committed to disbursed to released; every step is an event with who and why; a
rejection or a revocation needs a reason; a step from the wrong status is a 409 that
changes nothing; a recompute after a profile change makes revision 2 from the new
profile version and leaves revision 1 superseded.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.ledger.server import LedgerServer
from tests.ledger.support import (
    NOTICE,
    PLATFORM,
    RENT,
    act,
    assert_problem,
    budget,
    compute,
    ok,
    platform_profile,
    register,
    rent_profile,
    verify,
)

MONEY = ("amount", "committed", "disbursed", "released", "remaining")
YEAR = 2035  # this module's awards and budget (and 2023, whose budget it creates)


def _money(
    client: httpx.Client, policy_id: str = PLATFORM, fiscal_year: int = YEAR
) -> dict[str, Decimal]:
    found = budget(client, policy_id, fiscal_year)
    if found is None:
        return dict.fromkeys(MONEY, Decimal("0"))
    return {k: Decimal(found[k]) for k in MONEY}


def _delta(after: dict[str, Decimal], before: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: after[k] - before[k] for k in MONEY if after[k] != before[k]}


def _new_award(
    client: httpx.Client, fiscal_year: int = YEAR, amount: str = "20000.00"
) -> dict[str, Any]:
    enterprise = register(client, platform_profile())
    return ok(compute(client, enterprise["id"], fiscal_year=fiscal_year, amount=amount), 201)


def _admin_label(server: LedgerServer) -> str:
    prefix = server.admin_token.split("_")[1]
    return f"admin:ledger-admin#{prefix}"


def test_money_follows_the_award_to_revocation(server: LedgerServer, admin: httpx.Client) -> None:
    # The first approval for 2023 creates the budget from the catalog (20,000,000.00).
    assert budget(admin, PLATFORM, 2023) is None
    award = _new_award(admin, fiscal_year=2023)
    assert award["status"] == "computed" and award["amount"] == "20000.00"
    aid, amount = award["id"], Decimal("20000.00")

    noticed = ok(act(admin, aid, "notice", reason="公示 on the bureau's site", **NOTICE))
    assert noticed["status"] == "public_notice"
    assert (noticed["notice_start"], noticed["notice_end"]) == (
        NOTICE["notice_start"],
        NOTICE["notice_end"],
    )
    assert budget(admin, PLATFORM, 2023) is None  # a notice commits nothing

    ok(act(admin, aid, "objections", text="a competitor objects", by="某公司"))
    assert ok(act(admin, aid, "approve", reason="objection answered"))["status"] == "approved"
    created = budget(admin, PLATFORM, 2023)
    assert created is not None
    assert (created["amount"], created["committed"], created["remaining"]) == (
        "20000000.00",
        "20000.00",
        "19980000.00",
    )
    step0 = _money(admin, fiscal_year=2023)

    assert ok(act(admin, aid, "disburse", reason="paid 2024-03-01"))["status"] == "disbursed"
    step1 = _money(admin, fiscal_year=2023)
    assert _delta(step1, step0) == {"committed": -amount, "disbursed": amount}

    assert_problem(act(admin, aid, "revoke"), 422)  # a clawback needs a reason
    assert ok(act(admin, aid, "revoke", reason="false statement found"))["status"] == "revoked"
    step2 = _money(admin, fiscal_year=2023)
    assert _delta(step2, step1) == {"disbursed": -amount, "released": amount, "remaining": amount}
    assert step2["committed"] == step2["disbursed"] == 0 and step2["remaining"] == step2["amount"]

    events = ok(admin.get(f"/v1/awards/{aid}/events"))["items"]
    who = _admin_label(server)
    assert [(e["from_status"], e["to_status"], e["actor"], e["reason"]) for e in events] == [
        (None, "computed", who, None),
        ("computed", "public_notice", who, "公示 on the bureau's site"),
        ("public_notice", "public_notice", who, "a competitor objects"),
        ("public_notice", "approved", who, "objection answered"),
        ("approved", "disbursed", who, "paid 2024-03-01"),
        ("disbursed", "revoked", who, "false statement found"),
    ]
    assert events[3]["details"]["budget_id"] == created["id"]
    assert events[2]["details"] == {"objection_by": "某公司"}
    audited = ok(admin.get("/v1/audit/events", params={"object_id": aid, "limit": 50}))["items"]
    assert [e["action"] for e in audited] == [
        "award.computed",
        "award.public_notice",
        "award.objection",
        "award.approved",
        "award.disbursed",
        "award.revoked",
    ]


def test_revoking_an_approved_award_releases_its_commitment(admin: httpx.Client) -> None:
    # A year of its own, with its budget set first: the test holds whichever tests
    # ran before it on this server.
    year = 2022
    budget_for_year = {
        "policy_id": PLATFORM,
        "fiscal_year": year,
        "payer_level": "city",
        "payer_jurisdiction": "nanjing",
        "amount": "1000000.00",
    }
    ok(admin.post("/v1/budgets", json=budget_for_year), 201)
    award = _new_award(admin, fiscal_year=year, amount="12345.67")
    ok(act(admin, award["id"], "notice", **NOTICE))
    before = _money(admin, fiscal_year=year)
    assert before["amount"] == Decimal("1000000.00")
    ok(act(admin, award["id"], "approve"))
    middle = _money(admin, fiscal_year=year)
    amount = Decimal("12345.67")
    assert _delta(middle, before) == {"committed": amount, "remaining": -amount}
    ok(act(admin, award["id"], "revoke", reason="withdrawn by the enterprise"))
    after = _money(admin, fiscal_year=year)
    assert _delta(after, middle) == {"committed": -amount, "released": amount, "remaining": amount}


def test_reject_needs_a_reason(admin: httpx.Client) -> None:
    award = _new_award(admin)
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        problem = assert_problem(act(admin, award["id"], "reject", **body), 422)
        [error] = problem["errors"]
        assert error["pointer"] == "/reason"
        # Absent: required; blank: refused as text that says nothing.
        assert error["detail"] == "required" if not body else "whitespace" in error["detail"]
    assert ok(admin.get(f"/v1/awards/{award['id']}"))["status"] == "computed"
    rejected = ok(act(admin, award["id"], "reject", reason="duplicate application"))
    assert rejected["status"] == "rejected"
    events = ok(admin.get(f"/v1/awards/{award['id']}/events"))["items"]
    assert [(e["to_status"], e["reason"]) for e in events] == [
        ("computed", None),
        ("rejected", "duplicate application"),
    ]
    # A rejected award is dead: a new one may be computed for the same year.
    again = ok(compute(admin, award["enterprise_id"], fiscal_year=YEAR, amount="10000.00"), 201)
    assert again["id"] != award["id"] and again["revision"] == 1


def _assert_illegal(
    client: httpx.Client, award_id: str, action: str, status_now: str, **body: Any
) -> None:
    events_before = len(ok(client.get(f"/v1/awards/{award_id}/events"))["items"])
    problem = assert_problem(act(client, award_id, action, **body), 409)
    assert problem.get("status_now") in (status_now, None), problem
    assert ok(client.get(f"/v1/awards/{award_id}"))["status"] == status_now
    assert len(ok(client.get(f"/v1/awards/{award_id}/events"))["items"]) == events_before


def test_illegal_transitions_are_409_and_change_nothing(admin: httpx.Client) -> None:
    reason = {"reason": "because"}
    award = _new_award(admin)
    aid = award["id"]
    money = _money(admin)
    for action in ("approve", "disburse", "revoke"):
        _assert_illegal(admin, aid, action, "computed", **reason)
    _assert_illegal(admin, aid, "objections", "computed", text="too early")

    short = {"notice_start": "2024-01-02", "notice_end": "2024-01-08"}  # 5 working days
    assert_problem(act(admin, aid, "notice", **short), 422)
    ok(act(admin, aid, "notice", **NOTICE))
    for action in ("notice", "disburse", "revoke"):
        _assert_illegal(
            admin, aid, action, "public_notice", **(NOTICE if action == "notice" else reason)
        )

    ok(act(admin, aid, "approve"))
    for action in ("notice", "approve", "reject"):
        _assert_illegal(
            admin, aid, action, "approved", **(NOTICE if action == "notice" else reason)
        )
    _assert_illegal(admin, aid, "objections", "approved", text="too late")
    assert_problem(admin.post(f"/v1/awards/{aid}/recompute", json={"amount": "1.00"}), 409)

    ok(act(admin, aid, "revoke", **reason))
    for action in ("notice", "approve", "disburse", "reject", "revoke"):
        _assert_illegal(admin, aid, action, "revoked", **(NOTICE if action == "notice" else reason))
    assert _money(admin)["committed"] == money["committed"]

    # Approval waits for the end of a notice still running.
    running = _new_award(admin)
    today = date.today()
    ok(
        act(
            admin,
            running["id"],
            "notice",
            notice_start=str(today),
            notice_end=str(today + timedelta(days=14)),
        )
    )
    problem = assert_problem(act(admin, running["id"], "approve"), 409)
    assert "public notice runs until" in problem["detail"]
    assert ok(admin.get(f"/v1/awards/{running['id']}"))["status"] == "public_notice"
    assert verify(admin)["ok"] is True


def test_recompute_after_a_profile_change_supersedes_revision_1(admin: httpx.Client) -> None:
    """The rent subsidy is computed from the lease: halve the rent paid, and the
    recomputed award halves with it, read from profile version 2."""
    first_profile = rent_profile("jiangning", rent_paid="480000.00")
    enterprise = register(admin, first_profile)
    old = ok(compute(admin, enterprise["id"], RENT), 201)
    assert (old["amount"], old["revision"], old["profile_version"]) == ("480000.00", 1, 1)
    ok(act(admin, old["id"], "notice", **NOTICE))  # a noticed award may still be recomputed

    updated = ok(
        admin.put(
            f"/v1/enterprises/{enterprise['id']}",
            json={**first_profile, "years": {"2024": {"rent_paid": "240000.00"}}},
        )
    )
    assert updated["version"] == 2
    new = ok(admin.post(f"/v1/awards/{old['id']}/recompute", json={}), 201)
    assert new["id"] != old["id"]
    assert (new["status"], new["revision"], new["supersedes_id"]) == ("computed", 2, old["id"])
    assert new["profile_version"] == new["trace"]["profile_version"] == 2
    assert new["amount"] == "240000.00"
    assert new["trace"]["facts_read"]["years.2024.rent_paid"] == "240000.00"

    superseded = ok(admin.get(f"/v1/awards/{old['id']}"))
    assert superseded["status"] == "superseded"
    assert (superseded["amount"], superseded["profile_version"]) == ("480000.00", 1)
    old_events = ok(admin.get(f"/v1/awards/{old['id']}/events"))["items"]
    assert (old_events[-1]["from_status"], old_events[-1]["to_status"]) == (
        "public_notice",
        "superseded",
    )
    assert old_events[-1]["reason"] == f"recomputed as {new['id']}"
    new_events = ok(admin.get(f"/v1/awards/{new['id']}/events"))["items"]
    assert [e["to_status"] for e in new_events] == ["computed"]

    # Each revision replays from its own profile version.
    for award in (old, new):
        assert ok(admin.get(f"/v1/awards/{award['id']}/replay"))["match"] is True
    listed = ok(admin.get("/v1/awards", params={"enterprise_id": enterprise["id"]}))["items"]
    assert {(a["revision"], a["status"]) for a in listed} == {(1, "superseded"), (2, "computed")}
    # The superseded revision is closed; the new one follows the normal path.
    assert_problem(admin.post(f"/v1/awards/{old['id']}/recompute", json={}), 409)
    assert_problem(act(admin, old["id"], "approve"), 409)

    # A reviewer-set award recomputes with the reviewer's new amount.
    platform = _new_award(admin, amount="20000.00")
    revised = ok(
        admin.post(f"/v1/awards/{platform['id']}/recompute", json={"amount": "25000.00"}), 201
    )
    assert (revised["amount"], revised["revision"], revised["supersedes_id"]) == (
        "25000.00",
        2,
        platform["id"],
    )
