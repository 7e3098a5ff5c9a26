"""The application under test, once per database backend.

``client`` is session-scoped and follows ``db_url`` (sqlite and postgres), so every
API test runs on both backends against one migrated database each. Tests share that
database, so each one creates its own enterprises (``random_uscc()``) and never
assumes it is alone in a list.

The client carries an admin API key (issued through the service, as ``incentives keys
issue`` does), so these tests see everything; what other roles may see is tested
with the keys themselves. The open calculator's rate limit is lifted here: these
tests call it far more often than a person would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from app.config import Settings
from app.main import create_app
from app.services.actors import SYSTEM
from app.services.keys import issue_key

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = REPO_ROOT / "policy_catalog"


def make_settings(database_url: str | URL, **overrides: Any) -> Settings:
    if isinstance(database_url, URL):
        database_url = database_url.render_as_string(hide_password=False)
    values: dict[str, Any] = {
        "database_url": database_url,
        "catalog_dir": CATALOG_DIR,
        "public_rate_limit_per_minute": 1_000_000,
        # The app executes its own jobs, so a run started over HTTP finishes without
        # a worker process (tests/population/test_workers.py has the workers).
        "jobs_in_process": True,
        # A test process starts many apps: objects frozen for one would never be freed.
        "gc_freeze": False,
        **overrides,
    }
    return Settings(**values)


def issue_token(app: FastAPI, role: str = "admin", **scope: Any) -> str:
    """A fresh API key for the running app (its start-up must have run)."""
    with app.state.sessionmaker.begin() as session:
        issued = issue_key(
            session, app.state.catalog, role=role, label=f"api-tests-{role}", actor=SYSTEM, **scope
        )
        return issued.token


@pytest.fixture(scope="session")
def client(db_url: URL) -> Iterator[TestClient]:
    """The app on the session's database (both backends), with an admin key."""
    with TestClient(create_app(make_settings(db_url))) as test_client:
        token = issue_token(test_client.app)  # type: ignore[arg-type]
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client
