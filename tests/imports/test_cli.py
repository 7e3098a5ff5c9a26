"""``incentives import FILE``: report, rejected rows, exit status, on both backends."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from app import cli
from app.config import get_settings
from app.db import repositories as repo
from tests.api.conftest import CATALOG_DIR
from tests.imports.support import csv_bytes, good_row, many_rows, table, xlsx_bytes


@pytest.fixture
def env(db_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url.render_as_string(hide_password=False))
    monkeypatch.setenv("CATALOG_DIR", str(CATALOG_DIR))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("env")
def test_import_prints_the_report_and_rejected_rows(
    tmp_path: Path, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = many_rows(4)
    rows[1]["industry"] = "nope"
    rows[3]["name"] = ""
    path = tmp_path / "企业.xlsx"
    path.write_bytes(xlsx_bytes(table(rows, chinese=True)))

    assert cli.main(["import", str(path), "--actor", "data-bureau", "--show-errors", "1"]) == 0

    out = capsys.readouterr().out
    assert "rows:      4" in out
    assert "accepted:  2 (created 2, updated 0, unchanged 0)" in out
    assert "rejected:  2 row(s), 2 problem(s)" in out
    assert "  row 3, 行业: `nope` is not a known industry; use one of:" in out
    assert "  … and 1 more" in out
    with sessions() as session:
        enterprise = repo.get_enterprise_by_uscc(session, rows[0]["uscc"])
        assert enterprise is not None
        version = repo.get_profile_version(session, enterprise.id, 1)
        assert version is not None and version.created_by == "admin:data-bureau"

    assert cli.main(["import", str(path), "--no-progress"]) == 0
    assert "accepted:  2 (created 0, updated 0, unchanged 2)" in capsys.readouterr().out


@pytest.mark.usefixtures("env")
def test_dry_run_and_json(
    tmp_path: Path, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    row = good_row()
    path = tmp_path / "one.csv"
    path.write_bytes(csv_bytes(table([row])))
    assert cli.main(["import", str(path), "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["created"], report["applied"], report["dry_run"]) == (1, False, True)
    with sessions() as session:
        assert repo.get_enterprise_by_uscc(session, row["uscc"]) is None


@pytest.mark.usefixtures("env")
def test_exit_1_when_nothing_can_be_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(table([good_row(revenue_2024="-1")])))
    assert cli.main(["import", str(path), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert (
        "nothing was applied" in out
        and "row 2, revenue_2024: this amount cannot be negative" in out
    )


@pytest.mark.usefixtures("env")
def test_exit_2_when_the_file_cannot_be_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = tmp_path / "unknown.csv"
    unknown.write_bytes(csv_bytes([["uscc", "name", "注册资本"], ["x", "y", "1"]]))
    assert cli.main(["import", str(unknown)]) == 2
    err = capsys.readouterr().err
    assert "unknown column(s): `注册资本`" in err and "known columns: uscc, 统一社会信用代码" in err
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    assert cli.main(["import", str(old)]) == 2
    assert "old binary Excel file" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.usefixtures("env")
def test_rejected_rows_as_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = many_rows(3)
    rows[0]["revenue_2024"] = "-1"
    rows[2]["industry"] = '=HYPERLINK("http://x","y")'
    path = tmp_path / "企业.csv"
    path.write_bytes(csv_bytes(table(rows, chinese=True)))
    report_path = tmp_path / "rejected.csv"

    assert cli.main(["import", str(path), "--no-progress", "--errors-csv", str(report_path)]) == 0

    text = report_path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    written = list(csv.DictReader(io.StringIO(text[1:], newline="")))
    assert [(r["row"], r["field"]) for r in written] == [("2", "营业收入_2024"), ("4", "行业")]
    assert written[0]["reason"] == "this amount cannot be negative"
    assert written[1]["reason"].startswith('`=HYPERLINK("http://x","y")` is not a known industry')
    capsys.readouterr()
