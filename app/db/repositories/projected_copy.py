"""PostgreSQL's fast path for reading the projection: whole columns per round trip.

``read_columns`` aggregates each column of a chunk into one value: numbers, dates and
booleans as a bytea of int8 (``NULL`` turned into a sentinel in SQL) that numpy reads
in one call, words as a text array. (``COPY … TO STDOUT`` sends a message per row,
which costs more than the rows' data here.) ``copy_ints`` and ``copy_words`` read with
``COPY`` where a result is too large for one value. Anything unexpected returns
``None`` and the caller reads the chunk the ordinary way.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Integer, LargeBinary, Select, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

SENTINEL = np.iinfo(np.int64).min
_EPOCH = date(1970, 1, 1)


def int8(column: Any, kind: str) -> ColumnElement[Any]:
    """The column as a non-null int8: numbers as they are, days since 1970, booleans 0/1."""
    if kind == "date":
        value: ColumnElement[Any] = column - literal(_EPOCH)
    elif kind == "boolean":
        value = cast(column, Integer)
    else:
        value = column
    return func.coalesce(cast(value, BigInteger()), literal(int(SENTINEL), BigInteger()))


def _sql(session: Session, stmt: Select[Any]) -> str:
    return str(
        stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    )


def copy_ints(session: Session, stmt: Select[Any]) -> tuple[list[str], np.ndarray[Any, Any]] | None:
    """``(ids, values)`` of a select of (enterprise_id, int8…): values as an (n, k) array."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    k = len(stmt.selected_columns) - 1
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY ({_sql(session, stmt)}) TO STDOUT (FORMAT binary)") as copy,
    ):
        data = b"".join(bytes(block) for block in copy)
    body = data[19:-2]  # the signature, flags and extension area; the trailer
    fields = [("n", ">i2"), ("idlen", ">i4"), ("id", "S36")]
    for i in range(k):
        fields += [(f"l{i}", ">i4"), (f"v{i}", ">i8")]
    dtype = np.dtype(fields)
    if len(body) % dtype.itemsize:
        return None  # an id that is not 36 characters: not this layout
    rows = np.frombuffer(body, dtype=dtype)
    if len(rows) and (np.any(rows["idlen"] != 36) or np.any(rows["n"] != k + 1)):
        return None
    values = np.empty((len(rows), k), dtype=np.int64)
    for i in range(k):
        if len(rows) and np.any(rows[f"l{i}"] != 8):
            return None
        values[:, i] = rows[f"v{i}"]
    return rows["id"].astype("U36").tolist(), values


def copy_words(
    session: Session, stmt: Select[Any]
) -> tuple[list[str], list[list[str | None]]] | None:
    """``(ids, columns)`` of a select of (enterprise_id, text…)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(f"COPY ({_sql(session, stmt)}) TO STDOUT") as copy:
        text = b"".join(bytes(block) for block in copy).decode()
    if "\\" in text.replace("\\N", ""):
        return None  # an escaped character: the ordinary reader decodes it
    lines = text.split("\n")[:-1]
    k = len(stmt.selected_columns)
    if not lines:
        return [], [[] for _ in range(k - 1)]
    columns = list(zip(*(line.split("\t") for line in lines), strict=True))
    if len(columns) != k:
        return None
    ids = list(columns[0])
    return ids, [[None if v == "\\N" else v for v in column] for column in columns[1:]]


def as_values(column: np.ndarray[Any, Any], kind: str) -> list[Any]:
    """A column of ``copy_ints`` as the list the ordinary reader gives (``None``: NULL)."""
    known = column != SENTINEL
    if kind == "date":
        out = np.where(known, column, 0).astype("datetime64[D]").astype(object)
    elif kind == "boolean":
        out = column.astype(bool).astype(object)
    else:
        out = column.astype(object)
    out[~known] = None
    values: list[Any] = out.tolist()
    return values


__all__ = ["SENTINEL", "as_values", "copy_ints", "copy_words", "int8", "select"]


def read_columns(
    session: Session,
    owner: Any,
    joined: Any,
    ints: list[tuple[str, Any, str]],
    words: list[tuple[str, Any]],
    where: list[Any],
    order: list[Any],
) -> tuple[list[str], dict[str, list[Any]]] | None:
    """The named columns of the rows of ``joined`` matching ``where``, in one round trip.

    Each column comes aggregated into one value (every aggregate of one query reads the
    same stream of rows, so they line up): ``ints`` (name, column, fact type) as a
    bytea of big-endian int8 (numpy reads it whole), ``words`` (name, column) as a
    text array. No message and no parsing per row. ``order`` is unused: the owners'
    ids place each row.
    """
    del order
    aggregates: list[Any] = [func.array_agg(owner)]
    aggregates += [
        func.string_agg(func.int8send(int8(c, kind)), literal(b"", LargeBinary()))
        for _, c, kind in ints
    ]
    aggregates += [func.array_agg(c) for _, c in words]
    raw = session.connection().connection.driver_connection
    assert raw is not None
    sql = _sql(session, select(*aggregates).select_from(joined).where(*where))
    with raw.cursor(binary=True) as cursor:
        got = cursor.execute(sql).fetchone()
    assert got is not None
    ids: list[str] = got[0] or []
    # The aggregates read the rows in whatever order the plan gives: put them in id
    # order, as the ordinary reader does (a run stores its results in this order).
    by_id = np.argsort(np.array(ids), kind="stable") if ids else np.zeros(0, dtype=np.intp)
    ids = [ids[i] for i in by_id.tolist()]
    out: dict[str, list[Any]] = {}
    for i, (name, _, kind) in enumerate(ints):
        blob = got[1 + i] or b""
        if len(blob) != 8 * len(ids):
            return None
        out[name] = as_values(np.frombuffer(blob, dtype=">i8").astype(np.int64)[by_id], kind)
    for j, (name, _) in enumerate(words):
        column = got[1 + len(ints) + j] or []
        out[name] = [column[i] for i in by_id.tolist()]
    return ids, out
