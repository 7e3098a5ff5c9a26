"""Enterprises and the versions of their profiles."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Enterprise, ProfileVersion
from app.db.repositories._base import add_and_flush, lock_by_id
from app.db.repositories.pagination import DEFAULT_PAGE_SIZE, Page, paginate


def add_enterprise(session: Session, enterprise: Enterprise) -> Enterprise:
    return add_and_flush(session, enterprise)


def get_enterprise(session: Session, enterprise_id: str) -> Enterprise | None:
    return session.get(Enterprise, enterprise_id)


def get_enterprise_by_uscc(session: Session, uscc: str) -> Enterprise | None:
    return session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one_or_none()


def lock_enterprise(session: Session, enterprise_id: str) -> Enterprise | None:
    """Lock the enterprise row, e.g. before writing its next profile version."""
    return lock_by_id(session, Enterprise, enterprise_id)


def list_enterprises(
    session: Session,
    *,
    district: str | None = None,
    city: str | None = None,
    kind: str | None = None,
    park: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    newest_first: bool = False,
) -> Page[Enterprise]:
    stmt = select(Enterprise)
    if district is not None:
        stmt = stmt.where(Enterprise.district == district)
    if city is not None:
        stmt = stmt.where(Enterprise.city == city)
    if kind is not None:
        stmt = stmt.where(Enterprise.kind == kind)
    if park is not None:
        stmt = stmt.where(Enterprise.park == park)
    return paginate(
        session,
        stmt,
        Enterprise.created_at,
        Enterprise.id,
        cursor=cursor,
        limit=limit,
        newest_first=newest_first,
    )


def add_profile_version(session: Session, profile_version: ProfileVersion) -> ProfileVersion:
    return add_and_flush(session, profile_version)


def get_profile_version(
    session: Session, enterprise_id: str, version: int
) -> ProfileVersion | None:
    stmt = select(ProfileVersion).where(
        ProfileVersion.enterprise_id == enterprise_id, ProfileVersion.version == version
    )
    return session.scalars(stmt).one_or_none()


def get_profile_version_by_id(session: Session, profile_version_id: str) -> ProfileVersion | None:
    return session.get(ProfileVersion, profile_version_id)


def get_latest_profile_version(session: Session, enterprise_id: str) -> ProfileVersion | None:
    stmt = (
        select(ProfileVersion)
        .where(ProfileVersion.enterprise_id == enterprise_id)
        .order_by(ProfileVersion.version.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def list_profile_versions(session: Session, enterprise_id: str) -> Sequence[ProfileVersion]:
    """Every version of the enterprise's profile, oldest first."""
    stmt = (
        select(ProfileVersion)
        .where(ProfileVersion.enterprise_id == enterprise_id)
        .order_by(ProfileVersion.version)
    )
    return session.scalars(stmt).all()


def get_enterprises(session: Session, ids: Collection[str]) -> Sequence[Enterprise]:
    """Several enterprises at once (for exports), in no particular order."""
    if not ids:
        return []
    return session.scalars(select(Enterprise).where(Enterprise.id.in_(list(ids)))).all()
