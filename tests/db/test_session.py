"""Engine settings, and concurrent writers on both databases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Award, Budget, Enterprise, ProfileVersion
from app.db.session import make_engine, make_sessionmaker, migrate, normalize_url
from tests.db.support import refused_by, violates


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u:p@db/x", "postgresql+psycopg"),
        ("postgresql://u:p@db/x", "postgresql+psycopg"),
        ("postgresql+psycopg://u:p@db/x", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_are_sent_to_psycopg_3(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


def test_passwords_with_percent_signs_survive(tmp_path: Path) -> None:
    url = normalize_url("postgresql://user:p%25ss@db/x")
    assert url.password == "p%ss"


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000}


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    orphan = ProfileVersion(
        enterprise_id="no-such-enterprise",
        version=1,
        profile={},
        profile_hash="0" * 64,
        created_by="tester",
    )
    with refused_by("fk_profile_versions_enterprise_id_enterprises"), db_session.begin_nested():
        repo.add_profile_version(db_session, orphan)


def test_sessions_keep_attributes_after_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert make_sessionmaker(engine).kw["expire_on_commit"] is False
    finally:
        engine.dispose()


def run_concurrently(workers: int, work: Callable[[], None]) -> list[BaseException]:
    """Run ``work`` on ``workers`` threads released at once; return their errors."""
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_writers_serialise_and_never_overspend(fresh_db_url: URL) -> None:
    """Each writer reads the budget, pauses, then reserves from it: the pattern that,
    on SQLite with a deferred BEGIN, fails with "database is locked" when two readers
    both try to become the writer. With BEGIN IMMEDIATE they queue; on both databases
    the conditional UPDATE lets exactly as many through as the budget holds.
    (Threads with their own connections lock the file exactly as processes would.)"""
    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            budget_id = repo.add_budget(
                session,
                Budget(
                    policy_id="p",
                    fiscal_year=2024,
                    payer_level="city",
                    payer_jurisdiction="nanjing",
                    amount=Decimal("0.50"),
                ),
            ).id
        granted: list[bool] = []

        def reserve() -> None:
            with sessions.begin() as session:
                budget = repo.get_budget(session, budget_id)
                assert budget is not None
                time.sleep(0.01)
                granted.append(repo.reserve_budget(session, budget_id, Decimal("0.10")))

        assert run_concurrently(8, reserve) == []
        assert sorted(granted) == [False] * 3 + [True] * 5
        with sessions() as session:
            committed = session.execute(text("SELECT count(*) FROM budgets")).scalar_one()
            budget = repo.get_budget(session, budget_id)
            assert committed == 1 and budget is not None
            assert budget.committed == Decimal("0.50")
    finally:
        engine.dispose()


def test_racing_requests_store_one_live_award(fresh_db_url: URL) -> None:
    """The same award requested on several connections at once (a double click, a
    retry after a timeout): the partial unique index lets exactly one through."""
    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            enterprise = repo.add_enterprise(session, Enterprise(name="示例"))
            profile = repo.add_profile_version(
                session,
                ProfileVersion(
                    enterprise_id=enterprise.id,
                    version=1,
                    profile={},
                    profile_hash="0" * 64,
                    created_by="t",
                ),
            )
            policy = repo.upsert_policy_version(
                session, policy_id="p", version="1", content_hash="0" * 64, document={}
            )

        def create() -> None:
            with sessions.begin() as session:
                repo.add_award(
                    session,
                    Award(
                        enterprise_id=enterprise.id,
                        policy_id="p",
                        policy_version_id=policy.id,
                        policy_version="1",
                        fiscal_year=2024,
                        status="computed",
                        amount=Decimal("1.00"),
                        amount_basis="computed",
                        payer_level="city",
                        catalog_hash="0" * 64,
                        profile_version_id=profile.id,
                        profile_version=1,
                        trace={},
                        created_by="t",
                    ),
                )

        errors = run_concurrently(6, create)
        assert len(errors) == 5
        assert all(
            isinstance(error, IntegrityError)
            and violates(error, "uq_awards_live_enterprise_policy_year")
            for error in errors
        ), errors
        with sessions() as session:
            assert len(repo.live_awards_for(session, enterprise.id)) == 1
    finally:
        engine.dispose()
