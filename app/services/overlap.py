"""Reading the next chunk and writing the last one while this one is evaluated.

A matching run spends its time reading a chunk, evaluating it and storing its results;
the database does most of the reading and storing, and the driver releases Python's
lock while it waits, so each can go on in a thread of its own while the run's thread
evaluates. One chunk is read ahead and one write is pending at most, so memory stays
bounded by a few chunks; a failure in either thread is raised in the run's thread at
its next wait, as if it had happened there.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def read_ahead(items: Iterator[T], enabled: bool = True) -> Generator[T, None, None]:
    """``items``, each fetched in a background thread while the previous one is used.

    The iterator only ever runs in that one thread, so a database session it uses is
    never used by two threads at once."""
    if not enabled:
        yield from items
        return
    done = object()
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        pending: Future[object] = pool.submit(next, items, done)
        while True:
            item = pending.result()
            if item is done:
                return
            pending = pool.submit(next, items, done)
            yield item  # type: ignore[misc]


class WriteBehind:
    """Writes run one at a time in a background thread, in the order given.

    ``submit`` waits for the write before it (so at most one is pending) and
    ``wait`` for the last; either raises what a write raised. Leaving the ``with``
    block waits for a pending write too, so none outlives the caller."""

    def __init__(self, enabled: bool = True) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="write-behind") if enabled else None
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        self.wait()
        if self._pool is None:
            write()
        else:
            self._pending = self._pool.submit(write)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            # On an error the pending write still ends (committed or failed) before the
            # run is marked failed: no write outlives the run's record of how it ended.
            if self._pending is not None:
                self._pending.exception()
            self._pool.shutdown(wait=True)
