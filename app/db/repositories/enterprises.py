"""Enterprises and the versions of their profiles."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, cast

from sqlalchemy import ARRAY, String, Table, and_, any_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from app.catalog.places import Area, Level
from app.db.bulk_load import Write, loading
from app.db.models import Enterprise, ProfileVersion
from app.db.projection import bulk_insert, write_projection
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
ARRAY_CHUNK = 20_000  # codes per array on PostgreSQL


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

    One query per ``BULK_CHUNK`` codes, not one per enterprise; on PostgreSQL one per
    ``ARRAY_CHUNK``, the codes bound as one array (``= ANY``): a thousand separate
    parameters cost more to render and send than the query takes to answer.
    """
    wanted = list(dict.fromkeys(usccs))
    found: dict[str, CurrentProfile] = {}
    current = and_(
        ProfileVersion.enterprise_id == Enterprise.id,
        ProfileVersion.version == Enterprise.current_version,
    )
    stmt = select(
        Enterprise.id,
        Enterprise.uscc,
        Enterprise.current_version,
        Enterprise.province,
        Enterprise.city,
        Enterprise.district,
        Enterprise.park,
        ProfileVersion.profile_hash,
    ).outerjoin(ProfileVersion, current)
    if session.get_bind().dialect.name == "postgresql":
        codes = bindparam("codes", type_=ARRAY(String))
        stmt, size = stmt.where(Enterprise.uscc == any_(codes)), ARRAY_CHUNK
    else:
        stmt, size = stmt.where(Enterprise.uscc.in_(bindparam("codes", expanding=True))), BULK_CHUNK
    for start in range(0, len(wanted), size):
        for row in session.execute(stmt, {"codes": wanted[start : start + size]}):
            found[row[1] or ""] = CurrentProfile._make(row)  # never empty: it matched a code
    return found


#: What identifies an enterprise and where it is: its columns set from a profile.
IDENTITY = ("uscc", "name", "kind", "province", "city", "district", "park")
#: The columns of an enterprise as ``loading_enterprises`` takes them.
ENTERPRISE_COLUMNS = ("id", *IDENTITY, "current_version", "created_at", "updated_at")
#: The columns of a profile version as ``loading_profile_versions`` takes them.
VERSION_COLUMNS = (
    "id",
    "enterprise_id",
    "version",
    "profile",
    "profile_hash",
    "created_at",
    "created_by",
)


@contextmanager
def loading_enterprises(session: Session) -> Iterator[Write]:
    """A writer of new enterprises, tuples in ``ENTERPRISE_COLUMNS`` order (``app.db.bulk_load``).
    A duplicate USCC fails the transaction with ``IntegrityError`` as ``add_enterprise`` would."""
    table = cast(Table, Enterprise.__table__)
    with loading(session.connection(), table, ENTERPRISE_COLUMNS) as write:
        yield write


@contextmanager
def loading_profile_versions(session: Session) -> Iterator[Write]:
    """A writer of profile versions, tuples in ``VERSION_COLUMNS`` order with the profile
    as its JSON text. (enterprise, version) stays unique as for one. Each version written
    this way must become its enterprise's current one, and the caller writes their
    projection (``app.db.projection``) in the same transaction."""
    table = cast(Table, ProfileVersion.__table__)
    with loading(session.connection(), table, VERSION_COLUMNS, as_stored=("profile",)) as write:
        yield write


def insert_enterprises(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert enterprises in bulk. Each row carries every column, ``id`` included, and
    every row the same keys; a duplicate USCC raises ``IntegrityError`` like ``add_enterprise``."""
    bulk_insert(session.connection(), cast(Table, Enterprise.__table__), rows)


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
    if not rows:
        return
    texts = profile_texts or [json.dumps(row["profile"]) for row in rows]
    with loading_profile_versions(session) as write:
        write(
            [
                tuple(text if c == "profile" else row[c] for c in VERSION_COLUMNS)
                for row, text in zip(rows, texts, strict=True)
            ]
        )
    first = [(row["enterprise_id"], row["profile"]) for row in rows if row["version"] == 1]
    later = [(row["enterprise_id"], row["profile"]) for row in rows if row["version"] != 1]
    write_projection(session, first, new=True)  # a first version has nothing to replace
    write_projection(session, later)
