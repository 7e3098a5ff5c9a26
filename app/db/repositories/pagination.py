"""Keyset (cursor) pagination over ``(created_at, id)``.

A cursor is opaque to clients: the url-safe base64 (unpadded) of the JSON array
``[created_at isoformat, id]`` of the last row of a page. Keyset pagination never
skips or repeats a row when rows are inserted between two pages (OFFSET would), and
each page is an index range scan on ``(created_at, id)``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db import bounds

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class InvalidCursor(ValueError):
    """The cursor was not produced by this service (or was altered)."""


class _Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> str: ...


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the cursor of the next page (``None`` on the last one)."""

    items: Sequence[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Return ``(created_at, id)``; raise ``InvalidCursor`` for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        created_at = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeError, ValueError, TypeError) as exc:
        raise InvalidCursor(f"invalid cursor: {cursor!r}") from exc
    if (
        created_at.tzinfo is None
        or not isinstance(row_id, str)
        or len(row_id) > bounds.ID
        or "\x00" in row_id  # no text column holds a NUL
    ):
        raise InvalidCursor(f"invalid cursor: {cursor!r}")
    try:
        # Compared with a timestamp column in UTC: an offset can push it past year 9999.
        created_at.astimezone(UTC)
    except OverflowError:
        raise InvalidCursor(f"invalid cursor: {cursor!r}") from None
    return created_at, row_id


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    return limit


def paginate(
    session: Session,
    stmt: Select[Any],
    created_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[str],
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool,
) -> Page[Any]:
    """Run ``stmt`` (a ``select(Model)``) for the page after ``cursor``."""
    check_limit(limit)
    if cursor is not None:
        after_at, after_id = decode_cursor(cursor)
        if newest_first:
            beyond = or_(created_col < after_at, and_(created_col == after_at, id_col < after_id))
        else:
            beyond = or_(created_col > after_at, and_(created_col == after_at, id_col > after_id))
        stmt = stmt.where(beyond)
    order = (created_col.desc(), id_col.desc()) if newest_first else (created_col, id_col)
    # One row more than asked tells whether there is a next page without a COUNT.
    rows: Sequence[_Keyed] = session.scalars(stmt.order_by(*order).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id)
    return Page(items=items, next_cursor=next_cursor)
