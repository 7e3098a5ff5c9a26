"""PostgreSQL's fast path for reading the projection: whole columns per round trip.

``read_columns`` aggregates each column of a chunk into one value: numbers, dates and
booleans as a bytea of int8 (``NULL`` turned into a sentinel in SQL) that numpy reads
in one call and keeps (``IntColumn``), words as a text array. (``COPY … TO STDOUT``
sends a message per row, which cost more than the rows' data here.) Anything
unexpected returns ``None`` and the caller reads the chunk the ordinary way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, overload

import numpy as np
from sqlalchemy import BigInteger, Integer, LargeBinary, cast, func, literal, select
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


class IntColumn(Sequence[Any]):
    """A column read as int8 (``SENTINEL`` for NULL), kept as the array numpy read: the
    batch engine's columns are made from it without a Python object per value, and
    it reads as the list of values the ordinary reader gives."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, array: np.ndarray[Any, Any], kind: str) -> None:
        self.array, self.kind = array, kind

    @property
    def known(self) -> np.ndarray[Any, Any]:
        known: np.ndarray[Any, Any] = self.array != SENTINEL
        return known

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return as_values(self.array[index], self.kind)
        return as_values(self.array[index : index + 1 or None], self.kind)[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(as_values(self.array, self.kind))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    def take(self, rows: Sequence[int]) -> IntColumn:
        return IntColumn(self.array[np.asarray(rows, dtype=np.intp)], self.kind)


__all__ = ["SENTINEL", "IntColumn", "as_values", "int8", "read_columns"]


def read_columns(
    session: Session,
    owner: Any,
    joined: Any,
    ints: list[tuple[str, Any, str]],
    words: list[tuple[str, Any]],
    where: list[Any],
    order: list[Any],
) -> tuple[list[str], dict[str, Sequence[Any]]] | None:
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
    # Through the session, so that SQLAlchemy compiles the statement once and reuses it
    # (its cache is keyed on the statement's shape; the values are parameters): a
    # chunk's statement has a few hundred columns, and compiling it anew took longer
    # than the database took to answer it.
    got = session.execute(select(*aggregates).select_from(joined).where(*where)).one()
    ids: list[str] = got[0] or []
    # The aggregates read the rows in whatever order the plan gives: put them in id
    # order, as the ordinary reader does (a run stores its results in this order).
    by_id = np.argsort(np.array(ids), kind="stable") if ids else np.zeros(0, dtype=np.intp)
    ids = [ids[i] for i in by_id.tolist()]
    out: dict[str, Sequence[Any]] = {}
    for i, (name, _, kind) in enumerate(ints):
        blob = got[1 + i] or b""
        if len(blob) != 8 * len(ids):
            return None
        out[name] = IntColumn(np.frombuffer(blob, dtype=">i8").astype(np.int64)[by_id], kind)
    for j, (name, _) in enumerate(words):
        column = got[1 + len(ints) + j] or []
        out[name] = [column[i] for i in by_id.tolist()]
    return ids, out
