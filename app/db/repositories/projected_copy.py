"""PostgreSQL's fast path for reading the projection: ``COPY … TO STDOUT``.

Numbers, dates and booleans come in one binary ``COPY`` as fixed-width int8 fields
(``NULL`` turned into a sentinel in SQL), parsed by numpy in one call; words come in a
text ``COPY`` split by tab. Both are ordered by enterprise id and carry it, so their
rows are checked to line up; anything unexpected (a concurrent change between the two
statements, an escaped character) returns ``None`` and the caller reads the chunk the
ordinary way.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Integer, Select, cast, func, literal, select
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
    """The named columns of the rows of ``joined`` matching ``where``, read by ``COPY``.

    ``ints`` are (name, column, fact type) read as int8; ``words`` (name, column) as text.
    """
    base_i = select(owner, *(int8(c, kind) for _, c, kind in ints)).select_from(joined)
    base_w = select(owner, *(c for _, c in words)).select_from(joined)
    got_i = copy_ints(session, base_i.where(*where).order_by(*order))
    got_w = copy_words(session, base_w.where(*where).order_by(*order))
    if got_i is None or got_w is None or got_i[0] != got_w[0]:
        return None
    ids, values = got_i
    out = {name: as_values(values[:, i], kind) for i, (name, _, kind) in enumerate(ints)}
    out.update({name: column for (name, _), column in zip(words, got_w[1], strict=True)})
    return ids, out
