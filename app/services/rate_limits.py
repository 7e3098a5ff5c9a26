"""The open calculator's rate limit: calls per client address and minute, all workers together.

Each admitted call is counted in the database (``app.db.repositories.rate_limits``):
one atomic upsert by primary key, so the limit is the same whether one worker serves
the address or four do, and the cost of a call does not grow with the number of
addresses or of calls (a fixed window, not a log of calls). A window opens at an
address's first call and lasts a minute; calls past the limit inside it are refused
with the seconds until it ends. When a call opens a new window, the counters of
windows that have ended are deleted, so the table holds about one row per address
seen in the last minute.

A refusal is also remembered in the process until its window ends: no worker can
reopen a window before then, so the next calls from that address are refused by a
dictionary lookup without touching the database. A flood from one address costs the
database one row update a worker.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.engine import URL

from app.db.repositories.rate_limits import CallCounter
from app.services.errors import TooManyRequests

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Verdict:
    """One call's count in its window; ``check`` raises the 429 if it is past the limit."""

    hits: int
    limit: int
    retry_after: int

    @property
    def admitted(self) -> bool:
        return self.hits <= self.limit

    def check(self) -> None:
        if not self.admitted:
            raise TooManyRequests(
                f"at most {self.limit} calculations a minute from one address; "
                "use an API key and the enterprise endpoints for more",
                headers={"Retry-After": str(self.retry_after)},
            )


class RateLimit:
    """One process's view of the shared limit: the counter and the refusals it has seen.

    Used from the event loop. Calls that arrive while a count is on its way to the
    database wait for the next one and are counted together (``CallCounter.count``),
    so under load a request costs a fraction of a transaction and no thread of its
    own; the database is reached on one thread kept for it.
    """

    def __init__(self, counter: CallCounter, limit: int) -> None:
        self.counter = counter
        self.limit = limit
        # address -> end of its refused window (Unix seconds). Entries are added in
        # time order and each window ends within WINDOW_SECONDS of its refusal, so
        # dropping ended ones from the front keeps this to the last minute's refusals.
        self._refused: dict[str, float] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="rate-limit")
        self._waiting: dict[str, list[asyncio.Future[tuple[int, int]]]] = {}
        self._counting: asyncio.Task[None] | None = None

    async def count(self, client: str, now: float) -> Verdict:
        """Count a call from ``client`` at ``now`` (Unix seconds)."""
        ends = self._refused.get(client)
        if ends is not None and ends > now:
            return Verdict(self.limit + 1, self.limit, max(1, math.ceil(ends - now)))
        loop = asyncio.get_running_loop()
        task = self._counting
        if task is None or task.done() or task.get_loop() is not loop:
            # Nothing on its way (or, in tests, a loop that has ended: calls left
            # waiting there belong to requests that are gone).
            self._waiting = {}
            # It first runs after this call has put itself in the queue below.
            self._counting = loop.create_task(self._count_waiting())
        arrived: asyncio.Future[tuple[int, int]] = loop.create_future()
        self._waiting.setdefault(client, []).append(arrived)
        hits, window_start = await arrived
        ends = (window_start + self.counter.window_ms) / 1000
        now = max(now, time.time())
        verdict = Verdict(hits, self.limit, max(1, math.ceil(ends - now)))
        if not verdict.admitted:
            self._remember(client, ends, now)
        return verdict

    async def _count_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            calls = {client: len(futures) for client, futures in batch.items()}
            now_ms = int(time.time() * 1000)
            try:
                counted = await loop.run_in_executor(
                    self._executor, self.counter.count, calls, now_ms
                )
            except asyncio.CancelledError:
                # The loop is shutting down: no call may be left waiting for a count.
                for futures in (*batch.values(), *self._waiting.values()):
                    for future in futures:
                        future.cancel()
                self._waiting = {}
                raise
            except Exception as error:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                continue
            # The calls of one address take its consecutive counts, in arrival order.
            for client, futures in batch.items():
                hits, window_start = counted[client]
                first = hits - len(futures) + 1
                for i, future in enumerate(futures):
                    if not future.done():  # its request may have been cancelled
                        future.set_result((first + i, window_start))
        # No await between the last results and here: the task ends before any of
        # their requests runs on, so the next call always starts a new count.

    def _remember(self, client: str, ends: float, now: float) -> None:
        refused = self._refused
        # Amortised: each refusal drops at most two ended entries from the front.
        for address in list(itertools.islice(refused, 2)):
            if refused[address] <= now:
                del refused[address]
        refused.pop(client, None)
        refused[client] = ends

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.counter.dispose()


def rate_limit(url: str | URL, limit: int) -> RateLimit:
    """The rate limit of one process on the database at ``url``."""
    return RateLimit(CallCounter(url, WINDOW_SECONDS * 1000), limit)
