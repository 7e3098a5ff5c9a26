"""Cursor and page-size query parameters shared by the list routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Query

from app.api.schemas.bounded import PageCursor
from app.db.repositories.pagination import MAX_PAGE_SIZE, InvalidCursor
from app.services.errors import Invalid

T = TypeVar("T")

CursorQuery = Annotated[PageCursor | None, Query(description="`next_cursor` of the previous page")]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]


def page_or_422(fetch: Callable[[], T]) -> T:
    """Run a page query; a cursor this service did not issue is the client's error."""
    try:
        return fetch()
    except InvalidCursor:
        raise Invalid(
            "the cursor is not one this service issued: start again without it",
            errors=[{"parameter": "cursor", "detail": "invalid cursor"}],
        ) from None
