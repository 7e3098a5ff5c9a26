"""Policy versions as loaded from the catalog, and the record of catalog loads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db.models import CatalogLoad, PolicyVersion
from app.db.repositories._base import add_and_flush

_POLICY_VERSION_KEY = ["policy_id", "version", "content_hash"]


def find_policy_version(
    session: Session, *, policy_id: str, version: str, content_hash: str
) -> PolicyVersion | None:
    stmt = select(PolicyVersion).where(
        PolicyVersion.policy_id == policy_id,
        PolicyVersion.version == version,
        PolicyVersion.content_hash == content_hash,
    )
    return session.scalars(stmt).one_or_none()


def get_policy_version(session: Session, policy_version_id: str) -> PolicyVersion | None:
    return session.get(PolicyVersion, policy_version_id)


def upsert_policy_version(
    session: Session,
    *,
    policy_id: str,
    version: str,
    content_hash: str,
    document: dict[str, Any],
) -> PolicyVersion:
    """Return the stored row for this exact content, inserting it the first time.

    Several workers start at once and load the same catalog: ``INSERT ... ON CONFLICT
    DO NOTHING`` lets them race without an IntegrityError (which on PostgreSQL would
    abort the whole transaction). An existing row is never updated: its ``document``
    is what earlier awards were computed from.
    """
    found = find_policy_version(
        session, policy_id=policy_id, version=version, content_hash=content_hash
    )
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(PolicyVersion).values(
        policy_id=policy_id, version=version, content_hash=content_hash, document=document
    )
    session.execute(stmt.on_conflict_do_nothing(index_elements=_POLICY_VERSION_KEY))
    stored = find_policy_version(
        session, policy_id=policy_id, version=version, content_hash=content_hash
    )
    if stored is None:  # cannot happen: we inserted it or a concurrent loader did
        raise RuntimeError(f"policy version {policy_id} {version} vanished after insert")
    return stored


def add_catalog_load(session: Session, load: CatalogLoad) -> CatalogLoad:
    return add_and_flush(session, load)


def latest_catalog_load(session: Session) -> CatalogLoad | None:
    stmt = select(CatalogLoad).order_by(CatalogLoad.loaded_at.desc(), CatalogLoad.id.desc())
    return session.scalars(stmt.limit(1)).first()
