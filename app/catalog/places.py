"""The vocabulary's places as one tree: province ⊃ city ⊃ district ⊃ park.

A location names up to four levels, and they must lie on one path of the tree:
Hongshan is a district of Wuhan, so ``{city: nanjing, district: hongshan}`` names no
place at all. ``Places.resolve`` says which level disagrees and how to fix it.

A portal acts for one place and everything beneath it, its ``Area``. Whether a
location is inside an area is decided by every level the location names, never by
any one of them (``Area.contains``); the repositories run the same test in SQL.

Slugs are unique across the whole tree (the loader refuses a repeated one), so a
slug alone, as an API key's jurisdiction or a budget's payer, names one place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from app.catalog.vocabulary import Province

Level = Literal["province", "city", "district", "park"]
LEVELS: tuple[Level, ...] = ("province", "city", "district", "park")


@dataclass(frozen=True)
class Place:
    slug: str
    level: Level
    #: The slugs from the province down to this place, this one included.
    path: tuple[str, ...]

    def at(self, level: Level) -> str | None:
        """This place's ancestor (or itself) at ``level``; None below this place."""
        depth = LEVELS.index(level)
        return self.path[depth] if depth < len(self.path) else None


@dataclass(frozen=True)
class PlaceProblem:
    level: Level
    detail: str


@dataclass(frozen=True)
class Area:
    """A place and everything beneath it.

    ``allowed`` gives, per level, the values a location inside the area may hold at
    that level: the place's own ancestors above it, the place itself at its level,
    the places beneath it below. A location is inside when every level it names is
    allowed and it names at least one level at or below the place's own (a location
    that stops above, such as only "jiangsu", could be anywhere in the province).
    """

    place: Place
    allowed: Mapping[Level, frozenset[str]]
    #: The place itself and every place beneath it (budget payers, matching runs).
    places: frozenset[str]

    @property
    def pinning(self) -> tuple[Level, ...]:
        """The levels of which a location inside the area names at least one."""
        return LEVELS[LEVELS.index(self.place.level) :]

    def contains(self, location: Mapping[Level, str | None]) -> bool:
        if any(
            location.get(level) is not None and location.get(level) not in self.allowed[level]
            for level in LEVELS
        ):
            return False
        return any(location.get(level) is not None for level in self.pinning)


def location_of(thing: object) -> dict[Level, str | None]:
    """The four place levels of anything that has them as attributes (a row, a schema)."""
    return {level: getattr(thing, level, None) for level in LEVELS}


class Places:
    """Look-ups over the place tree of ``facts.yaml``."""

    def __init__(self, provinces: Sequence[Province]) -> None:
        self._by_slug: dict[str, Place] = {}
        #: Slugs used by more than one place (the loader turns them into problems).
        self.duplicates: list[str] = []
        for province in provinces:
            self._add(province.value, "province", ())
            for city in province.cities:
                self._add(city.value, "city", (province.value,))
                for district in city.districts:
                    self._add(district.value, "district", (province.value, city.value))
                    for park in district.parks:
                        self._add(park.value, "park", (province.value, city.value, district.value))
        # Every place's descendants by level, for areas and for the fixes in messages.
        self._beneath: dict[str, dict[Level, set[str]]] = defaultdict(lambda: defaultdict(set))
        for place in self._by_slug.values():
            for ancestor in place.path[:-1]:
                self._beneath[ancestor][place.level].add(place.slug)
        self._areas: dict[str, Area] = {}

    def _add(self, slug: str, level: Level, above: tuple[str, ...]) -> None:
        if slug in self._by_slug:
            self.duplicates.append(slug)
            return
        self._by_slug[slug] = Place(slug, level, (*above, slug))

    def get(self, slug: str | None) -> Place | None:
        return self._by_slug.get(slug) if slug is not None else None

    def beneath(self, slug: str, level: Level) -> frozenset[str]:
        """The places at ``level`` beneath ``slug`` (empty if none, or if it is not above)."""
        return frozenset(self._beneath.get(slug, {}).get(level, ()))

    def resolve(
        self, location: Mapping[Level, str | None]
    ) -> tuple[Place | None, list[PlaceProblem]]:
        """The deepest place a location names, if its levels lie on one path; else the
        problems, each at the lower level of a pair that disagrees, with the fix."""
        named: list[Place] = []
        problems: list[PlaceProblem] = []
        for level in LEVELS:
            slug = location.get(level)
            if slug is None:
                continue
            place = self._by_slug.get(slug)
            if place is None or place.level != level:
                problems.append(PlaceProblem(level, f"`{slug}` is not a known {level}"))
            else:
                named.append(place)
        if problems:
            return None, problems
        for upper, lower in pairwise(named):
            actual = lower.at(upper.level)
            if actual != upper.slug:
                choices = ", ".join(sorted(self.beneath(upper.slug, lower.level))) or "none"
                problems.append(
                    PlaceProblem(
                        lower.level,
                        f"`{lower.slug}` is a {lower.level} in {actual}, not in {upper.slug}: "
                        f"give a {lower.level} in {upper.slug} (one of: {choices}) "
                        f"or the {upper.level} {actual}",
                    )
                )
        return (named[-1] if named and not problems else None), problems

    def area(self, slug: str) -> Area | None:
        """The area of the place ``slug``; None if the vocabulary has no such place."""
        known = self._areas.get(slug)
        if known is not None:
            return known
        place = self._by_slug.get(slug)
        if place is None:
            return None
        depth = LEVELS.index(place.level)
        allowed: dict[Level, frozenset[str]] = {}
        for index, level in enumerate(LEVELS):
            if index <= depth:
                allowed[level] = frozenset({place.path[index]})
            else:
                allowed[level] = self.beneath(slug, level)
        beneath = frozenset(s for level in LEVELS for s in self.beneath(slug, level))
        area = Area(place, allowed, beneath | {slug})
        self._areas[slug] = area
        return area
