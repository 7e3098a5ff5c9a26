"""The projection made column by column (``app.db.projection_columns``) is, row for row,
what ``projected`` makes of each row's document: inexact values, mixed cells, years in
the document's order, scores and recognitions included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Enterprise
from app.db.projection import PROJECTION, load_projection, projected, tuples_of
from app.db.projection_columns import ColumnProjection

ABSENT = object()

PATHS: list[tuple[str, ...]] = [
    ("uscc",),  # no fact: the projection walks past it
    ("kind",),
    ("registered_on",),
    ("employees",),
    ("national_market_share",),
    ("own_brand",),
    ("location", "city"),
    ("ip", "class_i"),
    ("recognitions",),
    ("years", "2023", "revenue"),
    ("years", "2024", "revenue"),
    ("years", "2023", "rd_expense"),
    ("years", "2024", "taxable_income"),
    ("years", "2024", "performance", "nj-innovation"),
    ("years", "2023", "performance", "nj-innovation"),
    ("years", "2024", "performance", "a-second"),
    ("years", "2024", "not_a_fact"),
]

GOOD = [
    "91320115MA1W9KXT49",
    "enterprise",
    "2021-03-15",
    12,
    "0.12",
    True,
    "nanjing",
    3,
    [{"kind": "tech_sme", "granted_on": "2024-05-01"}],
    "100.00",
    "120.50",
    "7.00",
    "-5.00",
    "80.5",
    "70",
    "60.25",
    "x",
]


def _row(**changes: Any) -> list[Any]:
    """``GOOD`` with some cells changed, by column number (``c3=…``)."""
    row = list(GOOD)
    for name, value in changes.items():
        row[int(name[1:])] = value
    return row


#: A line break inside a value (read one by one, or the rows after would shift).
LINE_BREAKS = [_row(c9="1.00\n2.00"), _row(c2="2021-03-15\n2021-03-16")]
ROWS = [
    _row(),
    _row(c1=ABSENT, c2=ABSENT, c8=ABSENT, c4=ABSENT),  # empty cells
    _row(c9=ABSENT),  # 2024's first cell comes before 2023's: 2024 first
    _row(c9=ABSENT, c10=ABSENT, c11=ABSENT, c12=ABSENT, c13=ABSENT, c14=ABSENT, c15=ABSENT),
    _row(c16=ABSENT, c10=ABSENT, c12=ABSENT, c13=ABSENT, c15=ABSENT),  # only 2023
    _row(c9="1.234"),  # more places than the column keeps: inexact
    _row(c3="12"),  # text among integers
    _row(c2="2021-02-30"),  # no such day
    _row(c2="20210315"),  # not ISO as written
    _row(c1="k" * 201),  # longer than a word of the projection
    _row(c8=[{"kind": "k" * 201}]),
    _row(c8=[]),
    _row(c10=7, c11=0),  # integers among amounts
    _row(c4="١٢"),  # other digits: read as int reads them
    *LINE_BREAKS,
    _row(c3=10**15),
    _row(c5=ABSENT, c6=ABSENT, c7=ABSENT),
]


def _document(paths: list[tuple[str, ...]], row: list[Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in zip(paths, row, strict=True):
        if value is ABSENT:
            continue
        node = doc
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    "rows", [ROWS, ROWS[:1] * 3, ROWS[5:6], ROWS[1:2] * 2, [ROWS[0], *LINE_BREAKS, ROWS[0]]]
)
def test_the_columns_give_what_each_document_gives(rows: list[list[Any]]) -> None:
    plan = ColumnProjection.plan(PATHS)
    assert plan is not None
    columns = [list(column) for column in zip(*rows, strict=True)]
    made = plan.rows(columns, [True] * len(rows), ABSENT)
    assert made == [projected(_document(PATHS, row)) for row in rows]
    if rows is ROWS:
        assert {p[0][0] for p in made if p is not None} == {True, False}  # exact and not


def test_rows_left_out_are_not_read() -> None:
    plan = ColumnProjection.plan(PATHS)
    assert plan is not None
    rows = [_row(), _row(c3=object(), c9=ABSENT), _row(c2=["not", "a", "day"])]
    columns = [list(column) for column in zip(*rows, strict=True)]
    made = plan.rows(columns, [True, False, False], ABSENT)
    assert made == [projected(_document(PATHS, rows[0])), None, None]


def test_a_year_read_in_order_of_first_cells_not_columns() -> None:
    plan = ColumnProjection.plan(PATHS)
    assert plan is not None
    columns = [list(column) for column in zip(*ROWS[2:3], strict=True)]
    (made,) = plan.rows(columns, [True], ABSENT)
    assert made is not None
    assert [row[0] for row in made[1]] == [2024, 2023]
    assert [score[:3] for score in made[2]] == [
        (2024, "performance", "nj-innovation"),
        (2024, "performance", "a-second"),
        (2023, "performance", "nj-innovation"),
    ]


@pytest.mark.parametrize(
    "path",
    [
        ("location",),  # a whole mapping in one cell
        ("kind", "more"),  # inside a fact's value
        ("years", "0223", "revenue"),  # a key read differently
        ("years", "2024"),
        ("years", "2024", "revenue", "more"),
        ("years", "2024", "performance"),
        ("years", "2024", "performance", "a.b"),
        ("recognitions", "0"),
    ],
)
def test_columns_it_cannot_place_are_projected_row_by_row(path: tuple[str, ...]) -> None:
    assert ColumnProjection.plan([("name",), path]) is None


def test_no_column_of_the_projection_has_a_default() -> None:
    # A load leaves out the columns null in every row: they must be null all the same.
    for table in PROJECTION:
        for column in table.columns:
            assert column.default is None and column.server_default is None, column


def test_columns_null_in_every_row_are_stored_null(
    db_session: Session, make_enterprise: Callable[..., Enterprise]
) -> None:
    owners = [make_enterprise().id for _ in range(2)]
    documents = [
        {"employees": 12, "years": {"2024": {"revenue": "5.00"}}},
        {"employees": 7, "own_brand": False, "years": {"2023": {"rd_expense": "1.50"}}},
    ]
    rows = tuples_of(zip(owners, documents, strict=True))
    load_projection(db_session.connection(), rows)
    for table, given in zip(PROJECTION, rows, strict=True):
        stored = db_session.execute(
            select(table).where(table.c.enterprise_id.in_(owners)).order_by(*table.primary_key)
        ).all()
        assert [tuple(row) for row in stored] == sorted(given, key=lambda r: (r[0], r[1:2]))
