"""Registering enterprises and keeping every version of their profiles."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog, canonical_json, sha256
from app.db import repositories as repo
from app.db.models import Enterprise, ProfileVersion
from app.db.repositories.pagination import Page
from app.services import audit
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


def _check_uscc_free(session: Session, uscc: str | None, enterprise_id: str | None = None) -> None:
    if uscc is None:
        return
    holder = repo.get_enterprise_by_uscc(session, uscc)
    if holder is not None and holder.id != enterprise_id:
        raise Conflict(
            f"an enterprise with USCC {uscc} is already registered: {holder.id}",
            errors=[{"pointer": "/uscc", "detail": f"already registered as {holder.id}"}],
            existing_id=holder.id,
        )


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
    check_words(profile, catalog)
    audit.serialize(session)
    _check_uscc_free(session, profile.uscc)
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
    check_words(profile, catalog)
    audit.serialize(session)
    enterprise = repo.lock_enterprise(session, enterprise_id)
    if enterprise is None:
        raise NotFound(f"no enterprise {enterprise_id}")
    if enterprise.uscc is not None and profile.uscc != enterprise.uscc:
        raise Invalid(
            "the USCC identifies the enterprise and cannot change",
            errors=[{"pointer": "/uscc", "detail": f"must stay {enterprise.uscc}"}],
        )
    _check_uscc_free(session, profile.uscc, enterprise.id)
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


def _confine(
    actor: Actor, catalog: Catalog, city: str | None, district: str | None
) -> tuple[str | None, str | None, str | None] | None:
    """(city, district, park) filters narrowed to a portal's area; None if nothing can match."""
    j = actor.jurisdiction
    if actor.role != "portal" or j is None:
        return city, district, None
    if j in catalog.words["city"]:
        return (j, district, None) if city in (None, j) else None
    if j in catalog.words["district"]:
        return (city, j, None) if district in (None, j) else None
    return city, district, j


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
) -> Page[tuple[Enterprise, ProfileVersion]]:
    """A page of the enterprises the actor may see."""
    if actor.role == "enterprise":
        own = repo.get_enterprise(session, actor.enterprise_id or "")
        if own is None or cursor is not None:
            return Page(items=[], next_cursor=None)
        version = repo.get_profile_version(session, own.id, own.current_version)
        assert version is not None
        return Page(items=[(own, version)], next_cursor=None)
    confined = _confine(actor, catalog, city, district)
    if confined is None:
        return Page(items=[], next_cursor=None)
    city, district, park = confined
    page = repo.list_enterprises(
        session, district=district, city=city, kind=kind, park=park, cursor=cursor, limit=limit
    )
    items = []
    for enterprise in page.items:
        profile = repo.get_profile_version(session, enterprise.id, enterprise.current_version)
        assert profile is not None
        items.append((enterprise, profile))
    return Page(items=items, next_cursor=page.next_cursor)


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
