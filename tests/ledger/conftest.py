"""A real server for the ledger tests: uvicorn with four worker processes.

The ledger's guarantees (no overspending, one effect per Idempotency-Key, no
half-written award after a crash, a tamper-evident audit chain) are about several
processes sharing one database, so these tests talk HTTP to ``uvicorn --workers 4``
started as a subprocess, on both backends:

- ``fresh_db_url`` is overridden here with *module* scope: the same contract as the
  one in ``tests/conftest.py`` (an empty database of its own, parametrised over
  ``db_backend`` = sqlite file | postgres, PostgreSQL never skipped silently), but one
  per test module, so each module starts its server once per backend;
- ``server`` migrates it, issues an admin key through the service and starts the
  server; it is stopped (SIGTERM, then SIGKILL of its process group) at teardown;
- ``admin`` is a synchronous httpx client with that key.

Every request goes to 127.0.0.1 with a timeout (``trust_env=False``: no proxy);
every loop is bounded.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import URL

from app.db.session import migrate
from tests.conftest import _empty_database
from tests.ledger.server import LedgerServer

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fresh_db_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[URL]:
    """An empty database of its own (sqlite file or a new PostgreSQL database), one per
    test module and backend (see the module docstring)."""
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("ledger-db")) as url:
        yield url


@pytest.fixture(scope="module")
def server(fresh_db_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerServer]:
    migrate(fresh_db_url)
    srv = LedgerServer(fresh_db_url, tmp_path_factory.mktemp("ledger-server"))
    srv.admin_token = srv.issue("admin", label="ledger-admin")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.engine.dispose()


@pytest.fixture(scope="module")
def admin(server: LedgerServer) -> Iterator[httpx.Client]:
    with server.client(server.admin_token) as client:
        yield client
