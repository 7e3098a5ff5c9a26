"""Builders for import files: rows by English header, written as CSV or XLSX with
English or Chinese headers."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import openpyxl

from tests.helpers import random_uscc

PERFORMANCE = "performance_nj-innovation-consortium_2024"

# English header -> a Chinese header for the same column (IMPORT.md).
CHINESE = {
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "kind": "主体类型",
    "registered_on": "成立日期",
    "province": "省",
    "city": "市",
    "district": "区",
    "park": "园区",
    "industry": "行业",
    "hte_field": "高新技术领域",
    "employees": "职工总数",
    "tech_staff": "科技人员数",
    "rd_staff": "研发人员数",
    "ip_class_i": "Ⅰ类知识产权",
    "ip_class_ii": "Ⅱ类知识产权",
    "niche_years": "细分市场年数",
    "national_market_share": "全国市场占有率",
    "own_brand": "自主品牌",
    "innovation_score": "创新能力评价得分",
    "compliance_serious_dishonesty": "严重失信",
    "compliance_major_incident_last_year": "近一年重大事故",
    "lease_area_m2": "租用面积",
    "lease_start_on": "租赁起始日期",
    "revenue_2023": "营业收入_2023",
    "revenue_2024": "营业收入_2024",
    "rd_expense_2024": "研发费用_2024",
    "total_assets_2024": "资产总额_2024",
    PERFORMANCE: "绩效评分_nj-innovation-consortium_2024",
    "recognitions": "认定",
}
HEADERS = list(CHINESE)


def good_row(uscc: str | None = None, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "uscc": random_uscc() if uscc is None else uscc,
        "name": "南京示例科技有限公司",
        "kind": "enterprise",
        "registered_on": "2021-03-15",
        "province": "jiangsu",
        "city": "nanjing",
        "district": "jiangning",
        "park": "jiangning-high-tech-zone",
        "industry": "software_information",
        "hte_field": "electronic_information",
        "employees": "120",
        "tech_staff": "40",
        "rd_staff": "30",
        "ip_class_i": "3",
        "ip_class_ii": "10",
        "niche_years": "8",
        "national_market_share": "0.12",
        "own_brand": "true",
        "innovation_score": "78.5",
        "compliance_serious_dishonesty": "否",
        "compliance_major_incident_last_year": "false",
        "lease_area_m2": "800",
        "lease_start_on": "2022-01-01",
        "revenue_2023": "40000000.00",
        "revenue_2024": "48000000.00",
        "rd_expense_2024": "3600000.00",
        "total_assets_2024": "60000000",
        PERFORMANCE: "92",
        "recognitions": "high_tech_enterprise:national:2023-11-30:2026-11-29; tech_sme::2024-05-01",
    }
    row.update(overrides)
    return row


def expected_profile(row: dict[str, Any]) -> dict[str, Any]:
    """The stored profile of ``good_row(...)`` (money with two places, as the API stores it);
    of the overrides it follows ``name``, ``employees`` and ``revenue_2024``."""
    return {
        "uscc": row["uscc"],
        "name": row["name"],
        "kind": "enterprise",
        "registered_on": "2021-03-15",
        "location": {
            "province": "jiangsu",
            "city": "nanjing",
            "district": "jiangning",
            "park": "jiangning-high-tech-zone",
        },
        "industry": "software_information",
        "hte_field": "electronic_information",
        "employees": int(row["employees"]),
        "tech_staff": 40,
        "rd_staff": 30,
        "ip": {"class_i": 3, "class_ii": 10},
        "niche_years": 8,
        "national_market_share": "0.12",
        "own_brand": True,
        "innovation_score": "78.5",
        "compliance": {"serious_dishonesty": False, "major_incident_last_year": False},
        "lease": {"area_m2": "800", "start_on": "2022-01-01"},
        "recognitions": [
            {
                "kind": "high_tech_enterprise",
                "level": "national",
                "granted_on": "2023-11-30",
                "expires_on": "2026-11-29",
            },
            {"kind": "tech_sme", "granted_on": "2024-05-01"},
        ],
        "years": {
            "2023": {"revenue": "40000000.00"},
            "2024": {
                "revenue": f"{Decimal(str(row['revenue_2024']).replace(',', '')):.2f}",
                "rd_expense": "3600000.00",
                "total_assets": "60000000.00",
                "performance": {"nj-innovation-consortium": "92"},
            },
        },
    }


def table(rows: Sequence[dict[str, Any]], *, chinese: bool = False) -> list[list[Any]]:
    header = [CHINESE[h] if chinese else h for h in HEADERS]
    return [header, *([row.get(h, "") for h in HEADERS] for row in rows)]


def csv_bytes(cells: Sequence[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(cells)
    return out.getvalue().encode(encoding)


def xlsx_bytes(cells: Sequence[Sequence[Any]], *, write_only: bool = False) -> bytes:
    workbook = openpyxl.Workbook(write_only=write_only)
    sheet = workbook.create_sheet() if write_only else workbook.active
    for row in cells:
        sheet.append([None if v == "" else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def many_rows(count: int, seed: int | None = None) -> list[dict[str, Any]]:
    """``count`` good rows with distinct USCCs (fresh ones unless ``seed`` is given: the
    test database is shared by the whole session)."""
    rng = random.Random(seed)
    usccs: set[str] = set()
    rows = []
    while len(rows) < count:
        uscc = random_uscc(rng)
        if uscc in usccs:
            continue
        usccs.add(uscc)
        rows.append(
            good_row(
                uscc,
                name=f"企业{len(rows)}",
                employees=str(rng.randint(1, 5000)),
                revenue_2024=f"{rng.randint(0, 10**9)}.{rng.randint(0, 99):02d}",
            )
        )
    return rows
