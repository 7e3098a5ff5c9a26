"""The column mapping, cell parsing and file reading (no database)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from pydantic import ValidationError

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog
from app.services import bulk_import
from app.services.errors import Invalid
from app.services.import_columns import (
    CellError,
    Target,
    column_map,
    mapping_rows,
    normalize_header,
)
from app.services.import_source import DEFAULT_LIMITS
from app.services.import_xlsx import xlsx_table
from tests.imports.conftest import ADMIN
from tests.imports.support import csv_bytes, good_row, table, xlsx_bytes

IMPORT_MD = Path(__file__).resolve().parents[2] / "policy_catalog" / "IMPORT.md"


SAMPLES = {
    "money": "1.00",
    "decimal": "1",
    "share": "0.5",
    "score": "50",
    "integer": 1,
    "date": "2021-03-15",
    "boolean": True,
    "enum": "x",
    "text": "x",
    "uscc": "91320115MA1W9KXT49",
}


def _field_exists(target: Target) -> bool:
    """Whether the profile schema has a field at the target's path (not "extra")."""
    doc: dict[str, Any] = {"name": "x"}
    node = doc
    for part in target.path[:-1]:
        node = node.setdefault(part, {})
    node[target.path[-1]] = SAMPLES.get(target.type, "x")
    try:
        EnterpriseProfile.model_validate(doc)
    except ValidationError as exc:
        return all(e["type"] != "extra_forbidden" for e in exc.errors())
    return True


def test_every_fact_of_the_catalog_has_a_column_the_profile_accepts(catalog: Catalog) -> None:
    assert not _field_exists(Target(("ip", "class_iii"), "integer"))  # the check checks
    cmap = column_map(catalog)
    for row in mapping_rows(cmap):
        header = row["header"].replace("<year>", "2024")
        target = cmap.resolve(header)
        assert target is not None, header
        assert _field_exists(target), target.path
        for chinese in filter(None, row["zh"].split(" / ")):
            assert cmap.resolve(chinese.replace("<year>", "2024")) == target, chinese
    facts = {f.path for f in catalog.vocabulary.facts}
    mapped = {row["field"] for row in mapping_rows(cmap)}
    assert facts - mapped == {
        "recognitions",
        "recognitions.*.kind",
        "recognitions.*.level",
        "recognitions.*.granted_on",
        "recognitions.*.expires_on",
        "years.*.performance.*",
    }


def test_import_md_documents_exactly_the_mapping(catalog: Catalog) -> None:
    cmap = column_map(catalog)
    text = IMPORT_MD.read_text(encoding="utf-8")
    text = text[text.index("## Columns") : text.index("## Cells")]
    documented = set()
    for line in text.splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 4:
            documented.update(re.findall(r"`([^`]+)`", cells[1] + cells[2]))
    expected = set()
    for row in mapping_rows(cmap):
        expected.add(row["header"])
        expected.update(filter(None, row["zh"].split(" / ")))
    assert expected <= documented, expected - documented
    for header in documented:
        concrete = header.replace("<year>", "2024").replace(
            "<policy-id>", "nj-innovation-consortium"
        )
        assert cmap.resolve(concrete) is not None, header


@pytest.mark.parametrize(
    ("header", "path"),
    [
        ("营业收入_2024", ("years", "2024", "revenue")),
        ("营业收入＿２０２４", ("years", "2024", "revenue")),
        (" Revenue_2023 ", ("years", "2023", "revenue")),
        ("RD_EXPENSE_2022", ("years", "2022", "rd_expense")),
        ("年度研发费用_2022", ("years", "2022", "rd_expense")),
        ("企业名称*", ("name",)),
        ("统一社会 信用代码", ("uscc",)),
        ("location.city", ("location", "city")),
        ("Ⅰ类知识产权", ("ip", "class_i")),
        (
            "绩效评分_nj-innovation-consortium_2024",
            ("years", "2024", "performance", "nj-innovation-consortium"),
        ),
        ("认定", ("recognitions",)),
    ],
)
def test_headers_resolve(catalog: Catalog, header: str, path: tuple[str, ...]) -> None:
    target = column_map(catalog).resolve(header)
    assert target is not None and target.path == path


@pytest.mark.parametrize(
    "header",
    [
        "revenue",
        "营业收入",
        "revenue_1850",
        "年度营业收入_2024",
        "performance_xx-nope_2024",
        "收入",
    ],
)
def test_headers_that_are_not_known(catalog: Catalog, header: str) -> None:
    # 年度营业收入 is the description of both revenue and operating_income: ambiguous.
    assert column_map(catalog).resolve(header) is None


def test_normalize_header() -> None:
    assert normalize_header(" ＲＥＶＥＮＵＥ＿２０２４ *") == "revenue_2024"


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("money", "48,000,000.50", "48000000.50"),
        ("money", 48000000, 48000000),
        ("money", 1234.5, "1234.5"),
        ("money", 3.0, "3"),
        # A sheet writes a double with 17 digits; what was typed is its shortest form.
        ("money", float("1234.5599999999999"), "1234.56"),
        ("integer", "1,200", 1200),
        ("integer", 12.0, 12),
        ("integer", "12.0", 12),
        ("share", "12%", "0.12"),
        ("share", "0.125", "0.125"),
        ("date", "2021/3/5", "2021-03-05"),
        ("date", "2021年3月15日", "2021-03-15"),
        ("date", "20210315", "2021-03-15"),
        ("date", "2021-03-15 00:00:00", "2021-03-15"),
        ("date", datetime(2021, 3, 15), "2021-03-15"),
        ("date", date(2021, 3, 15), "2021-03-15"),
        ("boolean", "是", True),
        ("boolean", "否", False),
        ("boolean", "TRUE", True),
        ("boolean", 0, False),
        ("boolean", True, True),
        ("uscc", " 91320115ma1w9kxt49 ", "91320115MA1W9KXT49"),
        ("text", 12345.0, "12345"),
    ],
)
def test_cells_parse(catalog: Catalog, kind: str, value: Any, expected: Any) -> None:
    assert column_map(catalog).parse_cell(Target(("x",), kind), value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("integer", "12.5", "`12.5` is not a whole number"),
        ("integer", 2.5, "2.5 is not a whole number"),
        ("integer", "many", "`many` is not a whole number"),
        ("date", "15/03/2021", "`15/03/2021` is not a date: write it as YYYY-MM-DD"),
        ("date", "2021-02-30", "`2021-02-30` is not a calendar date"),
        ("boolean", "maybe", "`maybe` is not yes or no: write 是/否, true/false or 1/0"),
        (
            "uscc",
            9.13201157162963e17,
            "the USCC was stored as a number and has lost digits: format the column as text",
        ),
        ("money", "#N/A", "the cell holds the spreadsheet error #N/A"),
        ("share", "x%", "`x%` is not a percentage"),
    ],
)
def test_cells_refused(catalog: Catalog, kind: str, value: Any, reason: str) -> None:
    with pytest.raises(CellError) as refused:
        column_map(catalog).parse_cell(Target(("x",), kind), value)
    assert str(refused.value) == reason


def test_words_by_value_or_label(catalog: Catalog) -> None:
    cmap = column_map(catalog)
    assert (
        cmap.parse_cell(Target(("industry",), "enum", "industry"), "信息传输、软件和信息技术服务业")
        == "software_information"
    )
    assert cmap.parse_cell(Target(("d",), "enum", "district"), "江宁区") == "jiangning"
    assert cmap.parse_cell(Target(("d",), "enum", "city"), "Nanjing") == "nanjing"
    assert cmap.parse_cell(Target(("k",), "enum", "kind"), "孵化载体") is not None
    with pytest.raises(
        CellError, match=r"^`软件业` is not a known industry; use one of: accommodation_catering, "
    ):
        cmap.parse_cell(Target(("industry",), "enum", "industry"), "软件业")


def test_recognitions_cell(catalog: Catalog) -> None:
    cmap = column_map(catalog)
    target = Target(("recognitions",), "recognitions")
    cell = "高新技术企业:国家级:2023-11-30:2026-11-29；tech_sme::2024/5/1\ngreen_factory"
    assert cmap.parse_cell(target, cell) == [
        {
            "kind": "high_tech_enterprise",
            "level": "national",
            "granted_on": "2023-11-30",
            "expires_on": "2026-11-29",
        },
        {"kind": "tech_sme", "granted_on": "2024-05-01"},
        {"kind": "green_factory"},
    ]
    assert cmap.parse_cell(target, "无") == []
    with pytest.raises(
        CellError,
        match=r"^recognition 2 \(`nope:national`\): `nope` is not a known recognition_kind",
    ):
        cmap.parse_cell(target, "tech_sme; nope:national")
    with pytest.raises(CellError, match="is not kind:level:granted_on"):
        cmap.parse_cell(target, "a:b:c:d:e")


# ---------------------------------------------------------------------- the header row


def _prepare(catalog: Catalog, cells: list[list[Any]], fmt: str = "csv") -> bulk_import.Prepared:
    data = csv_bytes(cells) if fmt == "csv" else xlsx_bytes(cells)
    source = bulk_import.ImportFile(f"t.{fmt}", fmt, io.BytesIO(data))  # type: ignore[arg-type]
    return bulk_import.prepare(catalog, source, ADMIN)


def test_unknown_headers_stop_the_import_naming_them(catalog: Catalog) -> None:
    cells = table([good_row()])
    cells[0] = [*cells[0], "revenu_2024", "注册资本"]
    cells[1] = [*cells[1], "1", "2"]
    with pytest.raises(Invalid) as refused:
        _prepare(catalog, cells)
    extra = refused.value.extra()
    assert extra["unknown_columns"] == ["revenu_2024", "注册资本"]
    assert (
        "revenue_<year>" in extra["known_columns"] and "营业收入_<year>" in extra["known_columns"]
    )
    assert "unknown column(s): `revenu_2024`, `注册资本`" in refused.value.detail


def test_duplicate_and_missing_headers(catalog: Catalog) -> None:
    with pytest.raises(Invalid) as refused:
        _prepare(catalog, [["name", "营业收入_2024", "revenue_2024"], ["x", "1", "2"]])
    detail = refused.value.detail
    assert (
        "columns `营业收入_2024` and `revenue_2024` both give years.2024.revenue: keep one"
        in detail
    )
    assert (
        "the file needs a `uscc` or `统一社会信用代码` or `社会信用代码` or `信用代码` column"
        in detail
    )
    with pytest.raises(Invalid, match="the catalog has no policy `xx-nope`"):
        _prepare(catalog, [["uscc", "name", "performance_xx-nope_2024"]])


def test_empty_files(catalog: Catalog) -> None:
    with pytest.raises(Invalid, match="the file is empty"):
        bulk_import.prepare(catalog, bulk_import.ImportFile("t.csv", "csv", io.BytesIO(b"")), ADMIN)
    with pytest.raises(Invalid, match=r"not a readable \.xlsx workbook"):
        bulk_import.prepare(
            catalog, bulk_import.ImportFile("t.xlsx", "xlsx", io.BytesIO(b"PK\x03\x04junk")), ADMIN
        )


@pytest.mark.parametrize(
    ("name", "content_type", "head", "expected"),
    [
        ("a.csv", "application/vnd.ms-excel", b"uscc,", "csv"),
        ("a.XLSX", "application/octet-stream", b"PK\x03\x04", "xlsx"),
        (None, "text/csv; charset=utf-8", b"uscc,", "csv"),
        (None, bulk_import.XLSX_TYPE, b"PK\x03\x04", "xlsx"),
        (None, "application/octet-stream", b"PK\x03\x04", "xlsx"),
    ],
)
def test_detect_format(name: str | None, content_type: str, head: bytes, expected: str) -> None:
    assert bulk_import.detect_format(name, content_type, head) == expected


@pytest.mark.parametrize(
    ("name", "content_type", "head"),
    [
        ("a.xls", "application/vnd.ms-excel", b"\xd0\xcf\x11\xe0"),
        (None, "image/png", b"\x89PNG"),
        ("a.pdf", "application/pdf", b"%PDF"),
    ],
)
def test_detect_format_refuses(name: str | None, content_type: str, head: bytes) -> None:
    with pytest.raises(bulk_import.UnsupportedFileType):
        bulk_import.detect_format(name, content_type, head)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_encodings(catalog: Catalog, encoding: str) -> None:
    row = good_row()
    data = csv_bytes(table([row], chinese=True), encoding)
    source = bulk_import.ImportFile("t.csv", "csv", io.BytesIO(data))
    prepared = bulk_import.prepare(catalog, source, ADMIN)
    assert [a.uscc for a in prepared.accepted] == [row["uscc"]] and not prepared.errors


def test_tab_separated(catalog: Catalog) -> None:
    row = good_row()
    text = "\n".join("\t".join(str(v) for v in line) for line in table([row]))
    source = bulk_import.ImportFile("t.tsv", "csv", io.BytesIO(text.encode()))
    assert len(bulk_import.prepare(catalog, source, ADMIN).accepted) == 1


# ---------------------------------------------------------------------- the XLSX reader


def _openpyxl_rows(data: bytes) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    rows = []
    for row in sheet.iter_rows(values_only=True):
        values = list(row)
        while values and values[-1] is None:
            values.pop()
        rows.append(tuple(values))
    return rows


@pytest.mark.parametrize("write_only", [False, True])
def test_xlsx_reader_reads_what_openpyxl_reads(write_only: bool) -> None:
    cells: list[list[Any]] = [
        ["uscc", "name", "n", "f", "d", "dt", "b", "t", "empty", "last"],
        [
            "A",
            "甲公司",
            120,
            1234.56,
            date(2021, 3, 15),
            datetime(2023, 11, 30, 8, 30),
            True,
            "x,y",
            None,
            "z",
        ],
        ["B", "乙 公司 ", -5, 1e20, None, None, False, "=not a formula?", None, None],
        [],
        ["C", "line\nbreak", 0, 0.1, date(1900, 3, 1), None, None, "", None, 7],
    ]
    data = xlsx_bytes(cells, write_only=write_only)
    table_ = xlsx_table(io.BytesIO(data), DEFAULT_LIMITS)
    ours = [tuple(table_.header)]
    for number, values in table_.rows:
        while len(ours) < number - 1:
            ours.append(())
        values = list(values)
        while values and values[-1] is None:
            values.pop()
        ours.append(tuple(values))
    theirs = [r for r in _openpyxl_rows(data)]
    while theirs and theirs[-1] == ():
        theirs.pop()
    assert ours == theirs


def test_xlsx_reader_with_shared_strings_styles_and_second_sheet() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["uscc", "name", "registered_on", "revenue_2024"])
    sheet.append(["91320115MA1W9KXT49", "南京示例科技有限公司", date(2021, 3, 15), 48000000])
    sheet["C2"].number_format = "yyyy年m月d日"
    other = workbook.create_sheet("说明")
    other.append(["this sheet is not read"])
    out = io.BytesIO()
    workbook.save(out)
    table_ = xlsx_table(io.BytesIO(out.getvalue()), DEFAULT_LIMITS)
    assert table_.header == ["uscc", "name", "registered_on", "revenue_2024"]
    assert list(table_.rows) == [
        (2, ["91320115MA1W9KXT49", "南京示例科技有限公司", datetime(2021, 3, 15), 48000000])
    ]
    assert table_.total == 1


_TEXT_COLUMNS = [
    ["12", " 7 ", "0", "0012"],
    ["5", " 123456789012 "],
    ["12", "1,000"],
    ["12", "#N/A"],
    ["12", "12\n34"],
    ["12", "١٢"],
    ["12", "1.5", "-3"],
    ["91320115ma1w9kxt49", " 91320115MA1W9KXT49 "],
    ["南京", " #1 ", "a,b"],
    ["+5", "1e3", "1_000"],
]


@pytest.mark.parametrize(
    "header", ["employees", "revenue_2024", "innovation_score", "lease_area_m2", "name", "uscc"]
)
def test_a_column_of_text_parsed_at_once_as_cell_by_cell(catalog: Catalog, header: str) -> None:
    cmap = column_map(catalog)
    (column,), _, _ = cmap.bind([header])
    parse_all = cmap.column_parser(column.target)
    parse = cmap.cell_parser(column.target)
    assert parse_all is not None
    taken = 0
    for cells in _TEXT_COLUMNS:
        at_once = parse_all(list(cells))
        if at_once is None:
            continue  # cell by cell, as before
        taken += 1
        assert at_once == [parse(cell) for cell in cells], cells
    assert taken >= 2  # the plain columns at least
