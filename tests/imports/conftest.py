"""Fixtures of the import tests: the catalog, sessions that really commit, the app.

Everything runs on both backends (``db_url``). The database is shared with the rest
of the session, so each test uses fresh USCCs and counts rows relative to a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import Catalog, load_catalog
from app.db.models import AuditLog, Enterprise, ProfileVersion
from app.db.session import make_sessionmaker
from app.main import create_app
from app.services.actors import Actor
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings

ADMIN = Actor(name="import-tests", role="admin")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


@pytest.fixture(scope="session")
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(db_engine)


@pytest.fixture
def counts(sessions: sessionmaker[Session]) -> Callable[[], dict[str, int]]:
    """Rows in the tables an import writes (to compare before and after)."""

    def count() -> dict[str, int]:
        with sessions() as session:
            return {
                model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Enterprise, ProfileVersion, AuditLog)
            }

    return count


@pytest.fixture(scope="session")
def api(db_url: URL) -> Iterator[TestClient]:
    """The app on the session's database, with an admin key (``api.app.state`` for more)."""
    with TestClient(create_app(make_settings(db_url))) as client:
        token = issue_token(client.app)  # type: ignore[arg-type]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture(scope="session")
def token_for(api: TestClient) -> Callable[..., str]:
    def issue(role: str, **scope: Any) -> str:
        return issue_token(api.app, role, **scope)  # type: ignore[arg-type]

    return issue
