"""FIX (ledger tests): admit no more requests per worker than it has database connections.

Sync routes and dependencies run on AnyIO's thread pool (40 threads per process) one
step at a time: the key is checked, then the route runs, then the response is
validated, each step on a thread of its own. Between the steps the request keeps its
pooled connection and, on SQLite, the database's write lock (``BEGIN IMMEDIATE`` at its
first statement; on PostgreSQL the advisory lock of the audit chain). Under a burst
(200 approvals over 4 workers) every thread ended up held by a request waiting for a
connection or for the lock, while the requests holding them waited for a thread:
nothing moved until the 30 s pool or busy timeout answered 500s.

This gate queues the surplus in the event loop, before it takes a thread or a
connection, so every admitted request can always finish. The limit is the pool's
steady size (5 by default, below the thread count): writers queue on one lock anyway
(the advisory lock, or SQLite's write lock), so more connections would only add
overflow connections opened and closed per request, and four workers would hold up
to 60 PostgreSQL connections instead of 20 (the ledger tests saw "too many clients"
on a server with the default max_connections of 100 shared with other clients).

The open calculator's routes (``unqueued``) pass straight through: they are coroutines
that take no pooled connection and no thread (their rate limit has a connection and a
thread of its own, ``app.services.rate_limits``), so queueing them protected nothing,
and it capped how many of their calls one count could take together.
"""

from __future__ import annotations

from collections.abc import Collection

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send


def gate_size(engine: Engine) -> int:
    """How many requests may use the database at once in this process."""
    threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
    limit = threads - 1
    pool = engine.pool
    if isinstance(pool, QueuePool):
        limit = min(limit, pool.size())
    return max(1, limit)


class RequestGate:
    """Pure ASGI middleware; the semaphore is made on the first request, in the event
    loop, from the engine the application's start-up created. Requests for the paths
    in ``unqueued`` are not counted."""

    def __init__(self, app: ASGIApp, unqueued: Collection[str] = ()) -> None:
        self.app = app
        self.unqueued = frozenset(unqueued)
        self._semaphore: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.unqueued:
            await self.app(scope, receive, send)
            return
        engine = getattr(scope["app"].state, "engine", None) if "app" in scope else None
        if engine is None:
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(gate_size(engine))
        async with self._semaphore:
            await self.app(scope, receive, send)
