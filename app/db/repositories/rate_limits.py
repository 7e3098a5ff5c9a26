"""The open calculator's call counters: one atomic upsert per call, on either database."""

from __future__ import annotations

from sqlalchemy import Table, case, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db.models import RateLimitCounter


def count_call(session: Session, address: str, now_ms: int, window_ms: int) -> tuple[int, int]:
    """Count one call from ``address``: (calls in its current window, the window's start).

    A single ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: the first call from an
    address, or the first after its window ended, opens a window at ``now_ms`` with one
    call; any other adds one. The row is locked for the statement only, so concurrent
    calls from every worker are counted exactly, and the cost does not grow with the
    number of addresses (a primary-key lookup).
    """
    table = RateLimitCounter.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    ended = table.c.window_start <= now_ms - window_ms
    stmt = (
        insert(table)
        .values(address=address, window_start=now_ms, hits=1)
        .on_conflict_do_update(
            index_elements=[table.c.address],
            # Both expressions read the row as it was before this update.
            set_={
                "hits": case((ended, 1), else_=table.c.hits + 1),
                "window_start": case((ended, now_ms), else_=table.c.window_start),
            },
        )
        .returning(table.c.hits, table.c.window_start)
    )
    hits, window_start = session.execute(stmt).one()
    return int(hits), int(window_start)


def purge_rate_limit_counters(session: Session, ended_before_ms: int) -> int:
    """Delete the counters of windows that began before ``ended_before_ms``; how many."""
    result = session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window_start < ended_before_ms)
    )
    return int(getattr(result, "rowcount", 0) or 0)
