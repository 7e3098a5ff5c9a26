"""A run's shards: ranges of enterprise ids, each executed as one job, and the counts
that decide, in SQL under the run's lock, when the last of them is done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.catalog.places import Area
from app.db.models import Enterprise, MatchingRun, MatchingRunShard
from app.db.repositories.areas import enterprise_in

#: A run that is not finished: it counts against its tenant's limit.
ACTIVE = ("queued", "running")


def shard_ranges(session: Session, area: Area | None, size: int) -> list[tuple[str, str | None]]:
    """(after, last) id ranges of about ``size`` enterprises each, in id order; the last
    range is open, so enterprises added after planning are still evaluated."""
    numbered = select(
        Enterprise.id.label("id"), func.row_number().over(order_by=Enterprise.id).label("n")
    )
    if area is not None:
        numbered = numbered.where(enterprise_in(area))
    inner = numbered.subquery()
    bounds = list(
        session.scalars(select(inner.c.id).where(inner.c.n % size == 0).order_by(inner.c.id))
    )
    starts = ["", *bounds]
    ends: list[str | None] = [*bounds, None]
    return list(zip(starts, ends, strict=True))


def add_shards(session: Session, run_id: str, ranges: Sequence[tuple[str, str | None]]) -> None:
    session.add_all(
        MatchingRunShard(run_id=run_id, shard=i, after_id=after, last_id=last, status="queued")
        for i, (after, last) in enumerate(ranges)
    )
    session.flush()


def get_shard(session: Session, run_id: str, shard: int) -> MatchingRunShard | None:
    return session.get(MatchingRunShard, (run_id, shard), populate_existing=True)


def count_finished_shards(session: Session, run_id: str) -> tuple[int, int]:
    """(shards done, enterprises they evaluated). Run after locking the run, so that it
    sees every other shard committed before (no two last shards, no lost count)."""
    done, enterprises = session.execute(
        select(func.count(), func.coalesce(func.sum(MatchingRunShard.enterprises), 0)).where(
            MatchingRunShard.run_id == run_id, MatchingRunShard.status == "done"
        )
    ).one()
    return int(done), int(enterprises)


def shard_partials(session: Session, run_id: str) -> list[dict[str, Any]]:
    """The done shards' totals, in shard (so enterprise id) order."""
    return [
        p or {}
        for p in session.scalars(
            select(MatchingRunShard.partial)
            .where(MatchingRunShard.run_id == run_id, MatchingRunShard.status == "done")
            .order_by(MatchingRunShard.shard)
        )
    ]


def shards_to_execute(session: Session) -> list[tuple[str, int]]:
    """(run, shard) of every shard not done of a run not finished, oldest run first."""
    return [
        (r, s)
        for r, s in session.execute(
            select(MatchingRunShard.run_id, MatchingRunShard.shard)
            .join(MatchingRun, MatchingRun.id == MatchingRunShard.run_id)
            .where(MatchingRun.status.in_(ACTIVE), MatchingRunShard.status != "done")
            .order_by(MatchingRun.created_at, MatchingRunShard.run_id, MatchingRunShard.shard)
        ).all()
    ]


def count_active_runs(session: Session, tenant: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(MatchingRun.tenant == tenant, MatchingRun.status.in_(ACTIVE))
        )
        or 0
    )


def lock_tenant(session: Session, tenant: str) -> None:
    """Serialise starting runs for one tenant until the transaction ends, so that two
    at once cannot both pass its limit (SQLite: its write lock already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('matching-runs:' || :tenant))"),
            {"tenant": tenant},
        )


def stamp(session: Session, shard: MatchingRunShard, worker: str, at: datetime) -> None:
    shard.taken_by, shard.taken_at = worker[:200], at
    if shard.status == "queued":
        shard.status = "running"
