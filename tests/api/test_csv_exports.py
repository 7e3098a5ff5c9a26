"""CSV exports cannot carry a formula into a spreadsheet, and numbers stay numbers.

A text cell that begins with ``= + - @``, a tab or a carriage return comes out with a
single quote in front (OWASP's advice for CSV injection); money and counts are written
as plain numbers, a negative amount included. Every CSV the service writes goes through
``app/services/csv_export.py``; the last test holds the code to that.
"""

from __future__ import annotations

import ast
import csv
import io
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services.csv_export import cell, write_csv
from tests.api.support import create_enterprise, nanjing, post_award, profile

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_NAMES = [
    '=HYPERLINK("http://x","y")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]
# A name cannot begin with a tab or a carriage return (names are HumanText, which
# refuses control characters), but the writer guards those cells all the same:
# a row stored before that check, or another text column, may hold one.
CONTROL_STARTS = ["\t=1+1", "\r=1+1"]


def _table(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff"), "Excel needs the byte-order mark for Chinese text"
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def _green_factory(name: str) -> dict[str, Any]:
    return profile(
        name,
        kind="enterprise",
        location=nanjing("jiangning", "jiangning-development-zone"),
        industry="manufacturing",
        compliance={"serious_dishonesty": False, "major_incident_last_year": False},
        recognitions=[{"kind": "green_factory", "level": "national", "granted_on": "2024-01-05"}],
    )


def _award_for(client: TestClient, name: str) -> tuple[str, dict[str, Any]]:
    enterprise = create_enterprise(client, _green_factory(name))
    response = post_award(client, enterprise["id"], "nj-green-manufacturing", 2024)
    assert response.status_code == 201, response.text
    return enterprise["id"], response.json()


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_awards_csv_neutralises_a_formula_in_a_name(client: TestClient, name: str) -> None:
    enterprise_id, award = _award_for(client, name)
    rows = _table(client.get("/v1/audit/awards.csv", params={"enterprise_id": enterprise_id}))
    assert len(rows) == 1
    row = rows[0]
    assert row["enterprise_name"] == "'" + name
    # Numbers are data: the amount and the year stay plain numbers.
    assert Decimal(row["amount"]) == Decimal(award["amount"])
    assert row["fiscal_year"] == "2024"


@pytest.mark.parametrize("name", CONTROL_STARTS, ids=repr)
def test_a_name_starting_with_a_control_character_is_refused_and_the_writer_quotes_it(
    client: TestClient, name: str
) -> None:
    refused = client.post("/v1/enterprises", json=_green_factory(name))
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["pointer"] == "/name"
    assert cell(name) == "'" + name
    out = io.StringIO()
    write_csv(out, ["name", "amount"], [[name, Decimal("-12.00")]])
    (row,) = csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff"), newline=""))
    assert row == {"name": "'" + name, "amount": "-12.00"}


def test_no_cell_of_the_exports_starts_a_formula(client: TestClient) -> None:
    enterprise_id, _ = _award_for(client, '=HYPERLINK("http://x","y")')
    for path, params in (
        ("/v1/audit/awards.csv", {"enterprise_id": enterprise_id}),
        ("/v1/audit/events.csv", {}),
    ):
        rows = _table(client.get(path, params=params))
        assert rows, path
        for row in rows:
            for column, value in row.items():
                assert not value.startswith(FORMULA_STARTS), (path, column, value)


def test_matching_results_csv_writes_amounts_as_numbers(client: TestClient) -> None:
    create_enterprise(client, _green_factory("-南京公式测试有限公司"))
    started = client.post("/v1/matching/runs", json={"fiscal_year": 2024})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    for _ in range(600):  # the run is a background job: poll it, a bounded number of times
        run = client.get(f"/v1/matching/runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert run["status"] == "done", run
    rows = _table(client.get(f"/v1/matching/runs/{run_id}/results.csv"))
    amounts = [row["amount"] for row in rows if row["amount"]]
    assert amounts
    for amount in amounts:
        assert Decimal(amount) >= 0, amount  # a number, not "'…" text
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_STARTS), row


def _csv_writers(tree: ast.AST) -> list[int]:
    """Lines that make a csv writer (``csv.writer``, ``csv.DictWriter``)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "csv"
        and node.attr in ("writer", "DictWriter")
    ]


def test_every_csv_is_written_by_the_one_writer() -> None:
    """Only app/services/csv_export.py makes csv writers; routes and commands use it."""
    allowed = REPO_ROOT / "app" / "services" / "csv_export.py"
    offenders = []
    for path in sorted((REPO_ROOT / "app").rglob("*.py")):
        if path == allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(REPO_ROOT)}:{line}" for line in _csv_writers(tree)]
    assert not offenders, f"write CSV through app/services/csv_export.py: {offenders}"
