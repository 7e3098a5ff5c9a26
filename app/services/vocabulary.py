"""Checks a profile's words against the catalog's vocabulary.

An unknown word is a 422 that lists the words the catalog knows, so a portal can fix
its mapping rather than guess. A location's levels must also lie on one path of the
place tree (``app.catalog.places``): a district of Wuhan in the city of Nanjing is a
422 at the district, with the districts Nanjing has.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.catalog.loader import Catalog
from app.catalog.places import location_of
from app.profile import ProfileFacts
from app.services.errors import Invalid


def _words_used(profile: ProfileFacts) -> Iterator[tuple[str, str, str]]:
    """(pointer, enumeration, word) for every vocabulary word in the profile."""
    if profile.industry is not None:
        yield "/industry", "industry", profile.industry
    if profile.industry_chain is not None:
        yield "/industry_chain", "industry_chain", profile.industry_chain
    if profile.hte_field is not None:
        yield "/hte_field", "hte_field", profile.hte_field
    if profile.location is not None:
        for level in ("province", "city", "district", "park"):
            word = getattr(profile.location, level)
            if word is not None:
                yield f"/location/{level}", level, word
    for year, figures in (profile.years or {}).items():
        if figures.maker_china is not None:
            yield f"/years/{year}/maker_china", "maker_china_list", figures.maker_china
    for i, recognition in enumerate(profile.recognitions or []):
        yield f"/recognitions/{i}/kind", "recognition_kind", recognition.kind
        if recognition.level is not None:
            yield f"/recognitions/{i}/level", "recognition_level", recognition.level


def check_words(profile: ProfileFacts, catalog: Catalog, pointer_prefix: str = "") -> None:
    errors = []
    for pointer, enumeration, word in _words_used(profile):
        known = catalog.words.get(enumeration, set())
        if word not in known:
            errors.append(
                {
                    "pointer": pointer_prefix + pointer,
                    "detail": f"`{word}` is not a known {enumeration}; use one of: {', '.join(sorted(known))}",
                }
            )
    if errors:
        raise Invalid(f"{len(errors)} word(s) are not in the catalog's vocabulary", errors=errors)
    check_place(profile, catalog, pointer_prefix)


def check_place(profile: ProfileFacts, catalog: Catalog, pointer_prefix: str = "") -> None:
    """422 unless the location's province, city, district and park lie on one path."""
    if profile.location is None:
        return
    _, problems = catalog.places.resolve(location_of(profile.location))
    if problems:
        raise Invalid(
            "the location's levels do not name one place: " + "; ".join(p.detail for p in problems),
            errors=[
                {"pointer": f"{pointer_prefix}/location/{p.level}", "detail": p.detail}
                for p in problems
            ],
        )
