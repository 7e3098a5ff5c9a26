"""The open calculator's call counters: one atomic upsert per call, on either database.

``CallCounter`` keeps a connection of its own, apart from the request sessions' pool:

- **Relaxed durability, for these rows only.** Its commits do not wait for the disk:
  SQLite's ``synchronous = NORMAL`` (in WAL mode a commit is then consistent and
  visible to every other connection at once, but synced at the next checkpoint) and
  PostgreSQL's ``synchronous_commit = off`` (visible at once; flushed within a fraction
  of a second). A machine crash may forget the last counts, which only gives a client
  a few more calls in that minute; every other connection of the service keeps full
  durability. Waiting for an fsync cost 1–3 ms a call here, more than the answer.
- **Statements compiled once** for the driver, with bound parameters, and run on the
  driver's own connection: a count only executes them (SQLAlchemy's execution layer
  cost three times what SQLite takes for the statement itself).
- **Calls counted together.** ``count`` takes the calls that arrived together, by
  address, and counts them in one transaction: one upsert per address adds its
  number of calls, and the calls of an address take the consecutive counts that
  upsert returns, exactly as if each had been counted alone, in one commit.
- **One connection, taken in turn** by the counts of this process (a lock); each holds
  it for one short transaction (about 50 µs on SQLite without the fsync).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table, bindparam, case, delete, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from app.db.models import RateLimitCounter
from app.db.session import make_engine


def _statements(dialect: str) -> tuple[Any, Any]:
    """The counting upsert and the purge of ended windows, for ``dialect``."""
    table = RateLimitCounter.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = bindparam("now", type_=BigInteger)
    calls = bindparam("calls", type_=Integer)
    ended = table.c.window_start <= bindparam("ended_at", type_=BigInteger)
    # The first calls from an address, or the first after its window ended, open a
    # window at `now` with their number; any others add theirs. The row is locked for
    # the statement only, so concurrent calls from every worker are counted exactly,
    # and the cost does not grow with the number of addresses (a primary-key lookup).
    count = (
        insert(table)
        .values(address=bindparam("address", type_=String), window_start=now, hits=calls)
        .on_conflict_do_update(
            index_elements=[table.c.address],
            # Both expressions read the row as it was before this update.
            set_={
                "hits": case((ended, calls), else_=table.c.hits + calls),
                "window_start": case((ended, now), else_=table.c.window_start),
            },
        )
        .returning(table.c.hits, table.c.window_start)
    )
    purge = delete(table).where(table.c.window_start < bindparam("ended_at", type_=BigInteger))
    return count, purge


def _relax_durability(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor.execute("PRAGMA synchronous = NORMAL")
        else:
            cursor.execute("SET synchronous_commit = off")
    finally:
        cursor.close()
    if not type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.commit()  # psycopg opened a transaction for the SET


class _Compiled:
    """A statement as the driver takes it: its text and how to order its parameters."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.text = compiled.string
        # Positional styles (SQLite's `?`) list the names in order; named ones take a dict.
        self.order: Sequence[str] | None = compiled.positiontup

    def parameters(self, values: Mapping[str, Any]) -> Any:
        return values if self.order is None else tuple(values[name] for name in self.order)


class CallCounter:
    """Counts calls per address in windows of ``window_ms``; blocking (run it on a thread)."""

    def __init__(self, url: str | URL, window_ms: int) -> None:
        self.window_ms = window_ms
        self._engine = make_engine(url, pool_size=1, max_overflow=0)
        event.listen(self._engine, "connect", _relax_durability)
        dialect = self._engine.dialect
        count, purge = _statements(dialect.name)
        self._count, self._purge = _Compiled(count, dialect), _Compiled(purge, dialect)
        # SQLite's driver is left in autocommit (app.db.session): the transaction is
        # opened here, taking the write lock at once as every other writer does.
        self._begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
        self._lock = threading.Lock()
        self._connection: PoolProxiedConnection | None = None

    def count(self, calls: Mapping[str, int], now_ms: int) -> dict[str, tuple[int, int]]:
        """Count ``calls[address]`` calls from each address at ``now_ms``: for each, (calls
        in its current window with these, the window's start).

        When calls open a window, the rows of windows that have ended are deleted (an
        index range): each row is deleted once, so the purge's cost is spread over the
        calls that made the rows.
        """
        ended_at = now_ms - self.window_ms
        counted: dict[str, tuple[int, int]] = {}
        count, purge = self._count, self._purge
        with self._lock:
            connection = self._connect()
            try:
                cursor = connection.cursor()
                if self._begin is not None:
                    cursor.execute(self._begin)
                for address, n in calls.items():
                    params = {"address": address, "now": now_ms, "ended_at": ended_at, "calls": n}
                    cursor.execute(count.text, count.parameters(params))
                    [(hits, window_start)] = cursor.fetchall()
                    counted[address] = (int(hits), int(window_start))
                # All the calls of its window are these: they opened it.
                if any(counted[a][0] == n for a, n in calls.items()):
                    cursor.execute(purge.text, purge.parameters({"ended_at": ended_at}))
                connection.commit()
                cursor.close()
            except Exception:
                # A broken connection is not reused: the next count opens another.
                self._close()
                raise
        return counted

    def _connect(self) -> PoolProxiedConnection:
        if self._connection is None:
            self._connection = self._engine.raw_connection()
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()
            self._connection = None

    def dispose(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        self._engine.dispose()
