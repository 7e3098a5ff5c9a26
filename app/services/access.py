"""Who may see and change what: the one place that decides a tenant's scope.

- admin (and the service itself): everything;
- auditor: reads everything, writes nothing (403);
- portal: acts for one place of the catalog's tree (a city, a district or a park) and
  everything beneath it, its area. An enterprise is in the area when *every* level of
  its location lies on the path through that place (``app.catalog.places.Area``), so
  a location naming Nanjing as its city and Hongshan as its district belongs to
  neither city. Budgets: those whose payer is the place or beneath it. Matching runs
  and simulations: those whose area lies within the portal's;
- enterprise: its own enterprise, entitlements, gaps and awards.

An object outside the scope answers 404, exactly as a missing one, so a key cannot
even learn that it exists; a role that may not do something at all answers 403.
Every route and use case asks here; the repositories run ``Area.contains`` as SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from app.catalog.loader import Catalog
from app.catalog.places import Area, Level, location_of
from app.db.models import Enterprise, MatchingRun
from app.services.actors import Actor
from app.services.errors import Forbidden, NotFound


def require_writer(actor: Actor, *roles: str) -> None:
    allowed = roles or ("admin", "portal")
    if actor.role not in (*allowed, "system"):
        raise Forbidden(f"a {actor.role} key cannot do this; it needs one of: {', '.join(allowed)}")


def require_reader(actor: Actor, *roles: str) -> None:
    if actor.role not in (*roles, "admin", "system"):
        raise Forbidden(f"a {actor.role} key cannot read this")


class Place(Protocol):
    """Where an enterprise is: its four levels (an ``Enterprise``, or a row of them)."""

    @property
    def province(self) -> str | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def district(self) -> str | None: ...
    @property
    def park(self) -> str | None: ...


class Located(Place, Protocol):
    """An enterprise as the access checks need it: an ``Enterprise``, or the row of
    those columns that an award's transition reads with the award."""

    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class Scope:
    """What one key reaches: everything, one enterprise, or a portal's area."""

    everything: bool = False
    enterprise_id: str | None = None
    area: Area | None = None

    def sees_location(self, location: Mapping[Level, str | None]) -> bool:
        """A portal (or admin) may put an enterprise at this location."""
        return self.everything or (self.area is not None and self.area.contains(location))

    def sees_enterprise(self, enterprise: Located) -> bool:
        if self.enterprise_id is not None:
            return enterprise.id == self.enterprise_id
        return self.sees_location(location_of(enterprise))

    def reaches_place(self, slug: str | None) -> bool:
        """The place (a budget's payer, a run's area) is this portal's or beneath it."""
        if self.everything:
            return True
        return slug is not None and self.area is not None and slug in self.area.places

    def list_filter(self) -> dict[str, Any]:
        """Keyword filters that confine a repository's list to this scope."""
        if self.everything:
            return {}
        if self.area is not None:
            return {"area": self.area}
        # An enterprise key (or a key that reaches nothing): its own id, or none.
        return {"enterprise_id": self.enterprise_id or "-"}


def scope_of(actor: Actor, catalog: Catalog) -> Scope:
    if actor.role in ("admin", "auditor", "system"):
        return Scope(everything=True)
    if actor.role == "portal":
        area = catalog.places.area(actor.jurisdiction or "")
        if area is None:
            # Fail closed: a key whose place left the catalog reaches nothing at all.
            raise Forbidden(
                f"this portal key acts for `{actor.jurisdiction}`, which is not a place of "
                "the catalog: issue a new key for a city, district or park"
            )
        return Scope(area=area)
    return Scope(enterprise_id=actor.enterprise_id or "-")


def can_see_enterprise(actor: Actor, catalog: Catalog, enterprise: Located) -> bool:
    return scope_of(actor, catalog).sees_enterprise(enterprise)


def check_enterprise(
    actor: Actor, catalog: Catalog, enterprise: Enterprise | None, enterprise_id: str
) -> Enterprise:
    """The enterprise if this actor may see it; 404 otherwise (never 403: no leaks)."""
    if enterprise is None or not can_see_enterprise(actor, catalog, enterprise):
        raise NotFound(f"no enterprise {enterprise_id}")
    return enterprise


AwardT = TypeVar("AwardT")


def check_award(
    actor: Actor,
    catalog: Catalog,
    award: AwardT | None,
    enterprise: Located | None,
    award_id: str,
) -> AwardT:
    """The award if this actor may see its enterprise; 404 otherwise."""
    if award is None or enterprise is None or not can_see_enterprise(actor, catalog, enterprise):
        raise NotFound(f"no award {award_id}")
    return award


def check_portal_place(actor: Actor, catalog: Catalog, location: Any) -> None:
    """A portal may register or move an enterprise only into its own area.

    ``location`` is already known to name one place (``check_words``)."""
    if actor.role == "portal" and not scope_of(actor, catalog).sees_location(location_of(location)):
        raise Forbidden(
            f"this portal acts for {actor.jurisdiction}; the profile's location is outside it"
        )


def can_use_budget(actor: Actor, catalog: Catalog, payer_jurisdiction: str | None) -> bool:
    """Spending (approve, disburse, revoke) from the payer's budget: admin, or a portal
    whose area holds the payer."""
    if actor.role in ("admin", "system"):
        return True
    if actor.role != "portal" or payer_jurisdiction is None:
        return False
    return scope_of(actor, catalog).reaches_place(payer_jurisdiction)


def run_place(run: MatchingRun) -> str | None:
    """The place a run covers (None: every stored enterprise)."""
    area = run.parameters.get("area") or {}
    return next(iter(area.values()), None)


def check_run(
    actor: Actor, catalog: Catalog, run: MatchingRun | None, run_id: str, kind: str
) -> MatchingRun:
    """A matching run or simulation the actor may read: a portal, one whose area lies
    within its own (a run over every enterprise is for admins and auditors); 404 otherwise."""
    require_reader(actor, "auditor", "portal")
    scope = scope_of(actor, catalog)
    if run is None or run.parameters.get("kind") != kind or not scope.reaches_place(run_place(run)):
        raise NotFound(f"no {kind} run {run_id}")
    return run


def shown_actor(viewer: Actor, recorded: str) -> str:
    """How a recorded actor (``role:label#prefix``) is shown to ``viewer``: an enterprise
    key sees only the role that acted, never another key's label or prefix."""
    if viewer.role == "enterprise":
        return recorded.split(":", 1)[0]
    return recorded


def hide_labels(viewer: Actor, value: Any, recorded: Iterable[str]) -> Any:
    """``value`` (a JSON document) with each of the ``recorded`` actors shown as
    ``shown_actor`` shows it to ``viewer``, wherever the document names them (a
    reviewer's label in a finding, and in the reasons that quote it)."""
    # Longest first, so that no label is replaced inside a longer one.
    hidden = [
        (label, shown)
        for label in sorted(set(recorded), key=len, reverse=True)
        if (shown := shown_actor(viewer, label)) != label
    ]
    if not hidden:
        return value

    def scrub(item: Any) -> Any:
        if isinstance(item, str):
            for label, shown in hidden:
                item = item.replace(label, shown)
            return item
        if isinstance(item, dict):
            return {k: scrub(v) for k, v in item.items()}
        if isinstance(item, list):
            return [scrub(v) for v in item]
        return item

    return scrub(value)
