"""Reading ahead and writing behind keep order and report failures where they are awaited."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.services.overlap import WriteBehind, read_ahead


@pytest.mark.parametrize("enabled", [True, False])
def test_read_ahead_gives_every_item_in_order(enabled: bool) -> None:
    assert list(read_ahead(iter(range(7)), enabled)) == list(range(7))


def test_read_ahead_fetches_in_one_other_thread() -> None:
    threads = set()

    def items() -> Iterator[int]:
        for i in range(3):
            threads.add(threading.get_ident())
            yield i

    assert list(read_ahead(items())) == [0, 1, 2]
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_a_failed_read_is_raised_to_the_reader() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise RuntimeError("the database went away")

    got = []
    with pytest.raises(RuntimeError, match="went away"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1]


@pytest.mark.parametrize("enabled", [True, False])
def test_writes_run_in_order(enabled: bool) -> None:
    done: list[int] = []
    with WriteBehind(enabled) as writes:
        for i in range(5):
            writes.submit(lambda i=i: done.append(i))  # type: ignore[misc]
        writes.wait()
        assert done == [0, 1, 2, 3, 4]


def test_a_failed_write_is_raised_at_the_next_wait() -> None:
    def fail() -> None:
        raise RuntimeError("disk full")

    ran = []
    with WriteBehind() as writes:
        writes.submit(fail)
        with pytest.raises(RuntimeError, match="disk full"):
            writes.submit(lambda: ran.append(1))
    assert ran == []
