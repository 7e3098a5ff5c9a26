"""The tamper-evident audit log: every state change, hash-chained.

Each record's hash covers the previous record's hash and a canonical encoding of the
record (sorted keys, no spaces, UTC timestamps with microseconds, money as strings),
so the same record hashes the same on PostgreSQL and SQLite. Appends are serialised
(an advisory lock on PostgreSQL; ``BEGIN IMMEDIATE`` already does it on SQLite) and
``seq`` is the primary key, so the chain can never fork. Changing, deleting or
truncating records breaks the chain from that record on, and ``verify`` names the
first bad one.

``record`` only shapes the record; it is appended when the transaction commits
(``append_pending``, on SQLAlchemy's ``before_commit``). The append lock is then held
for three short statements (head, insert, commit) instead of the whole transaction:
every writer of the service would otherwise queue behind it for all of its own work.
Taking it last also fixes the lock order: a transaction that holds it waits for no
row lock, so the award and budget rows a transition locks first cannot deadlock with
it. Whatever reads the log in the same transaction appends the pending records first.
An approval over the API, its transaction's last write, takes the lock and reads the
head in the round trip of its own statement instead (``repo.run_and_lock_for_append``):
still after its row locks, and one round trip less while it holds its budget's row.
When nothing else was written before it (no Idempotency-Key), PostgreSQL chains the
approval's record itself, in the same message as its statement and the COMMIT
(``repo.run_append_and_commit``, ``record_hash_text``): the same record, hash and lock
order, and no round trip to the client while the budget's row is held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.catalog.loader import canonical_json, sha256
from app.db.repositories import audit as repo
from app.db.repositories._base import has_deferred, take_deferred
from app.domain.results import as_json
from app.observability.metrics import record_audit_verification

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


def record_hash_text(
    actor: str, action: str, object_type: str, object_id: str, payload: Mapping[str, Any]
) -> tuple[str, str]:
    """``record_hash``'s hashed text around the two values read only under the append
    lock, for the database to chain a record itself (``repo.run_append_and_commit``):
    ``record_hash(prev, seq, at, …) == sha256(prev + before + iso(at) + after + str(seq) + "}")``.
    The canonical text sorts its keys: action, actor, object_id, object_type, then
    occurred_at, payload and seq, which comes last (tests/unit/test_audit_hash_text.py)."""
    fixed = canonical_json(
        {"action": action, "actor": actor, "object_id": object_id, "object_type": object_type}
    )
    before = fixed[:-1] + ',"occurred_at":"'
    after = '","payload":' + canonical_json(payload) + ',"seq":'
    return before, after


def chained_in_database(
    *, actor: str, action: str, object_type: str, object_id: str, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """A record as ``repo.run_append_and_commit`` chains it: its columns and its hash's text."""
    values = as_json(dict(payload))
    before, after = record_hash_text(actor, action, object_type, object_id, values)
    return {
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "payload": values,
        "before": before,
        "after": after,
    }


def serialize(session: Session) -> None:
    """Take the append lock now (held to commit), before reading what the record depends on."""
    repo.lock_audit_for_append(session)


_PENDING = "audit_pending"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: Mapping[str, Any],
) -> None:
    """Shape a record now; it joins the chain (and takes its time) when the transaction commits."""
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending.append(
        {
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "payload": as_json(dict(payload)),
        }
    )


def has_pending(session: Session) -> bool:
    """Records, or writes deferred to the commit, wait in the transaction."""
    return bool(session.info.get(_PENDING)) or has_deferred(session)


def append_pending(session: Session, commit: bool = False) -> None:
    """Chain the transaction's pending records to the head, under the append lock;
    with ``commit``, commit with them and with the writes deferred to the commit
    (see ``repo.add_audit_entries``)."""
    deferred = take_deferred(session) if commit else []
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        repo.run_deferred(session, deferred)
        return
    # Every other write of the transaction first: none of them needs the lock.
    session.flush()
    seq, prev = repo.lock_and_read_link(session) or (0, GENESIS)
    # Taken under the lock, so times rise with seq as before.
    occurred_at = datetime.now(UTC)
    # The rows' values, not AuditLog objects: on PostgreSQL they go straight into the
    # INSERT, and building mapped objects cost more CPU than the chain's hashing.
    entries = []
    for fields in pending:
        seq += 1
        digest = record_hash(prev, seq, occurred_at, **fields)
        entries.append(
            {"seq": seq, "occurred_at": occurred_at, "prev_hash": prev, "hash": digest, **fields}
        )
        prev = digest
    repo.add_audit_entries(session, entries, commit=commit, deferred=deferred)


@event.listens_for(Session, "before_commit")
def _append_on_commit(session: Session) -> None:
    append_pending(session, commit=True)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    """A transaction rolled back or closed without commit takes its records with it."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        take_deferred(session)
        repo.forget_held_link(session)


@dataclass(frozen=True)
class Checkpoint:
    """The head of the chain at a moment: kept outside the system, it is what shows that
    records were later cut from the tail or the log rewritten (``verify_against``)."""

    seq: int
    hash: str
    taken_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        taken = self.taken_at.astimezone(UTC).isoformat() if self.taken_at else None
        return {"seq": self.seq, "hash": self.hash, "taken_at": taken}


def take_checkpoint(session: Session) -> Checkpoint:
    append_pending(session)
    head = repo.get_audit_head(session)
    return Checkpoint(
        seq=head.seq if head else 0, hash=head.hash if head else GENESIS, taken_at=datetime.now(UTC)
    )


@dataclass(frozen=True)
class Verification:
    ok: bool
    records: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    #: which of the checkpoints given to ``verify_against`` disagrees (its index)
    checkpoint: int | None = None


def verify(
    session: Session, checkpoint_seq: int | None = None, checkpoint_hash: str | None = None
) -> Verification:
    """Recompute the chain; with a kept checkpoint, also detect a truncated tail."""
    if checkpoint_seq is None:
        return verify_against(session, [])
    return verify_against(session, [(checkpoint_seq, checkpoint_hash)])


def verify_against(session: Session, checkpoints: Sequence[tuple[int, str | None]]) -> Verification:
    """Recompute the chain once, then hold it to every kept checkpoint (seq, hash).

    The chain alone cannot show that records were cut from its end: what is left is
    still a valid chain. A checkpoint past the head shows the cut; one whose record now
    has another hash shows a rewrite. The first problem, in chain order, is reported.
    The outcome is also kept for /metrics (the last verification this process made).
    """
    result = _verify_against(session, checkpoints)
    record_audit_verification(result.ok, result.records)
    return result


def _verify_against(
    session: Session, checkpoints: Sequence[tuple[int, str | None]]
) -> Verification:
    append_pending(session)
    wanted = {seq for seq, _ in checkpoints}
    kept: dict[int, str] = {}
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
        if row.seq in wanted:
            kept[row.seq] = row.hash
        prev, expected_seq = row.hash, row.seq + 1
    head_seq = expected_seq - 1
    kept[0] = GENESIS
    for index in sorted(range(len(checkpoints)), key=lambda i: checkpoints[i][0]):
        seq, digest = checkpoints[index]
        if head_seq < seq:
            return Verification(
                False,
                count,
                head_seq,
                prev,
                head_seq + 1,
                f"the log ends at {head_seq} but the checkpoint has {seq}: "
                "records were removed from the tail",
                index,
            )
        if digest is not None and kept.get(seq) != digest:
            return Verification(
                False,
                count,
                head_seq,
                prev,
                seq,
                "the record at the checkpoint has another hash: the log was rewritten",
                index,
            )
    return Verification(True, count, head_seq, prev)
