"""API keys and idempotency records (the request-level bookkeeping of the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db.models import ApiKey, IdempotencyRecord, new_id
from app.db.repositories import plain_pg
from app.db.repositories._base import add_and_flush, defer_to_commit
from app.db.repositories.plain_pg import LiveKey
from app.db.types import utcnow


def add_api_key(session: Session, api_key: ApiKey) -> ApiKey:
    return add_and_flush(session, api_key)


def get_api_key(session: Session, api_key_id: str) -> ApiKey | None:
    return session.get(ApiKey, api_key_id)


# Built once: every authenticated request runs it.
_BY_PREFIX = select(ApiKey).where(ApiKey.prefix == bindparam("prefix"))


def get_api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    """The key whose public prefix is ``prefix`` (revoked or not: the caller decides)."""
    return session.scalars(_BY_PREFIX, {"prefix": prefix}).one_or_none()


_KEYS = cast(Table, ApiKey.__table__).c
# Every authenticated request runs it: a Core query of the columns that name the
# caller, which costs less than loading an ApiKey into the session.
_LIVE_BY_PREFIX = select(
    _KEYS.id,
    _KEYS.prefix,
    _KEYS.secret_hash,
    _KEYS.role,
    _KEYS.enterprise_id,
    _KEYS.jurisdiction,
    _KEYS.label,
).where(_KEYS.prefix == bindparam("prefix"), _KEYS.revoked_at.is_(None))


def live_key_by_prefix(session: Session, prefix: str) -> LiveKey | None:
    """The unrevoked key whose public prefix is ``prefix``: a row with ``ApiKey``'s
    column names (not the revocation time, which is NULL), read on every request
    (on PostgreSQL as a plain psycopg query, see ``plain_pg``)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return plain_pg.live_key_by_prefix(session, prefix)
    row = connection.execute(_LIVE_BY_PREFIX, {"prefix": prefix}).one_or_none()
    return None if row is None else LiveKey(*row)


def add_idempotency_record(session: Session, record: IdempotencyRecord) -> IdempotencyRecord:
    """Claim an idempotency key; a second claim of the same (api key, key) raises
    ``IntegrityError``, which is how a concurrent duplicate request is detected."""
    return add_and_flush(session, record)


def get_idempotency_record(session: Session, api_key_id: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
    )
    return session.scalars(stmt).one_or_none()


_RECORDS = cast(Table, IdempotencyRecord.__table__)


def _claim(insert: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, built once per dialect: built per
    request, the statement's cache key cost more CPU than the database's insert."""
    columns = ("id", "api_key_id", "key", "method", "path", "request_hash", "created_at")
    return (
        insert(_RECORDS)
        .values({name: bindparam(name, type_=_RECORDS.c[name].type) for name in columns})
        .on_conflict_do_nothing(index_elements=["api_key_id", "key"])
        .returning(_RECORDS.c.id)
    )


_CLAIM = {"postgresql": _claim(postgresql.insert), "sqlite": _claim(sqlite.insert)}


def claim_idempotency_key(session: Session, record: IdempotencyRecord) -> bool:
    """Insert the record unless (api key, key) is taken; ``True`` if this call claimed it.

    On PostgreSQL a concurrent claim of the same key waits here until the first
    transaction ends, then finds its committed record: exactly one request runs.
    """
    connection = session.connection()
    params = {
        "id": new_id(),
        "api_key_id": record.api_key_id,
        "key": record.key,
        "method": record.method,
        "path": record.path,
        "request_hash": record.request_hash,
        "created_at": utcnow(),
    }
    return connection.execute(_CLAIM[connection.dialect.name], params).first() is not None


def complete_idempotency_record(
    session: Session, api_key_id: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    """Store the response with the claimed key; on PostgreSQL it travels with the COMMIT."""
    if session.get_bind().dialect.name == "postgresql":
        from psycopg.types.json import Jsonb

        defer_to_commit(
            session,
            "UPDATE idempotency_records SET status_code = %s, response_body = %s"
            " WHERE api_key_id = %s AND key = %s",
            (status_code, Jsonb(body), api_key_id, key),
        )
        return
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key)
        .values(status_code=status_code, response_body=body)
    )


def purge_idempotency_records(session: Session, older_than: datetime) -> int:
    result = session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.created_at < older_than)
        .returning(IdempotencyRecord.id)
    )
    return len(result.all())
