"""The append-only audit log (hash chain). Hashing belongs to the audit service;
this module only reads the head and appends rows.

``seq`` is head + 1, chosen by the caller: two transactions that read the same head
both try to insert the same ``seq`` and the second fails on the primary key, rather
than both succeeding and forking the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db.models import AuditLog
from app.db.repositories._base import add_and_flush
from app.db.repositories.pagination import MAX_PAGE_SIZE, check_limit


def get_audit_head(session: Session) -> AuditLog | None:
    """The entry with the highest ``seq`` (``None`` for an empty log)."""
    return session.scalars(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).first()


_HEAD_SQL = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"


def lock_and_read_link(session: Session) -> tuple[int, str] | None:
    """Take the append lock, then read the head's ``seq`` and ``hash``.

    On PostgreSQL both statements go in one round trip (psycopg's pipeline mode): this
    runs at commit, while the transaction holds the budget's row lock and every other
    writer waits for the audit lock, so a round trip less is worth it there. The
    server still runs them one after the other, and in READ COMMITTED the SELECT
    takes its snapshot after the lock is granted: it sees the head that the previous
    holder committed. (In one statement it would not: the snapshot comes first.)
    """
    if session.get_bind().dialect.name != "postgresql":
        lock_audit_for_append(session)
        return get_audit_link(session)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.pipeline(), driver.cursor() as lock, driver.cursor() as head:
        lock.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_APPEND_LOCK,))
        head.execute(_HEAD_SQL)
        row = head.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def get_audit_link(session: Session) -> tuple[int, str] | None:
    """The head's ``seq`` and ``hash`` only: what the next record chains to."""
    row = session.execute(
        select(AuditLog.seq, AuditLog.hash).order_by(AuditLog.seq.desc()).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def add_audit_entry(session: Session, entry: AuditLog) -> AuditLog:
    return add_and_flush(session, entry)


def add_audit_entries(session: Session, entries: Sequence[AuditLog]) -> None:
    """Append entries in chain order (one INSERT for one entry, batched for several)."""
    session.add_all(entries)
    session.flush()


def list_audit_entries(
    session: Session, *, after_seq: int = 0, limit: int = MAX_PAGE_SIZE
) -> Sequence[AuditLog]:
    """Entries with ``seq > after_seq`` in chain order (for verification and export)."""
    check_limit(limit)
    stmt = select(AuditLog).where(AuditLog.seq > after_seq).order_by(AuditLog.seq).limit(limit)
    return session.scalars(stmt).all()


# Any fixed number works as the key; it only has to be the same in every process.
_AUDIT_APPEND_LOCK = 0x1A0D17


def lock_audit_for_append(session: Session) -> None:
    """Serialise appends until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock (released at commit or rollback).
    SQLite: nothing to do, ``BEGIN IMMEDIATE`` already holds the database's write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_APPEND_LOCK})


def get_audit_entry(session: Session, seq: int) -> AuditLog | None:
    return session.get(AuditLog, seq)


def iterate_audit_entries(session: Session, batch: int = 1000) -> Iterator[AuditLog]:
    """Every entry in chain order, read in batches so a long log never sits in memory."""
    after = 0
    while True:
        rows = session.scalars(
            select(AuditLog).where(AuditLog.seq > after).order_by(AuditLog.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
