"""Hostile import files are refused quickly, with a problem that names the limit, and
reading them never takes much memory (over HTTP and through ``incentives import``).

- XLSX: every part's uncompressed size, the whole archive's, and each part's
  compression ratio are limited (checked from the archive's directory first, then again
  while the part streams); a cell holds at most 32,767 characters (Excel's own limit);
  every row counts against the row limit, empty ones too.
- CSV: the file's size, each line's length, each cell's length and the rows (empty
  lines too) are limited while the file streams.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from app import cli
from app.config import get_settings
from app.db.session import migrate
from app.main import create_app
from app.services.bulk_import import XLSX_TYPE
from app.services.import_source import FileTooLarge, ImportLimits
from app.services.import_xlsx import GuardedZip, xlsx_table
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings
from tests.imports import bombs
from tests.imports.support import csv_bytes, many_rows, table, xlsx_bytes

PROBLEM = "application/problem+json"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shared_strings_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 300 MB of shared strings in an upload of a few hundred KB."""
    path = bombs.shared_strings_bomb(tmp_path_factory.mktemp("bombs") / "strings.xlsx", 300)
    assert path.stat().st_size < 2 * 1024 * 1024
    return path


@pytest.fixture(scope="module")
def rows_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty million empty rows."""
    return bombs.empty_rows_bomb(tmp_path_factory.mktemp("bombs") / "rows.xlsx", 20)


def _post(api: TestClient, data: bytes, content_type: str = XLSX_TYPE) -> Any:
    return api.post("/v1/imports", content=data, headers={"Content-Type": content_type})


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------- XLSX over HTTP


def test_a_shared_strings_bomb_is_413(api: TestClient, shared_strings_bomb: Path) -> None:
    problem = _problem(_post(api, shared_strings_bomb.read_bytes()), 413)
    assert "xl/sharedStrings.xml" in problem["detail"]


def test_twenty_million_empty_rows_are_refused(api: TestClient, rows_bomb: Path) -> None:
    response = _post(api, rows_bomb.read_bytes())
    assert response.status_code in (413, 422), response.text
    assert response.headers["content-type"] == PROBLEM


@pytest.fixture
def few_rows_api(db_url: URL) -> Iterator[TestClient]:
    """The app with a row limit of 1,000 (MAX_IMPORT_ROWS)."""
    with TestClient(create_app(make_settings(db_url, max_import_rows=1_000))) as client:
        client.headers["Authorization"] = f"Bearer {issue_token(client.app)}"  # type: ignore[arg-type]
        yield client


def test_empty_rows_count_against_the_row_limit(few_rows_api: TestClient, tmp_path: Path) -> None:
    path = bombs.empty_rows(tmp_path / "empty.xlsx", 1_500)
    problem = _problem(_post(few_rows_api, path.read_bytes()), 422)
    assert "1,000 rows" in problem["detail"] and "MAX_IMPORT_ROWS" in problem["detail"]
    # A file within the limit still imports.
    small = xlsx_bytes(table(many_rows(3)))
    assert _post(few_rows_api, small).status_code == 200


@pytest.mark.parametrize("shared", [False, True], ids=["inline", "shared"])
def test_a_cell_longer_than_excel_allows_is_422(
    api: TestClient, tmp_path: Path, shared: bool
) -> None:
    path = bombs.long_cell(tmp_path / "long.xlsx", 40_000, shared=shared)
    problem = _problem(_post(api, path.read_bytes()), 422)
    assert "32,767 characters" in problem["detail"]
    if not shared:
        assert "row 2" in problem["detail"]


# ---------------------------------------------------------------- CSV over HTTP


def test_a_csv_line_past_the_limit_is_422(api: TestClient) -> None:
    data = b"uscc,name\n" + b"a," * 600_000 + b"\n"
    problem = _problem(_post(api, data, "text/csv"), 422)
    assert "line 2" in problem["detail"] and "characters" in problem["detail"]


def test_a_csv_cell_past_the_limit_is_422(api: TestClient) -> None:
    problem = _problem(_post(api, bombs.csv_with_long_line(40_000), "text/csv"), 422)
    assert "32,767 characters" in problem["detail"]


def test_empty_csv_lines_count_against_the_row_limit(few_rows_api: TestClient) -> None:
    data = csv_bytes(table(many_rows(2))) + b"\r\n" * 1_500
    problem = _problem(_post(few_rows_api, data, "text/csv"), 422)
    assert "1,000 rows" in problem["detail"]


# ---------------------------------------------------------------- the command line


@pytest.fixture
def env(db_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url.render_as_string(hide_password=False))
    monkeypatch.setenv("CATALOG_DIR", str(CATALOG_DIR))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("env")
def test_the_command_refuses_the_bombs(
    shared_strings_bomb: Path, rows_bomb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["import", str(shared_strings_bomb), "--no-progress"]) == 2
    assert "xl/sharedStrings.xml" in capsys.readouterr().err
    assert cli.main(["import", str(rows_bomb), "--no-progress"]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.usefixtures("env")
def test_the_command_keeps_the_csv_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    long_line = tmp_path / "long.csv"
    long_line.write_bytes(b"uscc,name\n" + b"a," * 600_000 + b"\n")
    assert cli.main(["import", str(long_line), "--no-progress"]) == 2
    assert "line 2" in capsys.readouterr().err

    big = tmp_path / "big.csv"
    big.write_bytes(csv_bytes(table(many_rows(400))))
    monkeypatch.setenv("MAX_IMPORT_BYTES", "100000")
    get_settings.cache_clear()
    assert big.stat().st_size > 100_000
    assert cli.main(["import", str(big), "--no-progress"]) == 2
    assert "MAX_IMPORT_BYTES" in capsys.readouterr().err

    monkeypatch.setenv("MAX_IMPORT_ROWS", "10")
    get_settings.cache_clear()
    empty_lines = tmp_path / "empty.csv"
    empty_lines.write_bytes(csv_bytes(table(many_rows(1))) + b"\n" * 20)
    assert cli.main(["import", str(empty_lines), "--no-progress"]) == 2
    assert "10 rows" in capsys.readouterr().err


# ---------------------------------------------------------------- memory stays bounded


def _peak_rss_mib(path: Path, env: dict[str, str], log: Path) -> tuple[float, int]:
    """Run ``incentives import PATH --dry-run`` in a child process: its peak RSS and exit."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "import", str(path), "--dry-run", "--no-progress"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own resource usage
    child.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, child.returncode  # ru_maxrss is in KiB on Linux


def test_reading_a_bomb_takes_little_more_memory_than_a_small_file(
    tmp_path: Path, shared_strings_bomb: Path, rows_bomb: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'rss.db'}"
    migrate(database)
    env = {**os.environ, "DATABASE_URL": database, "CATALOG_DIR": str(CATALOG_DIR)}
    small = tmp_path / "small.xlsx"
    small.write_bytes(xlsx_bytes(table(many_rows(5))))
    baseline, status = _peak_rss_mib(small, env, tmp_path / "small.log")
    assert status == 0, (tmp_path / "small.log").read_text()
    for bomb in (shared_strings_bomb, rows_bomb):
        peak, status = _peak_rss_mib(bomb, env, tmp_path / "bomb.log")
        assert status == 2, (tmp_path / "bomb.log").read_text()
        assert peak < baseline + 100, f"{bomb.name}: {peak:.0f} MiB against {baseline:.0f} MiB"


# ---------------------------------------------------------------- the archive itself


def test_an_archive_of_too_many_parts_is_413(api: TestClient, tmp_path: Path) -> None:
    path = bombs.many_parts(tmp_path / "parts.xlsx", 10_001)
    problem = _problem(_post(api, path.read_bytes()), 413)
    assert "parts" in problem["detail"]


def test_a_part_whose_directory_understates_it_is_never_inflated_past_that(
    api: TestClient, tmp_path: Path
) -> None:
    """zipfile stops a part at the size the directory declares; the check of the part's
    content (a checksum) then fails: a damaged workbook, not a bomb that got through."""
    path = bombs.shared_strings_bomb(tmp_path / "lying.xlsx", 50)
    bombs.understate(path, "xl/sharedStrings.xml", 4096)
    problem = _problem(_post(api, path.read_bytes()), 422)
    assert "readable" in problem["detail"] or "damaged" in problem["detail"]


def test_parts_are_counted_while_they_inflate(tmp_path: Path) -> None:
    """The guard counts what comes out of a part, whatever the directory said."""
    path = bombs.workbook(tmp_path / "w.xlsx", [bombs.inline_row(1, "uscc", "name")])
    with path.open("rb") as stream, GuardedZip(stream, ImportLimits(max_part_bytes=100)) as zf:
        assert zf.getinfo("xl/workbook.xml").file_size > 100
        with pytest.raises(FileTooLarge, match="past 100 bytes"):
            zf.read("xl/workbook.xml")
    with path.open("rb") as stream:
        rels = zipfile.ZipFile(stream).getinfo("_rels/.rels").file_size
        limits = ImportLimits(max_total_bytes=rels + 10)
        with GuardedZip(stream, limits) as zf:
            zf.read("_rels/.rels")
            with pytest.raises(FileTooLarge, match="parts inflate past"):
                zf.read("xl/_rels/workbook.xml.rels")
        with pytest.raises(FileTooLarge, match="together"):
            xlsx_table(stream, limits)  # the directory already says so
