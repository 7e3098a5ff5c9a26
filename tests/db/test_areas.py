"""A portal's area in SQL selects exactly the rows ``Area.contains`` accepts.

Lists (enterprises, awards, matching runs) filter in SQL, single objects are checked
in Python: the two must never disagree, or a list would show what a GET hides. Every
combination of a few places per level, consistent or not, on both databases.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.loader import load_catalog
from app.catalog.places import location_of
from app.db.models import Enterprise
from app.db.repositories.areas import enterprise_in

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "policy_catalog")

VALUES: dict[str, list[str | None]] = {
    "province": [None, "jiangsu", "hubei"],
    "city": [None, "nanjing", "wuhan"],
    "district": [None, "jiangning", "jianye", "qinhuai", "hongshan"],
    "park": [None, "jiangning-high-tech-zone", "hexi-new-town", "east-lake-high-tech-zone"],
}
# Cities, districts with and without parks, parks; "qinhuai" has no park at all.
JURISDICTIONS = [
    "nanjing",
    "wuhan",
    "jiangning",
    "jianye",
    "hongshan",
    "qinhuai",
    "jiangning-high-tech-zone",
    "east-lake-high-tech-zone",
]


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS)
def test_sql_and_python_agree_on_every_location(
    db_session: Session, make_enterprise: Callable[..., Enterprise], jurisdiction: str
) -> None:
    rows = [
        make_enterprise(province=p, city=c, district=d, park=k)
        for p, c, d, k in itertools.product(*VALUES.values())
    ]
    area = CATALOG.places.area(jurisdiction)
    assert area is not None
    ids = [e.id for e in rows]
    in_sql = set(
        db_session.scalars(
            select(Enterprise.id).where(Enterprise.id.in_(ids), enterprise_in(area))
        ).all()
    )
    in_python = {e.id for e in rows if area.contains(location_of(e))}
    assert in_sql == in_python
    assert in_python, "each area holds some of the combinations"
