"""Helpers for the database tests.

The session's database is shared with the API tests, which commit. So a database test
never assumes it is alone: it makes its own rows unique (``unique``) and only asserts
about rows it created.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import AuditLog, Base


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def any_uscc() -> str:
    """18 characters, unique; the database does not check the check character."""
    return uuid.uuid4().hex[:18].upper()


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def next_seq(session: Session) -> int:
    head = repo.get_audit_head(session)
    return 1 if head is None else head.seq + 1


def audit_entry(seq: int, prev_hash: str = "0" * 64, **fields: object) -> AuditLog:
    values: dict[str, object] = {
        "actor": "tester",
        "action": "award.created",
        "object_type": "award",
        "object_id": "x",
        "payload": {"n": seq},
        "prev_hash": prev_hash,
        "hash": f"{seq:064d}",
    }
    return AuditLog(seq=seq, **(values | fields))


def _sqlite_words(name: str) -> str:
    """What SQLite says when the constraint called ``name`` is violated: it names CHECK
    constraints, but for UNIQUE and PRIMARY KEY only the columns, and a foreign key not
    at all."""
    for table in Base.metadata.tables.values():
        assert isinstance(table, Table)
        found = [c for c in table.constraints if c.name == name]
        found += [i for i in table.indexes if i.name == name]
        if not found:
            continue
        (constraint,) = found
        if isinstance(constraint, CheckConstraint):
            return f"CHECK constraint failed: {name}"
        if isinstance(constraint, ForeignKeyConstraint):
            return "FOREIGN KEY constraint failed"
        # A unique constraint or index, or a primary key: SQLite names the columns.
        columns = ", ".join(f"{table.name}.{c.name}" for c in constraint.columns)
        return f"UNIQUE constraint failed: {columns}"
    raise AssertionError(f"no constraint or index named {name} in the models")


def violates(error: IntegrityError, constraint: str) -> bool:
    """Whether ``error`` is a violation of the constraint called ``constraint``.

    PostgreSQL reports the constraint's name; SQLite reports what ``_sqlite_words``
    says, which for a unique index is its columns.
    """
    diag = getattr(error.orig, "diag", None)
    if diag is not None:
        return bool(diag.constraint_name == constraint)
    return _sqlite_words(constraint) in str(error.orig)


@contextmanager
def refused_by(constraint: str) -> Iterator[None]:
    """Expect an IntegrityError from the named constraint, and from no other."""
    with pytest.raises(IntegrityError) as refused:
        yield
    assert violates(refused.value, constraint), f"expected {constraint}: {refused.value.orig}"
