"""Helpers shared by the repositories.

Repositories flush but never commit: the request (or CLI command) that owns the
session decides whether the unit of work commits or rolls back. Flushing on ``add``
makes constraint violations (a duplicate USCC, a second live award) surface at the
call that caused them, not at a distant commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Base

ModelT = TypeVar("ModelT", bound=Base)


def add_and_flush(session: Session, obj: ModelT) -> ModelT:
    session.add(obj)
    session.flush()
    return obj


def lock_by_id(session: Session, model: type[ModelT], row_id: Any) -> ModelT | None:
    """``SELECT ... FOR UPDATE`` one row and refresh it from the database.

    ``populate_existing`` matters: without it a row already in the identity map keeps
    the values read before the lock was taken. On SQLite ``FOR UPDATE`` is not
    rendered; ``BEGIN IMMEDIATE`` (see app.db.session) already serialises writers.
    """
    pk = model.__mapper__.primary_key[0]
    stmt = (
        select(model)
        .where(pk == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


_AT_COMMIT = "sql_at_commit"


def defer_to_commit(session: Session, sql: str, params: Sequence[Any]) -> None:
    """A write nothing in the transaction reads back, sent with the COMMIT (PostgreSQL,
    ``%s`` placeholders, bound on the client): one round trip less, and none spent
    while the transaction holds a budget's row lock (app.services.audit)."""
    session.info.setdefault(_AT_COMMIT, []).append((sql, list(params)))


def has_deferred(session: Session) -> bool:
    return bool(session.info.get(_AT_COMMIT))


def take_deferred(session: Session) -> list[tuple[str, list[Any]]]:
    deferred: list[tuple[str, list[Any]]] = session.info.pop(_AT_COMMIT, [])
    return deferred
