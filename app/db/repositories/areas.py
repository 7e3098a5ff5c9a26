"""A portal's area as SQL: the same test as ``app.catalog.places.Area.contains``.

An enterprise row is inside when every place column it fills holds a value the area
allows at that level, and it fills at least one column at or below the area's own
place. A test holds the two versions equal over every combination of places.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from app.catalog.places import LEVELS, Area
from app.db.models import Enterprise

_COLUMNS = {
    "province": Enterprise.province,
    "city": Enterprise.city,
    "district": Enterprise.district,
    "park": Enterprise.park,
}


def enterprise_in(area: Area) -> ColumnElement[bool]:
    """WHERE clause: the enterprise's location is inside ``area``."""
    allowed = [
        or_(_COLUMNS[level].is_(None), _COLUMNS[level].in_(sorted(area.allowed[level])))
        for level in LEVELS
    ]
    pinned = or_(*(_COLUMNS[level].is_not(None) for level in area.pinning))
    return and_(*allowed, pinned)
