"""The column-wise check (``app.services.import_columnwise``) takes only rows the model
would accept, with the same facts, hash, stored text and projection; every other row
gets the model's own errors. Each file is prepared both ways and the two compared."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import Catalog
from app.db.projection import owned_tuples, tuples_of
from app.services import bulk_import, import_columnwise
from app.services.actors import Actor
from tests.helpers import random_uscc
from tests.imports.conftest import ADMIN
from tests.imports.support import (
    HEADERS,
    csv_bytes,
    expected_profile,
    good_row,
    many_rows,
    table,
    xlsx_bytes,
)
from tests.imports.test_service import bad_rows, expected_errors, run, stored

PORTAL = Actor(name="jiangning", role="portal", jurisdiction="jiangning")


class _ModelOnly(import_columnwise.ColumnwiseChecker):
    """Leaves every row to the model: the import as it was before the column-wise check."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.usable = False


def _prepare(
    catalog: Catalog, data: bytes, fmt: str, actor: Actor, *, columnwise: bool
) -> bulk_import.Prepared:
    source = bulk_import.ImportFile(f"t.{fmt}", fmt, io.BytesIO(data))  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        if not columnwise:
            patch.setattr(bulk_import, "ColumnwiseChecker", _ModelOnly)
        return bulk_import.prepare(catalog, source, actor)


def _assert_same(catalog: Catalog, data: bytes, fmt: str, actor: Actor = ADMIN) -> Any:
    fast = _prepare(catalog, data, fmt, actor, columnwise=True)
    model = _prepare(catalog, data, fmt, actor, columnwise=False)
    assert (fast.rows, fast.location_field) == (model.rows, model.location_field)
    assert fast.errors == model.errors
    assert [
        (a.row, a.uscc, a.facts, a.profile_hash, a.identity, a.facts_json) for a in fast.accepted
    ] == [
        (a.row, a.uscc, a.facts, a.profile_hash, a.identity, a.facts_json) for a in model.accepted
    ]
    # The projection's rows, in order: the years as the model keeps them.
    expected = tuples_of((str(a.row), a.facts) for a in model.accepted)
    assert tuples_of((str(a.row), a.facts) for a in fast.accepted) == expected
    # The same rows made column by column, as the import writes them.
    assert owned_tuples((str(a.row), a.projected()) for a in fast.accepted) == expected
    return fast


def _varied_rows() -> list[dict[str, Any]]:
    """Good rows written every way the columns allow, the issue's bad rows among them,
    and more bad ones: spread over several chunks of 4 rows."""
    rows, _first, _second = bad_rows()
    varied = [
        good_row(recognitions=""),
        good_row(recognitions="无", park="", district=""),
        good_row(revenue_2023="", revenue_2024="1,234.5", rd_expense_2024=""),
        good_row(revenue_2023="7", revenue_2024="", total_assets_2024="0"),
        good_row(national_market_share="12%", innovation_score="78.50", niche_years="0"),
        good_row(
            industry="信息传输、软件和信息技术服务业",
            district="江宁区",
            city="南京市",
            province="江苏省",
            park="江宁高新技术产业园",
            kind="企业",
            own_brand="是",
            registered_on="2021年3月15日",
            recognitions="高新技术企业:国家级:2023-11-30:2026-11-29；科技型中小企业::2024/5/1",
        ),
        good_row(name="  空格  ", uscc=f"  {random_uscc().lower()} "),
        good_row(innovation_score="100.001"),  # too many places
        good_row(niche_years="201"),  # past the bound
        good_row(national_market_share="1.5"),
        good_row(registered_on="1899-12-31"),  # outside the era
        good_row(recognitions="high_tech_enterprise:nowhere:2023-11-30"),
        good_row(district="gulou", park="jiangning-high-tech-zone"),  # not one place
        good_row(district="xuanwu", park=""),  # outside a Jiangning portal's area
        good_row(revenue_2024="#N/A"),
        good_row(name="x" * 300),
        good_row(employees="-1"),
        good_row(lease_area_m2="12.345"),
    ]
    for n, row in enumerate(varied):
        rows.insert(2 + 2 * n, row)
    rows += many_rows(20)
    rows.append(dict(rows[-3], name="又一个"))  # its USCC again, chunks later
    return rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_columnwise_check_matches_the_model(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setattr(bulk_import, "CHECK_CHUNK", 4)
    cells = table(_varied_rows())
    data = csv_bytes(cells) if fmt == "csv" else xlsx_bytes(cells)
    fast = _assert_same(catalog, data, fmt)
    assert len(fast.accepted) > 25 and len({e.row for e in fast.errors}) > 15


def test_the_same_for_a_portal(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_import, "CHECK_CHUNK", 3)
    fast = _assert_same(catalog, csv_bytes(table(_varied_rows())), "csv", PORTAL)
    assert any("this portal acts for jiangning" in e.reason for e in fast.errors)


def test_typed_xlsx_cells_and_an_unheadered_column(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_import, "CHECK_CHUNK", 2)
    typed = [
        good_row(
            employees=120,
            tech_staff=40.0,
            registered_on=date(2021, 3, 15),
            lease_start_on=datetime(2022, 1, 1),
            own_brand=True,
            compliance_serious_dishonesty=0,
            revenue_2024=48000000,
            rd_expense_2024=3600000.5,
            national_market_share=0.12,
            innovation_score=78.5,
            lease_area_m2=800,
        ),
        good_row(employees=12.5, own_brand=1.0),  # not whole; 1.0 is yes
        good_row(own_brand=2, registered_on=45000.0),
        good_row(revenue_2024=True),
    ]
    cells = table(typed)
    cells[0].append("")  # a column without a header…
    cells[2].append("stray")  # …holding a value in one row
    fast = _assert_same(catalog, xlsx_bytes(cells), "xlsx")
    assert any(e.reason == "a value in a column without a header" for e in fast.errors)


def test_good_rows_are_taken_without_the_model(catalog: Catalog) -> None:
    rows, _first, _second = bad_rows()
    prepared = _assert_same(catalog, csv_bytes(table(rows)), "csv")
    assert len(prepared.accepted) == 2
    cmap = bulk_import.column_map(catalog)
    columns, _, _ = cmap.bind(HEADERS)
    checker = bulk_import._RowChecker(catalog, cmap, columns, ADMIN)
    assert checker.columnwise.usable
    cells = table(rows)[1:]
    taken = checker.columnwise.check(cells)
    # The two good rows, and two that ``check_chunk`` leaves to the model for their
    # USCC: a repeated one and none.
    assert [n for n, facts in enumerate(taken) if facts is not None] == [0, 1, 6, 7]
    assert taken[0] == expected_profile(rows[0])
    # Their projection made column by column, not from each document.
    assert all(a.columns is not None for a in prepared.accepted)


def test_more_year_columns_than_a_profile_holds_go_to_the_model(catalog: Catalog) -> None:
    header = ["uscc", "name", *(f"revenue_{year}" for year in range(1990, 2022))]
    cmap = bulk_import.column_map(catalog)
    columns, _, _ = cmap.bind(header)
    checker = bulk_import._RowChecker(catalog, cmap, columns, ADMIN)
    assert not checker.columnwise.usable
    row = [random_uscc(), "三十二年", *("1" for _ in range(32))]
    prepared = _assert_same(catalog, csv_bytes([header, row]), "csv")
    assert prepared.errors and not prepared.accepted


def test_bad_rows_over_several_chunks_then_the_same_file_again(
    sessions: sessionmaker[Session], catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_import, "CHECK_CHUNK", 3)
    rows, first, _second = bad_rows()
    spread = many_rows(10)
    for n, row in enumerate(rows):
        spread.insert(n * 2, row)
    data = csv_bytes(table(spread))
    report = run(sessions, catalog, data)
    assert (report.rows, report.accepted, report.created) == (19, 12, 12)
    assert [(e.row, e.field, e.reason) for e in report.errors] == [
        (2 * row - 2, field, reason) for row, field, reason in expected_errors(rows[2]["uscc"])
    ]  # row n of the file is row 2n - 2 here
    _, versions = stored(sessions, first)
    assert versions[0].profile == expected_profile(rows[0])
    again = run(sessions, catalog, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 12)
    assert again.errors == report.errors
