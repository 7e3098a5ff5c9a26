"""Who may see and change what.

- admin: everything;
- auditor: reads everything, writes nothing (403);
- portal: acts for enterprises in its jurisdiction (a city or a district) and on the
  budgets paid from it; a city portal also reaches its districts;
- enterprise: reads its own enterprise, entitlements and awards. Anything else answers
  404, so a key cannot even learn that another enterprise's object exists.
"""

from __future__ import annotations

from app.catalog.loader import Catalog
from app.db.models import Award, Enterprise
from app.services.actors import Actor
from app.services.errors import Forbidden, NotFound


def require_writer(actor: Actor, *roles: str) -> None:
    allowed = roles or ("admin", "portal")
    if actor.role not in (*allowed, "system"):
        raise Forbidden(f"a {actor.role} key cannot do this; it needs one of: {', '.join(allowed)}")


def require_reader(actor: Actor, *roles: str) -> None:
    if actor.role not in (*roles, "admin", "system"):
        raise Forbidden(f"a {actor.role} key cannot read this")


def portal_reaches(
    actor: Actor, *, city: str | None, district: str | None, park: str | None = None
) -> bool:
    j = actor.jurisdiction
    return j is not None and j in (city, district, park)


def can_see_enterprise(actor: Actor, enterprise: Enterprise) -> bool:
    if actor.role in ("admin", "auditor", "system"):
        return True
    if actor.role == "enterprise":
        return actor.enterprise_id == enterprise.id
    return portal_reaches(
        actor, city=enterprise.city, district=enterprise.district, park=enterprise.park
    )


def check_enterprise(actor: Actor, enterprise: Enterprise | None, enterprise_id: str) -> Enterprise:
    """The enterprise if this actor may see it; 404 otherwise (never 403: no leaks)."""
    if enterprise is None or not can_see_enterprise(actor, enterprise):
        raise NotFound(f"no enterprise {enterprise_id}")
    return enterprise


def check_award(
    actor: Actor, award: Award | None, enterprise: Enterprise | None, award_id: str
) -> Award:
    if award is None or enterprise is None or not can_see_enterprise(actor, enterprise):
        raise NotFound(f"no award {award_id}")
    return award


def check_portal_place(
    actor: Actor,
    catalog: Catalog,
    *,
    city: str | None,
    district: str | None,
    park: str | None = None,
) -> None:
    """A portal may register or move an enterprise only into its own jurisdiction."""
    if actor.role == "portal" and not portal_reaches(
        actor, city=city, district=district, park=park
    ):
        raise Forbidden(
            f"this portal acts for {actor.jurisdiction}; the profile's location is outside it"
        )


def can_use_budget(actor: Actor, payer_jurisdiction: str | None, catalog: Catalog) -> bool:
    if actor.role in ("admin", "system"):
        return True
    if actor.role != "portal" or actor.jurisdiction is None or payer_jurisdiction is None:
        return False
    if payer_jurisdiction == actor.jurisdiction:
        return True
    # A city portal also reaches the budgets of its districts and parks.
    return payer_jurisdiction in _places_within(catalog, actor.jurisdiction)


def _places_within(catalog: Catalog, city: str) -> set[str]:
    places: set[str] = set()
    for province in catalog.vocabulary.places:
        for c in province.cities:
            if c.value == city:
                for d in c.districts:
                    places.add(d.value)
                    places.update(p.value for p in d.parks)
    return places


def enterprise_scope(actor: Actor) -> dict[str, str | None]:
    """Filters that confine a list to what the actor may see."""
    if actor.role == "enterprise":
        return {"enterprise_id": actor.enterprise_id or "-"}
    if actor.role == "portal":
        return {"jurisdiction": actor.jurisdiction or "-"}
    return {}
