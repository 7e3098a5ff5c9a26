"""Registering enterprises and keeping every version of their profiles."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.catalog.loader import Catalog, canonical_json, sha256
from app.catalog.places import Level
from app.db import repositories as repo
from app.db.models import Enterprise, ProfileVersion
from app.db.repositories.pagination import Page
from app.profile import EnterpriseProfile
from app.services import audit
from app.services.access import check_portal_place, scope_of
from app.services.actors import Actor
from app.services.errors import Conflict, Invalid, NotFound
from app.services.vocabulary import check_words


def _identity(enterprise: Enterprise, profile: EnterpriseProfile) -> None:
    location = profile.location
    enterprise.uscc = profile.uscc
    enterprise.name = profile.name
    enterprise.kind = profile.kind
    enterprise.province = location.province if location else None
    enterprise.city = location.city if location else None
    enterprise.district = location.district if location else None
    enterprise.park = location.park if location else None


def _check_uscc_free(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    uscc: str | None,
    enterprise_id: str | None = None,
) -> None:
    """409 if another enterprise holds the USCC. Its id is named only to a key that may
    see it: another tenant's enterprise stays as unknown as a 404 would keep it."""
    if uscc is None:
        return
    holder = repo.get_enterprise_by_uscc(session, uscc)
    if holder is None or holder.id == enterprise_id:
        return
    if scope_of(actor, catalog).sees_enterprise(holder):
        raise Conflict(
            f"an enterprise with USCC {uscc} is already registered: {holder.id}",
            errors=[{"pointer": "/uscc", "detail": f"already registered as {holder.id}"}],
            existing_id=holder.id,
        )
    raise Conflict(
        f"an enterprise with USCC {uscc} is already registered",
        errors=[{"pointer": "/uscc", "detail": "already registered"}],
    )


def _check_place(profile: EnterpriseProfile, catalog: Catalog, actor: Actor) -> None:
    """Known words and one consistent place (422), then inside a portal's area (403)."""
    check_words(profile, catalog)
    check_portal_place(actor, catalog, profile.location)


def _new_version(
    session: Session, enterprise: Enterprise, facts: dict[str, Any], actor: Actor
) -> ProfileVersion:
    version = repo.add_profile_version(
        session,
        ProfileVersion(
            enterprise_id=enterprise.id,
            version=enterprise.current_version,
            profile=facts,
            profile_hash=sha256(canonical_json(facts)),
            created_by=actor.label,
        ),
    )
    audit.record(
        session,
        actor=actor.label,
        action="profile.version_added",
        object_type="enterprise",
        object_id=enterprise.id,
        payload={"version": version.version, "profile_hash": version.profile_hash},
    )
    return version


def create_enterprise(
    session: Session, catalog: Catalog, profile: EnterpriseProfile, actor: Actor
) -> tuple[Enterprise, ProfileVersion]:
    _check_place(profile, catalog, actor)
    audit.serialize(session)
    _check_uscc_free(session, catalog, actor, profile.uscc)
    enterprise = Enterprise(current_version=1)
    _identity(enterprise, profile)
    repo.add_enterprise(session, enterprise)
    audit.record(
        session,
        actor=actor.label,
        action="enterprise.registered",
        object_type="enterprise",
        object_id=enterprise.id,
        payload={"uscc": enterprise.uscc, "name": enterprise.name},
    )
    return enterprise, _new_version(session, enterprise, profile.facts(), actor)


def update_enterprise(
    session: Session, catalog: Catalog, enterprise_id: str, profile: EnterpriseProfile, actor: Actor
) -> tuple[Enterprise, ProfileVersion]:
    """A new profile version; the earlier ones stay. An unchanged profile adds none."""
    _check_place(profile, catalog, actor)
    audit.serialize(session)
    enterprise = repo.lock_enterprise(session, enterprise_id)
    if enterprise is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    if enterprise.uscc is not None and profile.uscc != enterprise.uscc:
        raise Invalid(
            "the USCC identifies the enterprise and cannot change",
            errors=[{"pointer": "/uscc", "detail": f"must stay {enterprise.uscc}"}],
        )
    _check_uscc_free(session, catalog, actor, profile.uscc, enterprise.id)
    current = repo.get_profile_version(session, enterprise.id, enterprise.current_version)
    facts = profile.facts()
    if current is not None and current.profile_hash == sha256(canonical_json(facts)):
        return enterprise, current
    enterprise.current_version += 1
    _identity(enterprise, profile)
    session.flush()
    return enterprise, _new_version(session, enterprise, facts, actor)


def get_enterprise(
    session: Session, enterprise_id: str, version: int | None = None
) -> tuple[Enterprise, ProfileVersion]:
    enterprise = repo.get_enterprise(session, enterprise_id)
    if enterprise is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    wanted = version or enterprise.current_version
    profile = repo.get_profile_version(session, enterprise.id, wanted)
    if profile is None:
        raise NotFound(f"enterprise {enterprise_id} has no profile version {wanted}")
    return enterprise, profile


def list_enterprises(
    session: Session,
    actor: Actor,
    catalog: Catalog,
    *,
    district: str | None,
    city: str | None,
    kind: str | None,
    cursor: str | None,
    limit: int,
    search: str | None = None,
) -> Page[tuple[Enterprise, ProfileVersion]]:
    """A page of the enterprises the actor may see (the filters narrow it further)."""
    page = repo.list_enterprises(
        session,
        district=district,
        city=city,
        kind=kind,
        search=search,
        cursor=cursor,
        limit=limit,
        **scope_of(actor, catalog).list_filter(),
    )
    items = []
    for enterprise in page.items:
        profile = repo.get_profile_version(session, enterprise.id, enterprise.current_version)
        assert profile is not None
        items.append((enterprise, profile))
    return Page(items=items, next_cursor=page.next_cursor)


def misplaced(session: Session, catalog: Catalog) -> list[tuple[dict[Level, str | None], int]]:
    """Stored locations whose levels the catalog does not put on one path, with counts.

    Rows written before locations were checked (or before the catalog moved a place)
    may hold one. No portal reaches such an enterprise (a portal's area needs every
    level to agree), so nothing is exposed; an admin corrects it with a PUT.
    """
    return [
        (location, count)
        for location, count in repo.count_enterprises_by_place(session)
        if catalog.places.resolve(location)[1]
    ]


def enterprise_json(enterprise: Enterprise, profile: ProfileVersion) -> dict[str, Any]:
    return {
        "id": enterprise.id,
        "uscc": enterprise.uscc,
        "name": enterprise.name,
        "kind": enterprise.kind,
        "location": {
            "province": enterprise.province,
            "city": enterprise.city,
            "district": enterprise.district,
            "park": enterprise.park,
        },
        "version": profile.version,
        "profile": profile.profile,
        "created_at": enterprise.created_at,
        "updated_at": enterprise.updated_at,
    }
