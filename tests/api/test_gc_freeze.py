"""A started service freezes what start-up made (GC_FREEZE, on by default): full garbage
collections no longer walk the catalog and its compiled plans. Each case runs in a
process of its own, since frozen objects are never freed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.db.session import migrate

SCRIPT = """
import gc, sys
from fastapi.testclient import TestClient
from app.config import Settings
from app.main import create_app
settings = Settings(database_url=sys.argv[1], **({{}} if sys.argv[2] == "default" else {{"gc_freeze": False}}))
with TestClient(create_app(settings)) as client:
    assert client.get("/health/live").status_code == 200
    print(gc.get_freeze_count())
"""


@pytest.mark.parametrize(("setting", "frozen"), [("default", True), ("off", False)])
def test_start_up_objects_are_frozen_unless_told_not_to(
    tmp_path: Path, setting: str, frozen: bool
) -> None:
    url = f"sqlite:///{tmp_path / 'incentives.db'}"
    migrate(url)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(), url, setting],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    count = int(done.stdout.strip().splitlines()[-1])
    # The catalog alone is well over 100,000 objects; unfrozen, nothing is.
    assert (count > 100_000) is frozen, count
