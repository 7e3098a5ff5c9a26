"""The repositories' queries, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import (
    ApiKey,
    Award,
    AwardEvent,
    Budget,
    CatalogLoad,
    Enterprise,
    IdempotencyRecord,
    MatchingRun,
    PolicyVersion,
    ProfileVersion,
)
from app.db.repositories import policies
from app.services import audit
from tests.db.support import any_uscc, audit_entry, next_seq, unique

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def walk(list_page: Callable[..., repo.Page[Any]], limit: int, **filters: Any) -> list[Any]:
    """Follow the cursors to the end, checking no page is empty or over-full."""
    rows: list[Any] = []
    cursor = None
    while True:
        page = list_page(cursor=cursor, limit=limit, **filters)
        assert 0 < len(page.items) <= limit or (not rows and not page.items)
        rows.extend(page.items)
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


# ----------------------------------------------------------------------- enterprises


def test_enterprise_lookups(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    uscc = any_uscc()
    enterprise = make_enterprise(uscc=uscc)
    assert repo.get_enterprise(db_session, enterprise.id) is enterprise
    assert repo.get_enterprise_by_uscc(db_session, uscc) is enterprise
    assert repo.get_enterprise_by_uscc(db_session, "000000000000000000") is None
    assert repo.get_enterprise(db_session, "no-such-id") is None


def test_lock_enterprise_rereads_the_row(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    enterprise = make_enterprise()
    db_session.execute(
        text("UPDATE enterprises SET current_version = 7 WHERE id = :id"), {"id": enterprise.id}
    )
    locked = repo.lock_enterprise(db_session, enterprise.id)
    assert locked is enterprise
    assert locked.current_version == 7  # not the stale 1 from the identity map


def test_list_enterprises_pages_and_filters(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    # Equal timestamps on purpose: the id breaks the tie, so no row is lost or repeated.
    # The city is this test's own, so rows committed by other tests stay out of view.
    city = unique("city")
    made = [
        make_enterprise(
            city=city,
            created_at=T0 + timedelta(seconds=i // 3),
            district="jiangning" if i % 2 else "xuanwu",
            kind="incubator" if i == 4 else "enterprise",
        )
        for i in range(10)
    ]
    expected = sorted(made, key=lambda e: (e.created_at, e.id))

    def listing(**kw: Any) -> repo.Page[Enterprise]:
        return repo.list_enterprises(db_session, city=city, **kw)

    assert walk(listing, limit=3) == expected
    assert walk(listing, limit=4, newest_first=True) == expected[::-1]
    jiangning = walk(listing, limit=2, district="jiangning")
    assert jiangning == [e for e in expected if e.district == "jiangning"]
    page = listing(kind="incubator")
    assert page.items == [made[4]]
    assert page.next_cursor is None
    assert repo.list_enterprises(db_session, city=unique("city")).items == []


@pytest.mark.parametrize("cursor", ["garbage", "", "W10", repo.encode_cursor(T0, "x" * 37)])
def test_invalid_cursor_is_refused(db_session: Session, cursor: str) -> None:
    with pytest.raises(repo.InvalidCursor):
        repo.list_enterprises(db_session, cursor=cursor)


def test_cursor_round_trip_and_naive_time_refused() -> None:
    assert repo.decode_cursor(repo.encode_cursor(T0, "abc")) == (T0, "abc")
    naive = repo.encode_cursor(datetime(2024, 1, 1), "abc")
    with pytest.raises(repo.InvalidCursor):
        repo.decode_cursor(naive)


@pytest.mark.parametrize("limit", [0, repo.MAX_PAGE_SIZE + 1])
def test_page_size_is_bounded(db_session: Session, limit: int) -> None:
    with pytest.raises(ValueError):
        repo.list_awards(db_session, limit=limit)


def test_profile_versions(
    db_session: Session,
    make_enterprise: Callable[..., Enterprise],
    make_profile_version: Callable[..., ProfileVersion],
) -> None:
    enterprise = make_enterprise()
    assert repo.get_latest_profile_version(db_session, enterprise.id) is None
    first = make_profile_version(enterprise, 1)
    second = make_profile_version(enterprise, 2, profile={"name": "renamed"})
    make_profile_version(make_enterprise(), 3)  # someone else's
    assert repo.get_latest_profile_version(db_session, enterprise.id) is second
    assert repo.get_profile_version(db_session, enterprise.id, 1) is first
    assert repo.get_profile_version(db_session, enterprise.id, 3) is None
    assert repo.get_profile_version_by_id(db_session, second.id) is second
    assert list(repo.list_profile_versions(db_session, enterprise.id)) == [first, second]


# -------------------------------------------------------------- policies and catalog


def test_upsert_policy_version_is_idempotent(db_session: Session) -> None:
    key = {"policy_id": "nj-ip-benchmark", "version": "2022.1", "content_hash": "a" * 64}
    first = repo.upsert_policy_version(db_session, document={"cap": "500000.00"}, **key)
    again = repo.upsert_policy_version(db_session, document={"ignored": True}, **key)
    assert again.id == first.id
    assert again.document == {"cap": "500000.00"}  # never overwritten
    changed = repo.upsert_policy_version(
        db_session, document={"cap": "600000.00"}, **(key | {"content_hash": "b" * 64})
    )
    assert changed.id != first.id
    assert repo.find_policy_version(db_session, **key) is first
    assert repo.get_policy_version(db_session, changed.id) is changed


def test_upsert_survives_a_row_inserted_behind_its_back(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A concurrent loader inserts the row between our SELECT and our INSERT: the
    # INSERT must neither fail (aborting the transaction) nor overwrite the row.
    key = {"policy_id": "nj-ip-benchmark", "version": "2022.1", "content_hash": "c" * 64}
    db_session.add(PolicyVersion(document={"by": "other worker"}, **key))
    db_session.flush()
    db_session.expunge_all()
    real_find = policies.find_policy_version
    misses = iter([None])
    monkeypatch.setattr(
        policies, "find_policy_version", lambda *a, **kw: next(misses, None) or real_find(*a, **kw)
    )
    stored = repo.upsert_policy_version(db_session, document={"by": "us"}, **key)
    assert stored.document == {"by": "other worker"}


def test_latest_catalog_load(db_session: Session) -> None:
    # Later than any load the running app may have recorded in the shared database.
    soon = datetime.now(UTC) + timedelta(days=1)
    for hours, catalog_hash in [(0, "a"), (2, "c"), (1, "b")]:
        repo.add_catalog_load(
            db_session,
            CatalogLoad(
                catalog_hash=catalog_hash * 64,
                policy_count=17,
                loaded_by="cli",
                loaded_at=soon + timedelta(hours=hours),
            ),
        )
    latest = repo.latest_catalog_load(db_session)
    assert latest is not None
    assert latest.catalog_hash == "c" * 64


# ---------------------------------------------------------------------------- awards


def test_award_filters(
    db_session: Session,
    make_award: Callable[..., Award],
    make_enterprise: Callable[..., Enterprise],
) -> None:
    district, payer, policy = unique("district"), unique("payer"), unique("policy")
    xuanwu = make_enterprise(district=district)
    a = make_award(amount=Decimal("100.00"), created_at=T0)
    b = make_award(
        xuanwu,
        amount=Decimal("200.00"),
        status="approved",
        payer_jurisdiction=payer,
        created_at=T0 + timedelta(days=1),
    )
    c = make_award(xuanwu, fiscal_year=2025, amount=Decimal("300.00"), created_at=T0)
    d = make_award(policy_id=policy, amount=Decimal("200.01"), status="rejected")

    mine = {a.id, b.id, c.id, d.id}

    def ids(**filters: Any) -> set[str]:
        # Rows committed by other tests may match too: look only at this test's own.
        found = walk(lambda **kw: repo.list_awards(db_session, **kw), limit=200, **filters)
        return {award.id for award in found} & mine

    assert ids() == {a.id, b.id, c.id, d.id}
    assert ids(policy_id=policy) == {d.id}
    assert ids(enterprise_id=xuanwu.id) == {b.id, c.id}
    assert ids(district=district) == {b.id, c.id}
    assert ids(payer_jurisdiction=payer) == {b.id}
    assert ids(fiscal_year=2025) == {c.id}
    assert ids(status="approved") == {b.id}
    assert ids(status=["approved", "rejected"]) == {b.id, d.id}
    assert ids(amount_min=Decimal("200.00"), amount_max=Decimal("200.00")) == {b.id}
    assert ids(amount_min=Decimal("200.01")) == {c.id, d.id}
    assert ids(created_from=T0, created_to=T0 + timedelta(days=1)) == {a.id, c.id}
    assert ids(district=district, fiscal_year=2024, status="approved") == {b.id}


def test_award_pagination(
    db_session: Session,
    make_award: Callable[..., Award],
    make_enterprise: Callable[..., Enterprise],
) -> None:
    enterprise = make_enterprise()
    made = [
        make_award(enterprise, fiscal_year=2000 + i, created_at=T0 + timedelta(minutes=i % 2))
        for i in range(7)
    ]
    expected = sorted(made, key=lambda award: (award.created_at, award.id))
    listing = walk(
        lambda **kw: repo.list_awards(db_session, **kw), limit=2, enterprise_id=enterprise.id
    )
    assert listing == expected


def test_live_awards_for(
    db_session: Session,
    make_award: Callable[..., Award],
    make_enterprise: Callable[..., Enterprise],
) -> None:
    enterprise = make_enterprise()
    y2023 = make_award(enterprise, fiscal_year=2023, status="disbursed")
    make_award(enterprise, fiscal_year=2024, status="revoked")
    y2024 = make_award(enterprise, fiscal_year=2024, status="approved", created_at=T0)
    y2025 = make_award(enterprise, fiscal_year=2025)
    other = make_award(
        enterprise, fiscal_year=2024, policy_id="nj-ip-benchmark", created_at=T0 + timedelta(1)
    )
    make_award(fiscal_year=2024)  # another enterprise

    def live(**kw: Any) -> list[Award]:
        return list(repo.live_awards_for(db_session, enterprise.id, **kw))

    assert live() == [y2023, y2024, other, y2025]  # by year, then creation
    assert live(policy_id="nj-green-manufacturing") == [y2023, y2024, y2025]
    assert live(policy_id="nj-green-manufacturing", before_or_in_year=2024) == [y2023, y2024]
    assert live(before_or_in_year=2022) == []


def test_award_lock_and_events(db_session: Session, make_award: Callable[..., Award]) -> None:
    award = make_award()
    assert repo.get_award(db_session, award.id) is award
    assert repo.lock_award(db_session, award.id) is award
    for i, (before, after) in enumerate([(None, "computed"), ("computed", "public_notice")]):
        repo.add_award_event(
            db_session,
            AwardEvent(
                award_id=award.id,
                from_status=before,
                to_status=after,
                actor="officer",
                at=T0 + timedelta(seconds=10 - i),  # inserted out of order on purpose
            ),
        )
    events = repo.list_award_events(db_session, award.id)
    assert [event.to_status for event in events] == ["public_notice", "computed"]
    assert events[0].details == {}


def _approval(award: Award, budget: Budget) -> repo.StatusChange:
    return repo.StatusChange(
        award_id=award.id,
        from_status="public_notice",
        to_status="approved",
        budget_id=budget.id,
        notice_start=award.notice_start,
        notice_end=award.notice_end,
        actor="officer",
        reason=None,
        details={"amount": f"{award.amount:.2f}"},
        at=T0,
    )


def test_change_status_with_a_reservation_writes_all_or_nothing(
    db_session: Session, make_award: Callable[..., Award], make_budget: Callable[..., Budget]
) -> None:
    budget = make_budget(amount="600000.00")
    first = make_award(status="public_notice")
    second = make_award(status="public_notice")
    assert repo.lock_award_for_transition(db_session, first.id) is not None
    assert repo.change_status(db_session, _approval(first, budget), reserve=first.amount)
    # The loaded objects show what was written, with nothing left for the ORM to flush.
    assert (first.status, first.budget_id, first.updated_at) == ("approved", budget.id, T0)
    assert budget.committed == Decimal("500000.00")
    assert not db_session.dirty
    # 100,000.00 remains: the second award's 500,000.00 does not fit, and nothing of it is written.
    assert repo.budget_room(db_session, budget.id) == Decimal("100000.00")
    assert not repo.change_status(db_session, _approval(second, budget), reserve=second.amount)
    db_session.expire_all()
    assert second.status == "public_notice" and second.budget_id is None
    assert budget.committed == Decimal("500000.00")
    events = repo.list_award_events(db_session, first.id) + repo.list_award_events(
        db_session, second.id
    )
    assert [(e.award_id, e.to_status, e.at) for e in events] == [(first.id, "approved", T0)]


def test_an_approval_ending_its_transaction_takes_the_audit_lock_in_its_round_trip(
    db_session: Session, make_award: Callable[..., Award], make_budget: Callable[..., Budget]
) -> None:
    """``lock_audit``: the same all-or-nothing write; on PostgreSQL the append lock and
    the head come with it, and what the transaction appends chains on from that head."""
    budget = make_budget(amount="600000.00")
    first = make_award(status="public_notice")
    second = make_award(status="public_notice")
    assert repo.lock_award_for_transition(db_session, first.id) is not None
    approval = _approval(first, budget)
    assert repo.change_status(db_session, approval, reserve=first.amount, lock_audit=True)
    assert (first.status, budget.committed) == ("approved", Decimal("500000.00"))
    refused = _approval(second, budget)
    assert not repo.change_status(db_session, refused, reserve=second.amount, lock_audit=True)
    db_session.expire_all()
    assert second.status == "public_notice" and budget.committed == Decimal("500000.00")
    # Held by this transaction from here on, so nobody else appends in between.
    head = repo.get_audit_link(db_session) or (0, audit.GENESIS)
    for n in range(2):
        payload = {"n": n}
        audit.record(
            db_session,
            actor="officer",
            action="award.approved",
            object_type="award",
            object_id=first.id,
            payload=payload,
        )
        audit.append_pending(db_session)
    added = repo.list_audit_entries(db_session, after_seq=head[0])
    assert [(e.seq, e.prev_hash, e.payload) for e in added] == [
        (head[0] + 1, head[1], {"n": 0}),
        (head[0] + 2, added[0].hash, {"n": 1}),
    ]


# ------------------------------------------------------------ budgets, keys, audit, runs


def test_budget_lookups(db_session: Session, make_budget: Callable[..., Budget]) -> None:
    budget = make_budget()

    def find(fiscal_year: int) -> Budget | None:
        return repo.find_budget(
            db_session,
            policy_id=budget.policy_id,
            fiscal_year=fiscal_year,
            payer_jurisdiction=budget.payer_jurisdiction,
        )

    assert find(2024) is budget
    assert find(2025) is None
    assert repo.get_budget(db_session, budget.id) is budget
    assert repo.lock_budget(db_session, budget.id) is budget


def test_api_keys_and_idempotency(db_session: Session) -> None:
    prefix = unique("pk")
    key = repo.add_api_key(
        db_session, ApiKey(prefix=prefix, secret_hash="0" * 64, role="auditor", label="audit")
    )
    assert repo.get_api_key_by_prefix(db_session, prefix) is key
    assert repo.get_api_key(db_session, key.id) is key
    assert repo.get_api_key_by_prefix(db_session, unique("pk")) is None
    record = repo.add_idempotency_record(
        db_session,
        IdempotencyRecord(
            api_key_id=key.id, key="k1", method="POST", path="/v1/awards", request_hash="1" * 64
        ),
    )
    assert record.status_code is None and record.response_body is None  # in flight
    assert repo.get_idempotency_record(db_session, key.id, "k1") is record
    assert repo.get_idempotency_record(db_session, key.id, "k2") is None


def test_audit_head_and_listing(db_session: Session) -> None:
    start = next_seq(db_session)  # the shared log may already hold entries
    for seq in range(start, start + 3):
        repo.add_audit_entry(db_session, audit_entry(seq, prev_hash=f"{seq - 1:064d}"))
    head = repo.get_audit_head(db_session)
    assert head is not None and head.seq == start + 2
    listed = repo.list_audit_entries(db_session, after_seq=start)
    assert [entry.seq for entry in listed] == [start + 1, start + 2]
    assert [
        entry.seq for entry in repo.list_audit_entries(db_session, after_seq=start, limit=1)
    ] == [start + 1]


def test_audit_head_of_an_empty_log(
    db_session: Session,
    allow_audit_tampering: Callable[[Session], AbstractContextManager[None]],
) -> None:
    # Other tests may have committed entries to the shared database: empty the log
    # inside this test's transaction (rolled back afterwards).
    with allow_audit_tampering(db_session):
        db_session.execute(text("DELETE FROM audit_log"))
    assert repo.get_audit_head(db_session) is None
    assert repo.list_audit_entries(db_session) == []


def test_matching_runs(db_session: Session) -> None:
    run = repo.add_matching_run(
        db_session,
        MatchingRun(fiscal_year=2024, status="queued", parameters={}, started_by="admin"),
    )
    assert repo.get_matching_run(db_session, run.id) is run
    assert (run.progress, run.total, run.result, run.finished_at) == (0, 0, None, None)
