"""The tamper-evident audit log: every state change, hash-chained.

Each record's hash covers the previous record's hash and a canonical encoding of the
record (sorted keys, no spaces, UTC timestamps with microseconds, money as strings),
so the same record hashes the same on PostgreSQL and SQLite. Appends are serialised
(an advisory lock on PostgreSQL; ``BEGIN IMMEDIATE`` already does it on SQLite) and
``seq`` is the primary key, so the chain can never fork. Changing, deleting or
truncating records breaks the chain from that record on, and ``verify`` names the
first bad one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.catalog.loader import canonical_json, sha256
from app.db.models import AuditLog
from app.db.repositories import audit as repo
from app.domain.results import as_json

GENESIS = "0" * 64


def record_hash(
    prev_hash: str,
    seq: int,
    occurred_at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: Mapping[str, Any],
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "payload": payload,
        }
    )
    return sha256(prev_hash + body)


def serialize(session: Session) -> None:
    """Take the append lock now (held to commit), before reading what the record depends on."""
    repo.lock_audit_for_append(session)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: Mapping[str, Any],
) -> AuditLog:
    repo.lock_audit_for_append(session)
    head = repo.get_audit_head(session)
    seq = (head.seq + 1) if head else 1
    prev = head.hash if head else GENESIS
    occurred_at = datetime.now(UTC)
    clean = as_json(dict(payload))
    digest = record_hash(prev, seq, occurred_at, actor, action, object_type, object_id, clean)
    return repo.add_audit_entry(
        session,
        AuditLog(
            seq=seq,
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            payload=clean,
            prev_hash=prev,
            hash=digest,
        ),
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(
    session: Session, checkpoint_seq: int | None = None, checkpoint_hash: str | None = None
) -> Verification:
    """Recompute the chain; with a kept checkpoint, also detect a truncated tail."""
    prev, expected_seq, count = GENESIS, 1, 0
    for row in repo.iterate_audit_entries(session):
        count += 1
        problem = None
        if row.seq != expected_seq:
            problem = f"record {expected_seq} is missing (next is {row.seq})"
        elif row.prev_hash != prev:
            problem = "its prev_hash does not match the record before it"
        elif (
            record_hash(
                prev,
                row.seq,
                row.occurred_at,
                row.actor,
                row.action,
                row.object_type,
                row.object_id,
                row.payload,
            )
            != row.hash
        ):
            problem = "its content does not match its hash (altered)"
        if problem:
            return Verification(
                False, count, row.seq, row.hash, min(row.seq, expected_seq), problem
            )
        prev, expected_seq = row.hash, row.seq + 1
    head_seq = expected_seq - 1
    if checkpoint_seq is not None:
        if head_seq < checkpoint_seq:
            return Verification(
                False,
                count,
                head_seq,
                prev,
                head_seq + 1,
                f"the log ends at {head_seq} but the checkpoint has {checkpoint_seq}: "
                "records were removed from the tail",
            )
        kept = repo.get_audit_entry(session, checkpoint_seq)
        if checkpoint_hash is not None and (kept is None or kept.hash != checkpoint_hash):
            return Verification(
                False,
                count,
                head_seq,
                prev,
                checkpoint_seq,
                "the record at the checkpoint has another hash: the log was rewritten",
            )
    return Verification(True, count, head_seq, prev)
