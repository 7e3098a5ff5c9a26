"""Loading many rows into one table: one ``COPY`` stream on PostgreSQL, prepared INSERTs
on SQLite.

Rows are tuples in the order of the columns named when the load starts, so nothing is
built per row but the tuple itself. On PostgreSQL the rows of a whole load go in one
``COPY … FROM STDIN``, written part by part: the server stores each part while the
caller makes the next one (two cores at work instead of one taking turns with the
other), and the load costs one round trip however many parts it has.

A load runs in the caller's transaction: a failure while loading (the caller's own
included) abandons the ``COPY`` and the transaction fails as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Connection

#: Writes some rows of a load (tuples in the load's column order).
Write = Callable[[Sequence[Sequence[Any]]], None]


@contextmanager
def loading(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    *,
    as_stored: Collection[str] = (),
) -> Iterator[Write]:
    """A writer of rows for ``table``'s ``columns``, open until the block ends.

    ``as_stored``: columns whose values are given as the database stores them (a JSON
    document as its text), so no bind processing applies. Every row carries every
    column to be set: defaults are not applied."""
    if connection.dialect.name == "postgresql":
        with _copying(connection, table, columns) as write:
            yield write
    else:
        with _inserting(connection, table, columns, as_stored) as write:
            yield write


@contextmanager
def _copying(connection: Connection, table: Table, columns: Sequence[str]) -> Iterator[Write]:
    raw = connection.connection.driver_connection
    assert raw is not None
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        # psycopg's compiled row formatter, which sends what it has made every few
        # kilobytes: about three times as fast as joining the text in Python.
        write_row = copy.write_row

        def write(rows: Sequence[Sequence[Any]]) -> None:
            for row in rows:
                write_row(row)

        yield write


@contextmanager
def _inserting(
    connection: Connection, table: Table, columns: Sequence[str], as_stored: Collection[str]
) -> Iterator[Write]:
    """One prepared INSERT run by the driver over the rows.

    Each value goes through its column type's own bind processor, so what is stored is
    what ``insert(table)`` stores; SQLAlchemy's per-row parameter building cost more than
    the insert itself on a bulk import."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    processors = []
    for i, name in enumerate(columns):
        kind = table.c[name].type
        process = kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and name not in as_stored:
            # A null stays null (skipped) except in a JSON column, which may store 'null'.
            processors.append((i, process, isinstance(kind, JSON)))
    statement = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    raw = connection.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()

    def write(rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if not processors:
            cursor.executemany(statement, rows)
            return
        # Column by column: each processed column is one loop, the rest stay as they are.
        cells: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for i, process, always in processors:
            cells[i] = _processed(cells[i], process, always)
        cursor.executemany(statement, zip(*cells, strict=True))

    try:
        yield write
    finally:
        cursor.close()


_UNSEEN = object()

#: SQLite page cache a bulk load may use, in KiB per row it writes (about what a row
#: and its projection's rows take, indexes included), and at most.
SQLITE_CACHE_KIB_PER_ROW = 3
SQLITE_CACHE_KIB_MAX = 512 * 1024


@contextmanager
def roomy_cache(connection: Connection, rows: int) -> Iterator[None]:
    """On SQLite, a page cache large enough for a load of ``rows`` rows while the block
    runs, the connection's own setting back afterwards.

    SQLite's default cache is 2 MiB: a large load's pages are then written out to the
    WAL and read back again and again before the commit (a fifth of an import's
    writing). The pages are only allocated as they are used. PostgreSQL: nothing."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    wanted = min(rows * SQLITE_CACHE_KIB_PER_ROW, SQLITE_CACHE_KIB_MAX)
    if not isinstance(before, int) or wanted <= _kib(before):
        yield
        return
    connection.exec_driver_sql(f"PRAGMA cache_size = -{wanted}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {before}")


def _kib(cache_size: int) -> int:
    """A ``cache_size`` setting in KiB (negative: KiB already; positive: pages of 4 KiB,
    SQLite's default page size, counted generously)."""
    return -cache_size if cache_size < 0 else cache_size * 4


def _processed(values: Sequence[Any], process: Callable[[Any], Any], always: bool) -> list[Any]:
    """A column's values through its bind processor. A null stays null unless
    ``always``; a value repeated from the row before (an import's one timestamp) is
    processed once."""
    out: list[Any] = []
    last: Any = _UNSEEN
    done: Any = None
    for value in values:
        if value is None and not always:
            out.append(None)
        else:
            if value is not last:
                last, done = value, process(value)
            out.append(done)
    return out
