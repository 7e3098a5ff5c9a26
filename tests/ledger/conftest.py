"""A real server for the ledger tests: uvicorn with four worker processes.

The ledger's guarantees (no overspending, one effect per Idempotency-Key, no
half-written award after a crash, a tamper-evident audit chain) are about several
processes sharing one database, so these tests talk HTTP to ``uvicorn --workers 4``
started as a subprocess, on both backends (``db_backend`` = an SQLite file | a
PostgreSQL database; PostgreSQL is never skipped silently, see tests/conftest.py).

- ``fresh_db_url`` is overridden here: the same contract as in tests/conftest.py (an
  empty database of its own, for each backend) but shared by the tests of the whole
  package, because one start of four workers costs ~15 s of CPU (each imports the app
  and loads the catalog). With ``LEDGER_SERVER_PER_MODULE=1`` every module gets a
  database and a server of its own instead (slower, fully isolated; the tests pass
  both ways: each module works in fiscal years and budgets of its own and filters
  what it reads by its own ids);
- ``server`` migrates it, issues an admin key through the service and starts the
  server; it is stopped (SIGTERM, then SIGKILL of its process group) at teardown;
  ``own_server`` is a module's own database and server, for a module that restarts
  it (test_replay.py);
- ``admin`` is a synchronous httpx client with the admin key.

Every request goes to 127.0.0.1 with a timeout (``trust_env=False``: no proxy);
every loop is bounded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import httpx
import pytest
from sqlalchemy.engine import URL

from app.db.session import migrate
from tests.conftest import _empty_database
from tests.ledger.server import LedgerServer


def _shared_scope(fixture_name: str, config: pytest.Config) -> Literal["module", "package"]:
    return "module" if os.environ.get("LEDGER_SERVER_PER_MODULE") == "1" else "package"


@contextmanager
def _running(url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerServer]:
    migrate(url)
    srv = LedgerServer(url, tmp_path_factory.mktemp("ledger-server"))
    srv.admin_token = srv.issue("admin", label="ledger-admin")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.engine.dispose()


@pytest.fixture(scope=_shared_scope)
def fresh_db_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[URL]:
    """An empty database of its own (an SQLite file or a new PostgreSQL database)."""
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("ledger-db")) as url:
        yield url


@pytest.fixture(scope=_shared_scope)
def server(fresh_db_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerServer]:
    with _running(fresh_db_url, tmp_path_factory) as srv:
        yield srv


@pytest.fixture(scope=_shared_scope)
def admin(server: LedgerServer) -> Iterator[httpx.Client]:
    with server.client(server.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def own_server(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LedgerServer]:
    """A database and a server for this module alone (it may restart it)."""
    with (
        _empty_database(db_backend, request, tmp_path_factory.mktemp("ledger-db")) as url,
        _running(url, tmp_path_factory) as srv,
    ):
        yield srv
