"""Loading many rows into one table: one ``COPY`` stream on PostgreSQL, prepared INSERTs
on SQLite.

Rows are tuples in the order of the columns named when the load starts, so nothing is
built per row but the tuple itself. On PostgreSQL the rows of a whole load go in one
``COPY … FROM STDIN``, written part by part: the server stores each part while the
caller makes the next one (two cores at work instead of one taking turns with the
other), and the load costs one round trip however many parts it has. The ``COPY`` is binary
when psycopg can send every column so (the columns' types are asked of the server first):
nothing is formatted as text here nor parsed from text there.

A load runs in the caller's transaction: a failure while loading (the caller's own
included) abandons the ``COPY`` and the transaction fails as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from psycopg import ProgrammingError
from psycopg.pq import Format
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
        with _copying(connection, table, columns, as_stored) as write:
            yield write
    else:
        with _inserting(connection, table, columns, as_stored) as write:
            yield write


#: Type OIDs of PostgreSQL's JSON types, whose binary form is the document's text (after
#: a version byte, 1, for ``jsonb``), and of ``bytea``, whose binary form is its bytes.
_JSONB, _JSON, _BYTEA = 3802, 114, 17


@contextmanager
def _copying(
    connection: Connection, table: Table, columns: Sequence[str], as_stored: Collection[str]
) -> Iterator[Write]:
    raw = connection.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        types = _binary_types(cursor, table.name, columns)
        binary = " (FORMAT BINARY)" if types is not None else ""
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN{binary}"
        with cursor.copy(statement) as copy:
            # psycopg's compiled row formatter, which sends what it has made every few
            # kilobytes: about three times as fast as joining the text in Python.
            write_row = copy.write_row
            stored: list[tuple[int, bytes]] = []
            if types is not None:
                # Binary: no value is formatted as text here nor parsed from text there
                # (the timestamps and numbers above all), and no text is escaped. A JSON
                # column given as its text goes as that text: declared ``bytea`` to
                # psycopg, which sends bytes as they are, and received by the server as
                # the column's own type, which reads its binary form (the version byte
                # and the text) with the same parser as the text form.
                for i, name in enumerate(columns):
                    if name in as_stored and types[i] in (_JSONB, _JSON):
                        stored.append((i, b"\x01" if types[i] == _JSONB else b""))
                        types[i] = _BYTEA
                copy.set_types(types)

            if not stored:

                def write(rows: Sequence[Sequence[Any]]) -> None:
                    for row in rows:
                        write_row(row)

            else:

                def write(rows: Sequence[Sequence[Any]]) -> None:
                    for row in rows:
                        cells = list(row)
                        for i, prefix in stored:
                            if cells[i] is not None:
                                cells[i] = prefix + cells[i].encode()
                        write_row(cells)

            yield write


def _binary_types(cursor: Any, table: str, columns: Sequence[str]) -> list[int] | None:
    """The type OIDs of ``table``'s ``columns`` (a domain's: its base type's), in order,
    if psycopg has a binary dumper for each; else None (the load goes as text)."""
    cursor.execute(
        "SELECT a.attname, CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
        " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    )
    oids = dict(cursor.fetchall())
    types = [oids.get(name) for name in columns]
    try:
        for oid in types:
            if oid is None:
                return None
            cursor.adapters.get_dumper_by_oid(oid, Format.BINARY)
    except ProgrammingError:  # no binary dumper for that type
        return None
    return cast(list[int], types)


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
