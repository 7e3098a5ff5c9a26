"""The SQLite database is readable by its owner only.

It holds API key hashes, enterprises' finances and the audit log; with the usual umask
(022) SQLite would create it, and its WAL and shared-memory files, readable by every
user of the machine.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import cli
from app.config import get_settings
from app.main import create_app
from tests.api.conftest import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
def test_migrate_creates_the_database_for_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "incentives.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    try:
        assert cli.main(["migrate"]) == 0
    finally:
        get_settings.cache_clear()
    assert mode(database) == 0o600

    # The service's own files beside it (write-ahead log, shared memory) follow it.
    with TestClient(create_app(make_settings(f"sqlite:///{database}"))) as client:
        assert client.get("/health").status_code == 200
        beside = [tmp_path / "incentives.db-wal", tmp_path / "incentives.db-shm"]
        assert {path.name: mode(path) for path in beside} == {p.name: 0o600 for p in beside}
