"""The queue's figures for metrics and readiness (app/jobs/stats.py), on both databases;
and a run split into many shards adds up to the run in one."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog, load_catalog
from app.db import repositories as repo
from app.db.models import MatchingResult
from app.db.repositories.matching import run_number_of
from app.db.session import make_engine, make_sessionmaker, migrate
from app.jobs.queue import enqueue_shards
from app.jobs.stats import queue_stats, shard_durations, workers_seen
from app.services import matching_runs as runs
from app.services.actors import SYSTEM
from app.services.enterprises import create_enterprise
from app.services.scenarios import PolicyChange
from tests.population.conftest import CATALOG, random_profile

World = tuple[sessionmaker[Session], Catalog]


@pytest.fixture
def world(fresh_db_url: URL) -> Iterator[World]:
    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)
    make_session = make_sessionmaker(engine)
    catalog = load_catalog(CATALOG)
    rng = random.Random(11)
    with make_session.begin() as session:
        for _ in range(30):
            profile = EnterpriseProfile.model_validate(random_profile(rng))
            create_enterprise(session, catalog, profile, SYSTEM)
    yield make_session, catalog
    engine.dispose()


def _queued(world: World, shard_size: int, changes: list[PolicyChange] | None = None) -> str:
    make_session, catalog = world
    with make_session.begin() as session:
        run = runs.start_run(session, catalog, SYSTEM, 2024, changes, shard_size=shard_size)
        enqueue_shards(session, run.id, run.shards_total)
        return run.id


def test_waiting_running_failed_and_how_long_shards_took(world: World, db_backend: str) -> None:
    make_session, catalog = world
    run_id = _queued(world, shard_size=10)  # 30 enterprises: 3 shards and the open end
    with make_session() as session:
        stats = queue_stats(session)
    assert (stats.waiting, stats.running) == ({"runs": 4}, {})
    assert stats.failed == {}

    before = datetime.now(UTC) - timedelta(seconds=1)
    runs.execute_shard(make_session, catalog, run_id, 0, worker="test:1")
    with make_session() as session:
        durations = shard_durations(session, before)
        assert len(durations) == 1 and durations[0][1] >= 0
        assert shard_durations(session, durations[0][0]) == []  # each seen once
        if db_backend == "sqlite":  # the shards are the queue
            assert queue_stats(session).waiting == {"runs": 3}
            assert workers_seen(session, timedelta(seconds=30)) is None
            return
    with make_session.begin() as session:
        session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = 'failed' "
                "WHERE id = (SELECT min(id) FROM procrastinate_jobs)"
            )
        )
        assert queue_stats(session).failed == {"run_shard": 1}
        assert queue_stats(session).waiting == {"runs": 3}
        assert workers_seen(session, timedelta(seconds=30)) == 0
        session.execute(text("SELECT procrastinate_register_worker_v1()"))
        assert workers_seen(session, timedelta(seconds=30)) == 1
        session.execute(
            text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")
        )
        assert workers_seen(session, timedelta(seconds=30)) == 0


def _results(make_session: sessionmaker[Session], run_id: str) -> list[tuple[object, ...]]:
    with make_session() as session:
        return sorted(
            (r.enterprise_id, r.policy_id, r.status, r.amount, str(r.missing_facts))
            for r in session.scalars(
                select(MatchingResult).where(MatchingResult.run_number == run_number_of(run_id))
            )
        )


@pytest.mark.parametrize("kind", ["matching", "simulation"])
def test_many_shards_add_up_to_one(world: World, kind: str) -> None:
    """Shards executed out of order, one of them twice: the same run as in one shard."""
    make_session, catalog = world
    changes = (
        [PolicyChange(policy_id="nj-green-manufacturing", parameters={"max_award": 300000})]
        if kind == "simulation"
        else None
    )
    whole, sharded = _queued(world, 1000, changes), _queued(world, 4, changes)
    runs.execute_run(make_session, catalog, whole)
    with make_session() as session:
        run = repo.get_matching_run(session, sharded)
        assert run is not None
        shards = list(range(run.shards_total))
    for shard in [*reversed(shards), shards[0]]:
        runs.execute_shard(make_session, catalog, sharded, shard)
    with make_session() as session:
        one, many = repo.get_matching_run(session, whole), repo.get_matching_run(session, sharded)
        assert one is not None and many is not None
        assert (one.status, many.status) == ("done", "done"), (one.error, many.error)
        assert (one.shards_total, many.shards_total) == (1, 8)
        assert many.progress == many.total == one.total == 30
        assert many.result == one.result
        if kind == "simulation":  # the scenario moves someone, so movers are combined
            assert many.result is not None and many.result["losers"]["count"] > 0
    assert _results(make_session, sharded) == _results(make_session, whole)


def test_a_shard_stored_in_pieces_stores_what_it_does_whole(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a shard's results are streamed a piece at a time into its one
    transaction; pieces of 4 enterprises store what one piece of all of them does."""
    make_session, catalog = world
    whole = _queued(world, 1000)
    runs.execute_run(make_session, catalog, whole)
    monkeypatch.setattr(runs, "PIECE", 4)
    monkeypatch.setattr(runs, "CHUNK", 4)
    pieces = _queued(world, 1000)
    runs.execute_run(make_session, catalog, pieces)
    with make_session() as session:
        one, many = repo.get_matching_run(session, whole), repo.get_matching_run(session, pieces)
        assert one is not None and many is not None
        assert (one.status, many.status) == ("done", "done"), (one.error, many.error)
        assert many.result == one.result
    assert _results(make_session, pieces) == _results(make_session, whole)


def test_a_shard_finished_elsewhere_meanwhile_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers executing one shard (one presumed dead, then retried): the one that
    finishes second finds the shard done and rolls back what it streamed."""
    make_session, catalog = world
    whole = _queued(world, 1000)
    runs.execute_run(make_session, catalog, whole)
    monkeypatch.setattr(runs, "PIECE", 4)
    run_id = _queued(world, 1000)
    evaluate = runs._evaluate_range
    overtaken = []

    def overtaken_while_evaluating(*args: object, **kwargs: object) -> object:
        answer = evaluate(*args, **kwargs)  # type: ignore[arg-type]
        if not overtaken:  # the other worker executes the whole shard meanwhile
            overtaken.append(True)
            runs.execute_shard(make_session, catalog, run_id, 0, worker="other:1")
        return answer

    monkeypatch.setattr(runs, "_evaluate_range", overtaken_while_evaluating)
    runs.execute_shard(make_session, catalog, run_id, 0, worker="slow:1")
    with make_session() as session:
        run = repo.get_matching_run(session, run_id)
        assert run is not None and run.status == "done", run.error if run else None
        shard = repo.get_shard(session, run_id, 0)
        assert shard is not None and shard.taken_by == "other:1"
    assert _results(make_session, run_id) == _results(make_session, whole)
