"""Enterprises and the versions of their profiles."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import JSON, Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.catalog.places import Area, Level
from app.db.models import Enterprise, ProfileVersion
from app.db.projection import bulk_insert, executemany, write_projection
from app.db.repositories._base import add_and_flush, lock_by_id
from app.db.repositories.areas import enterprise_in
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
    area: Area | None = None,
    enterprise_id: str | None = None,
    search: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    newest_first: bool = False,
) -> Page[Enterprise]:
    """Enterprises matching every given filter; ``area`` confines them to a portal's.
    ``search`` is part of the name (any case) or the whole USCC."""
    stmt = select(Enterprise)
    if search:
        # The text is a value, never a pattern: its own % and _ match only themselves.
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            or_(
                Enterprise.name.ilike(f"%{escaped}%", escape="\\"),
                Enterprise.uscc == search.upper(),
            )
        )
    if area is not None:
        stmt = stmt.where(enterprise_in(area))
    if enterprise_id is not None:
        stmt = stmt.where(Enterprise.id == enterprise_id)
    if district is not None:
        stmt = stmt.where(Enterprise.district == district)
    if city is not None:
        stmt = stmt.where(Enterprise.city == city)
    if kind is not None:
        stmt = stmt.where(Enterprise.kind == kind)
    return paginate(
        session,
        stmt,
        Enterprise.created_at,
        Enterprise.id,
        cursor=cursor,
        limit=limit,
        newest_first=newest_first,
    )


def count_enterprises_by_place(session: Session) -> list[tuple[dict[Level, str | None], int]]:
    """Each distinct (province, city, district, park) of the stored enterprises, with how
    many enterprises have it (a few hundred rows however many enterprises there are)."""
    columns = (Enterprise.province, Enterprise.city, Enterprise.district, Enterprise.park)
    stmt = select(*columns, func.count()).group_by(*columns)
    return [
        ({"province": p, "city": c, "district": d, "park": k}, n)
        for p, c, d, k, n in session.execute(stmt)
    ]


def add_profile_version(session: Session, profile_version: ProfileVersion) -> ProfileVersion:
    """Add a version (it becomes the enterprise's current one) and its facts' projection."""
    added = add_and_flush(session, profile_version)
    write_projection(session, [(added.enterprise_id, added.profile)])
    return added


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


# ---------------------------------------------------------------- bulk import

BULK_CHUNK = 1000  # codes per IN (...), and rows per call from the import


class CurrentProfile(NamedTuple):
    """What an import needs to know of a stored enterprise: where it is, its version."""

    enterprise_id: str
    uscc: str
    current_version: int
    province: str | None
    city: str | None
    district: str | None
    park: str | None
    profile_hash: str | None  # of the current version (None only if it is missing)


def current_profiles_by_uscc(session: Session, usccs: Iterable[str]) -> dict[str, CurrentProfile]:
    """The stored enterprises among ``usccs`` with their current profile hash, by USCC.

    One query per ``BULK_CHUNK`` codes, not one per enterprise.
    """
    wanted = list(dict.fromkeys(usccs))
    found: dict[str, CurrentProfile] = {}
    current = and_(
        ProfileVersion.enterprise_id == Enterprise.id,
        ProfileVersion.version == Enterprise.current_version,
    )
    for start in range(0, len(wanted), BULK_CHUNK):
        stmt = (
            select(
                Enterprise.id,
                Enterprise.uscc,
                Enterprise.current_version,
                Enterprise.province,
                Enterprise.city,
                Enterprise.district,
                Enterprise.park,
                ProfileVersion.profile_hash,
            )
            .outerjoin(ProfileVersion, current)
            .where(Enterprise.uscc.in_(wanted[start : start + BULK_CHUNK]))
        )
        for row in session.execute(stmt):
            uscc = row.uscc or ""  # never empty here: it matched one of `usccs`
            found[uscc] = CurrentProfile(
                row.id,
                uscc,
                row.current_version,
                row.province,
                row.city,
                row.district,
                row.park,
                row.profile_hash,
            )
    return found


def _insert_many(
    session: Session,
    model: type[Enterprise | ProfileVersion],
    rows: Sequence[Mapping[str, Any]],
    json_texts: Sequence[str] | None = None,
) -> None:
    """Insert many rows (each with the same keys, one per column) in few round trips.

    PostgreSQL: ``COPY … FROM STDIN`` in the session's transaction, JSON columns sent as
    text (``json_texts``: the row's one JSON document already serialised, as an import
    has it from hashing). SQLite: one prepared INSERT run over all rows.
    """
    if not rows:
        return
    table = cast(Table, model.__table__)
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        executemany(connection, table, rows)
        return
    json_columns = [c.name for c in table.columns if isinstance(c.type, JSON) and c.name in rows[0]]
    if json_columns:
        texts = json_texts
        if texts is None or len(json_columns) != 1:
            texts = None
        rows = [
            {
                **row,
                **{c: texts[i] if texts is not None else json.dumps(row[c]) for c in json_columns},
            }
            for i, row in enumerate(rows)
        ]
    bulk_insert(connection, table, rows)


def insert_enterprises(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert enterprises in bulk. Each row carries every column, ``id`` included, and
    every row the same keys; a duplicate USCC raises ``IntegrityError`` like ``add_enterprise``."""
    _insert_many(session, Enterprise, rows)


def update_enterprises(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update enterprises in bulk by primary key: each row has ``id`` and the columns to set."""
    if rows:
        session.execute(update(Enterprise), list(rows))


def insert_profile_versions(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    profile_texts: Sequence[str] | None = None,
) -> None:
    """Insert profile versions in bulk (rows as for ``insert_enterprises``);
    (enterprise, version) stays unique as for one. Each becomes its enterprise's current
    version: the projection of its facts is replaced in the same transaction.
    ``profile_texts``: each row's profile as JSON text, if the caller has it."""
    _insert_many(session, ProfileVersion, rows, profile_texts)
    first = [(row["enterprise_id"], row["profile"]) for row in rows if row["version"] == 1]
    later = [(row["enterprise_id"], row["profile"]) for row in rows if row["version"] != 1]
    write_projection(session, first, new=True)  # a first version has nothing to replace
    write_projection(session, later)
