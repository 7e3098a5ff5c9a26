"""Helpers for the database tests.

The session's database is shared with the API tests, which commit. So a database test
never assumes it is alone: it makes its own rows unique (``unique``) and only asserts
about rows it created.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import AuditLog


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
