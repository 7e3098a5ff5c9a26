"""The place tree of the catalog: one path per location, and a portal's area.

Over the real vocabulary (Nanjing and Wuhan with their districts and parks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.catalog.loader import Catalog, load_catalog
from app.catalog.places import Level

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


def at(**levels: Any) -> dict[Level, str | None]:
    return {level: levels.get(level) for level in ("province", "city", "district", "park")}


@pytest.mark.parametrize(
    ("location", "deepest"),
    [
        (at(province="jiangsu", city="nanjing", district="jiangning"), "jiangning"),
        (
            at(
                province="hubei", city="wuhan", district="hongshan", park="east-lake-high-tech-zone"
            ),
            "east-lake-high-tech-zone",
        ),
        (at(city="nanjing"), "nanjing"),
        (at(district="hongshan"), "hongshan"),  # a gap above is no contradiction
        (at(province="jiangsu", park="jiangning-high-tech-zone"), "jiangning-high-tech-zone"),
        (at(), None),
    ],
)
def test_a_location_on_one_path_resolves_to_its_deepest_place(
    catalog: Catalog, location: dict[Level, str | None], deepest: str | None
) -> None:
    place, problems = catalog.places.resolve(location)
    assert problems == []
    assert (place.slug if place else None) == deepest


@pytest.mark.parametrize(
    ("location", "level", "words"),
    [
        # The finding: a Wuhan district filed under Nanjing, and the reverse.
        (
            at(city="nanjing", district="hongshan"),
            "district",
            ["hongshan", "wuhan", "nanjing", "jiangning"],
        ),
        (
            at(city="wuhan", district="jiangning"),
            "district",
            ["jiangning", "nanjing", "wuhan", "hongshan"],
        ),
        (at(province="jiangsu", city="wuhan"), "city", ["wuhan", "hubei", "jiangsu", "nanjing"]),
        (at(district="jiangning", park="east-lake-high-tech-zone"), "park", ["hongshan"]),
        (at(province="hubei", park="jiangning-high-tech-zone"), "park", ["jiangsu", "hubei"]),
        (at(city="hongshan"), "city", ["not a known city"]),
    ],
)
def test_levels_that_disagree_are_named_with_the_fix(
    catalog: Catalog, location: dict[Level, str | None], level: str, words: list[str]
) -> None:
    place, problems = catalog.places.resolve(location)
    assert place is None
    assert [p.level for p in problems] == [level]
    for word in words:
        assert word in problems[0].detail


def test_an_area_is_decided_by_every_level_not_by_any_one(catalog: Catalog) -> None:
    nanjing, hongshan, wuhan = (catalog.places.area(j) for j in ("nanjing", "hongshan", "wuhan"))
    assert nanjing and hongshan and wuhan
    mixed = at(city="nanjing", district="hongshan")
    reverse = at(city="wuhan", district="jiangning")
    for area in (nanjing, hongshan, wuhan):
        assert not area.contains(mixed)
        assert not area.contains(reverse)


@pytest.mark.parametrize(
    ("jurisdiction", "inside", "outside"),
    [
        (
            "nanjing",
            [
                at(province="jiangsu", city="nanjing"),
                at(city="nanjing", district="jianye"),
                at(district="jiangning"),
                at(park="xuzhuang-software-park"),
            ],
            [at(province="jiangsu"), at(city="wuhan"), at(), at(district="hongshan")],
        ),
        (
            "jiangning",
            [
                at(province="jiangsu", city="nanjing", district="jiangning"),
                at(district="jiangning", park="jiangning-development-zone"),
                at(park="jiangning-high-tech-zone"),
            ],
            [
                at(province="jiangsu", city="nanjing"),  # the city, not this district
                at(city="nanjing", district="jianye"),
                at(park="hexi-new-town"),
            ],
        ),
        (
            "east-lake-high-tech-zone",
            [at(city="wuhan", district="hongshan", park="east-lake-high-tech-zone")],
            [at(city="wuhan", district="hongshan")],
        ),
    ],
)
def test_an_area_holds_its_place_and_everything_beneath(
    catalog: Catalog,
    jurisdiction: str,
    inside: list[dict[Level, str | None]],
    outside: list[dict[Level, str | None]],
) -> None:
    area = catalog.places.area(jurisdiction)
    assert area is not None
    for location in inside:
        assert area.contains(location), location
    for location in outside:
        assert not area.contains(location), location


def test_an_area_lists_the_payers_it_may_spend_for(catalog: Catalog) -> None:
    jiangning = catalog.places.area("jiangning")
    assert jiangning is not None
    assert jiangning.places == {
        "jiangning",
        "jiangning-high-tech-zone",
        "jiangning-development-zone",
    }
    nanjing = catalog.places.area("nanjing")
    assert nanjing is not None
    assert {"nanjing", "jiangning", "jianye", "hexi-new-town"} <= nanjing.places
    assert not {"jiangsu", "wuhan", "hongshan"} & nanjing.places
    assert catalog.places.area("atlantis") is None
