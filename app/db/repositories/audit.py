"""The append-only audit log (hash chain). Hashing belongs to the audit service;
this module only reads the head and appends rows.

``seq`` is head + 1, chosen by the caller: two transactions that read the same head
both try to insert the same ``seq`` and the second fails on the primary key, rather
than both succeeding and forking the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.models import AuditLog
from app.db.repositories._base import add_and_flush
from app.db.repositories.pagination import MAX_PAGE_SIZE, check_limit


@contextmanager
def driver_errors() -> Iterator[None]:
    """psycopg's errors from the messages sent here straight to the driver, raised as
    SQLAlchemy raises them from its own statements: a dropped or refused connection is
    then the API's 503 (``OperationalError``) whichever statement met it."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc


def get_audit_head(session: Session) -> AuditLog | None:
    """The entry with the highest ``seq`` (``None`` for an empty log)."""
    return session.scalars(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).first()


_HEAD_SQL = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"


def lock_and_read_link(session: Session) -> tuple[int, str] | None:
    """Take the append lock, then read the head's ``seq`` and ``hash``.

    On PostgreSQL both statements go in one message, so one round trip: this runs at
    commit, while an approval holds its budget's row lock and every other writer waits
    for the audit lock, so a round trip less is worth it there. The server runs them
    one after the other and, in READ COMMITTED, each statement takes its own snapshot:
    the SELECT's comes after the lock is granted and sees the head the previous holder
    committed. (In one statement it would not: its snapshot would come first.)
    """
    if _HELD in session.info:  # taken with the transaction's last write (below)
        held: tuple[int, str] | None = session.info[_HELD]
        return held
    if session.get_bind().dialect.name != "postgresql":
        lock_audit_for_append(session)
        return get_audit_link(session)
    from psycopg import ClientCursor

    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver_errors(), ClientCursor(driver) as cursor:
        cursor.execute(f"SELECT pg_advisory_xact_lock({_AUDIT_APPEND_LOCK:d}); {_HEAD_SQL}")
        assert cursor.nextset(), "the head's result follows the lock's"
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


_HELD = "audit_link_held"


def run_and_lock_for_append(session: Session, sql: str, params: Mapping[str, Any]) -> Any:
    """PostgreSQL: run ``sql`` (one statement, bound on the client), then take the append
    lock and read the head, all in one message; the statement's first row.

    For a transaction's last write before it commits (an approval over the API): the
    append at commit then needs one round trip (its INSERT with the COMMIT) instead of
    two, and the rows the statement locked (the budget's) are held for one round trip
    less. The lock still comes after every row lock of the transaction, as the audit
    service's lock order requires, provided nothing after it locks rows. The head read
    here is what ``lock_and_read_link`` returns until the transaction ends.
    """
    from psycopg import ClientCursor

    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver_errors(), ClientCursor(driver) as cursor:
        cursor.execute(
            f"{sql}; SELECT pg_advisory_xact_lock({_AUDIT_APPEND_LOCK:d}); {_HEAD_SQL}", params
        )
        row = cursor.fetchone()
        assert cursor.nextset() and cursor.nextset(), "the lock's and the head's results follow"
        head = cursor.fetchone()
    session.info[_HELD] = None if head is None else (int(head[0]), str(head[1]))
    return row


# One audit record chained to the head in the database itself, for ``run_append_and_commit``:
# seq and prev_hash from the head, occurred_at read under the append lock (so times
# still rise with seq), and the hash of app.services.audit.record_hash, whose text
# around those two values the caller sends (``before``, ``after``). Inserted only if
# ``written_if`` holds (the statement before it wrote what the record is about). The
# head is read by its own statement after the lock's, so its snapshot sees the head the
# lock's previous holder committed (see ``lock_and_read_link``); it is the primary key's
# last entry (a UNION with the genesis row instead read the whole log), or the genesis.
_APPEND_FROM_HEAD_SQL = """\
INSERT INTO audit_log (seq, occurred_at, actor, action, object_type, object_id, payload,
                       prev_hash, hash)
SELECT head.seq + 1, now.at, %(audit_actor)s, %(audit_action)s, %(audit_object_type)s,
       %(audit_object_id)s, %(audit_payload)s, head.hash,
       encode(sha256(convert_to(head.hash || %(audit_before)s
           || to_char(now.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'
           || %(audit_after)s || (head.seq + 1) || '}', 'UTF8')), 'hex')
FROM (SELECT clock_timestamp() AS at) AS now
CROSS JOIN (SELECT coalesce(last.seq, 0) AS seq, coalesce(last.hash, %(genesis)s) AS hash
            FROM (SELECT) AS one
            LEFT JOIN (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) AS last
              ON true) AS head"""


def run_append_and_commit(
    session: Session,
    sql: str,
    params: Mapping[str, Any],
    record: Mapping[str, Any],
    written_if: str,
) -> Any:
    """PostgreSQL: run ``sql`` (one statement, bound on the client), take the append lock,
    chain ``record`` to the head in the database and COMMIT, all in one message; the
    statement's first row. The transaction is over when this returns.

    For a transaction whose only write is ``sql`` and its audit record (an approval over
    the API without an Idempotency-Key): the rows ``sql`` locks (the budget's) are then
    held for no round trip to the client at all, only for the server's own work. When
    ``written_if`` does not hold (``sql`` wrote nothing), nothing is inserted and the
    empty transaction commits. ``record``: the row's actor, action, object_type,
    object_id, payload, and ``before``/``after``, record_hash's text around occurred_at.
    """
    from psycopg import ClientCursor
    from psycopg.types.json import Jsonb

    bound = dict(params)
    bound |= {f"audit_{name}": value for name, value in record.items()}
    bound |= {"audit_payload": Jsonb(record["payload"]), "genesis": "0" * 64}
    append = f"{_APPEND_FROM_HEAD_SQL} WHERE {written_if}"
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver_errors(), ClientCursor(driver) as cursor:
        cursor.execute(
            f"{sql}; SELECT pg_advisory_xact_lock({_AUDIT_APPEND_LOCK:d}); {append}; COMMIT", bound
        )
        return cursor.fetchone()


def forget_held_link(session: Session) -> None:
    """The transaction ended: its lock, and the head read under it, are gone."""
    session.info.pop(_HELD, None)


def get_audit_link(session: Session) -> tuple[int, str] | None:
    """The head's ``seq`` and ``hash`` only: what the next record chains to."""
    row = session.execute(
        select(AuditLog.seq, AuditLog.hash).order_by(AuditLog.seq.desc()).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def add_audit_entry(session: Session, entry: AuditLog) -> AuditLog:
    return add_and_flush(session, entry)


_INSERT_SQL = (
    "INSERT INTO audit_log (seq, occurred_at, actor, action, object_type, object_id,"
    " payload, prev_hash, hash) VALUES "
)


def add_audit_entries(
    session: Session,
    entries: Sequence[Mapping[str, Any]],
    commit: bool = False,
    deferred: Sequence[tuple[str, Sequence[Any]]] = (),
) -> None:
    """Append entries (each an audit row's column values) in chain order.

    With ``commit`` (from the session's ``before_commit``, the transaction's other
    writes already flushed) on PostgreSQL, the INSERT and the COMMIT go in one round
    trip: the audit lock, and the budget's row lock of an
    approval, are then held for two round trips in all (this one and the lock's).
    SQLAlchemy's own COMMIT that follows finds no transaction open, which psycopg
    treats as nothing to do; an error of the COMMIT raises here and the session
    rolls back as for any failed commit. ``deferred`` writes (``defer_to_commit``) go
    first in the same message.
    """
    if not commit or session.get_bind().dialect.name != "postgresql":
        run_deferred(session, deferred)
        session.add_all([AuditLog(**values) for values in entries])
        session.flush()
        if entries and _HELD in session.info:
            session.info[_HELD] = (entries[-1]["seq"], entries[-1]["hash"])
        return
    from psycopg import ClientCursor
    from psycopg.types.json import Jsonb

    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(entries))
    params: list[Any] = [value for _, values in deferred for value in values]
    params += [
        value
        for e in entries
        for value in (
            e["seq"],
            e["occurred_at"],
            e["actor"],
            e["action"],
            e["object_type"],
            e["object_id"],
            Jsonb(e["payload"]),
            e["prev_hash"],
            e["hash"],
        )
    ]
    driver = session.connection().connection.driver_connection
    assert driver is not None
    # Client-side binding makes it one simple-protocol message: INSERT; COMMIT.
    with driver_errors(), ClientCursor(driver) as cursor:
        before = "".join(f"{sql}; " for sql, _ in deferred)
        cursor.execute(before + _INSERT_SQL + values + "; COMMIT", params)


def run_deferred(session: Session, deferred: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """The deferred writes on their own, in one message (a commit with no audit record)."""
    if not deferred:
        return
    from psycopg import ClientCursor

    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver_errors(), ClientCursor(driver) as cursor:
        cursor.execute(
            "; ".join(sql for sql, _ in deferred), [v for _, values in deferred for v in values]
        )


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
