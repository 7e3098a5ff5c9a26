"""PostgreSQL's plain psycopg path of an award's transition (app/db/repositories/plain_pg.py)
against the generic path it stands in for: the same answer, byte for byte, and the
same rows written (award, event, budget, audit record), for an approval, a refusal
and the other steps; and the same API key.

Each path runs on the same award in a savepoint that is then rolled back, at the same
frozen time and with the same new ids, so the two can be compared whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.api.schemas.awards import AwardOut
from app.catalog.loader import Catalog, load_catalog
from app.db import repositories as repo
from app.db.models import ApiKey, Award, Budget
from app.db.repositories import access, plain_pg
from app.db.session import make_engine, make_sessionmaker
from app.services import audit, lifecycle
from app.services.actors import Actor
from app.services.awards import award_json
from app.services.errors import Conflict, NotFound
from tests.db.support import unique

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 1, 6, 9, 30, 0, 123456, tzinfo=UTC)
ADMIN = Actor(name="officer#abc", role="admin")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "policy_catalog")


@pytest.fixture(autouse=True)
def postgres_only(db_backend: str) -> None:
    if db_backend != "postgres":
        pytest.skip("the plain psycopg path is PostgreSQL's; SQLite has the generic path only")


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The transition's clock (and the budget's, which a payment moves), and the
    event's id, the same for both paths."""
    monkeypatch.setattr(lifecycle, "utcnow", lambda: NOW)
    monkeypatch.setattr("app.db.repositories.budgets.utcnow", lambda: NOW)
    monkeypatch.setattr("app.db.repositories.awards.new_id", lambda: "event-frozen")


@pytest.fixture
def noticed(
    make_award: Callable[..., Award], make_budget: Callable[..., Budget]
) -> Callable[..., tuple[Award, Budget]]:
    """An award at the end of its public notice and the budget that pays it."""

    def make(budget_amount: str = "1000000.00", **fields: Any) -> tuple[Award, Budget]:
        payer = unique("payer")
        defaults: dict[str, Any] = {
            "status": "public_notice",
            "notice_start": date(2024, 6, 3),
            "notice_end": date(2024, 6, 14),
            "trace": {"caps_applied": [{"cap": "annual", "limit": "400000.00"}], "steps": []},
        }
        award = make_award(payer_jurisdiction=payer, **(defaults | fields))
        budget = make_budget(
            amount=budget_amount,
            policy_id=award.policy_id,
            fiscal_year=award.fiscal_year,
            payer_jurisdiction=payer,
        )
        return award, budget

    return make


def _stored(session: Session, award: Award, budget: Budget) -> dict[str, Any]:
    """What the transaction wrote, read back as the database holds it."""

    def rows(sql: str, **params: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in session.execute(text(sql), params).mappings()]

    return {
        "award": rows("SELECT * FROM awards WHERE id = :id", id=award.id),
        "events": rows("SELECT * FROM award_events WHERE award_id = :id ORDER BY id", id=award.id),
        "budget": rows("SELECT * FROM budgets WHERE id = :id", id=budget.id),
        "audit": [dict(r) for r in session.info.get("audit_pending", [])],
    }


@pytest.fixture
def both_paths(
    db_session: Session, catalog: Catalog, frozen: None
) -> Callable[..., dict[bool, Any]]:
    """``run(award, budget, action, **fields)``: the outcome of each path, ``True`` for
    the plain one: the answer's JSON (or the error), and the rows written."""

    def run(award: Award, budget: Budget, action: str, **fields: Any) -> dict[bool, Any]:
        # Timestamps come back in the session's zone: each path must make them UTC.
        db_session.execute(text("SET LOCAL TIME ZONE 'Asia/Shanghai'"))
        outcomes = {}
        for plain in (False, True):
            with _rolled_back(db_session):
                try:
                    if plain:
                        moved: Any = lifecycle.transition_last_write(
                            db_session, catalog, ADMIN, award.id, action, answer=_itself, **fields
                        )
                        assert isinstance(moved, plain_pg.LockedAward)
                    else:
                        moved = lifecycle.transition(
                            db_session, catalog, ADMIN, award.id, action, last_write=True, **fields
                        )
                    shown: Any = AwardOut.model_validate(award_json(moved, ADMIN)).model_dump_json()
                except (Conflict, NotFound) as error:
                    shown = (type(error).__name__, str(error))
                outcomes[plain] = {"answer": shown, **_stored(db_session, award, budget)}
        return outcomes

    return run


def _itself(award: Any) -> Any:
    return award


@contextmanager
def _rolled_back(session: Session) -> Iterator[None]:
    """A savepoint rolled back afterwards, with the audit records it left pending."""
    savepoint = session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()
        session.info.pop("audit_pending", None)
        session.info.pop("audit_link_held", None)
        session.expire_all()


def test_an_approval_answers_and_writes_the_same(
    noticed: Callable[..., tuple[Award, Budget]], both_paths: Callable[..., dict[bool, Any]]
) -> None:
    award, budget = noticed()
    outcomes = both_paths(award, budget, "approve", reason="公示期满")
    assert outcomes[True] == outcomes[False]
    assert outcomes[True]["award"][0]["status"] == "approved"
    assert outcomes[True]["budget"][0]["committed"] == award.amount
    assert [e["action"] for e in outcomes[True]["audit"]] == ["award.approved"]
    assert '"caps_applied":[{"cap":"annual","limit":"400000.00"}]' in outcomes[True]["answer"]


def test_a_refused_approval_is_the_same_409_and_writes_nothing(
    noticed: Callable[..., tuple[Award, Budget]], both_paths: Callable[..., dict[bool, Any]]
) -> None:
    award, budget = noticed(budget_amount="1000.00")
    outcomes = both_paths(award, budget, "approve")
    assert outcomes[True] == outcomes[False]
    assert outcomes[True]["answer"][0] == "Conflict"
    assert outcomes[True]["award"][0]["status"] == "public_notice"
    assert outcomes[True]["budget"][0]["committed"] == Decimal("0.00")
    assert outcomes[True]["events"] == [] and outcomes[True]["audit"] == []


@pytest.mark.parametrize(
    ("status", "action", "fields"),
    [
        ("computed", "notice", {"notice_start": date(2025, 1, 6), "notice_end": date(2025, 1, 15)}),
        ("public_notice", "reject", {"reason": "材料不实"}),
        ("approved", "disburse", {}),
        ("approved", "revoke", {"reason": "追回"}),
        ("computed", "approve", {}),  # refused: not from this status
    ],
)
def test_the_other_steps_answer_and_write_the_same(
    noticed: Callable[..., tuple[Award, Budget]],
    both_paths: Callable[..., dict[bool, Any]],
    db_session: Session,
    status: str,
    action: str,
    fields: dict[str, Any],
) -> None:
    award, budget = noticed(status=status)
    if status == "approved":
        award.budget_id = budget.id
        budget.committed = award.amount
        db_session.flush()
    outcomes = both_paths(award, budget, action, **fields)
    assert outcomes[True] == outcomes[False]


def test_an_unknown_award_is_the_same_404(
    noticed: Callable[..., tuple[Award, Budget]], both_paths: Callable[..., dict[bool, Any]]
) -> None:
    _, budget = noticed()
    missing = Award(id="00000000-0000-0000-0000-000000000000")
    outcomes = both_paths(missing, budget, "approve")
    assert outcomes[True] == outcomes[False]
    assert outcomes[True]["answer"][0] == "NotFound"


def test_the_key_is_read_the_same(db_session: Session) -> None:
    key = repo.add_api_key(
        db_session,
        ApiKey(prefix=unique("k")[:12], secret_hash="f" * 64, role="portal", label="区门户"),
    )
    generic = db_session.connection().execute(access._LIVE_BY_PREFIX, {"prefix": key.prefix})
    assert plain_pg.live_key_by_prefix(db_session, key.prefix) == tuple(generic.one())
    key.revoked_at = NOW
    db_session.flush()
    assert plain_pg.live_key_by_prefix(db_session, key.prefix) is None


def test_an_approval_commits_with_its_record_in_one_message(
    fresh_db_url: URL, catalog: Catalog
) -> None:
    """Without an earlier write, an approval is committed by its own message: the award,
    its event, the budget's reservation and an audit record the database chained itself
    (the chain verifies); a refused approval commits nothing."""
    from bench.ledger_fixtures import AMOUNT, seed

    url = fresh_db_url.render_as_string(hide_password=False)
    _, ids = seed(url, 3, covered=2)
    engine = make_engine(url)
    make_session = make_sessionmaker(engine)
    try:
        for award_id in ids:
            session = make_session()
            try:
                moved = lifecycle.transition_last_write(
                    session,
                    catalog,
                    ADMIN,
                    award_id,
                    "approve",
                    reason="公示期满",
                    commits=True,
                    answer=_itself,
                )
                # Committed by its own message already: the driver has no transaction open.
                driver = session.connection().connection.driver_connection
                assert driver is not None
                assert driver.info.transaction_status == TransactionStatus.IDLE
                session.commit()
                assert moved.status == "approved"
            except Conflict as refusal:
                assert award_id == ids[2] and "cannot take 10000.00: 0.00 remains" in str(refusal)
                session.rollback()
            finally:
                session.close()
        with make_session() as session:
            statuses = dict(session.execute(text("SELECT id, status FROM awards")).all())
            assert [statuses[i] for i in ids] == ["approved", "approved", "public_notice"]
            events = session.execute(
                text("SELECT award_id FROM award_events WHERE to_status = 'approved'")
            ).scalars()
            assert sorted(events) == sorted(ids[:2])
            budget_id, committed = session.execute(text("SELECT id, committed FROM budgets")).one()
            assert committed == 2 * AMOUNT
            records = repo.list_audit_entries(session)
            approved = [r for r in records if r.action == "award.approved"]
            assert [r.object_id for r in approved] == ids[:2]
            assert approved[0].payload == {
                "from": "public_notice",
                "to": "approved",
                "reason": "公示期满",
                "amount": "10000.00",
                "budget_id": budget_id,
                "notice_start": None,
                "notice_end": None,
            }
            assert [r.seq for r in records] == list(range(1, len(records) + 1))
            assert records[-1].occurred_at > records[-2].occurred_at
            verification = audit.verify(session)
            assert verification.ok, verification
    finally:
        engine.dispose()


def test_an_answer_that_cannot_be_made_leaves_the_approval_uncommitted(
    fresh_db_url: URL, catalog: Catalog
) -> None:
    """The one-message approval makes its answer before sending the COMMIT: a failure
    there leaves nothing written, rather than a committed approval the caller was told
    had failed."""
    from bench.ledger_fixtures import seed

    url = fresh_db_url.render_as_string(hide_password=False)
    _, ids = seed(url, 1, covered=1)
    engine = make_engine(url)
    make_session = make_sessionmaker(engine)

    def broken(award: Any) -> Any:
        raise RuntimeError("the answer could not be made")

    def approve(session: Session, answer: Callable[[Any], Any]) -> Any:
        return lifecycle.transition_last_write(
            session,
            catalog,
            ADMIN,
            ids[0],
            "approve",
            reason="公示期满",
            commits=True,
            answer=answer,
        )

    try:
        with make_session() as session:
            audited = session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
            with pytest.raises(RuntimeError):
                approve(session, broken)
            session.rollback()
        with make_session() as session:
            status = session.execute(text("SELECT status FROM awards")).scalar_one()
            assert status == "public_notice"
            assert session.execute(text("SELECT committed FROM budgets")).scalar_one() == 0
            assert session.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == audited
            # and the same approval then goes through, with its answer
            moved = approve(session, _itself)
            session.commit()
            assert moved.status == "approved"
    finally:
        engine.dispose()
