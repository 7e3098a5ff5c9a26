"""Shared fixtures.

Database fixtures run every test that uses them on both backends: ``sqlite`` (a temp
file) and ``postgres`` (a database created for this test session on the server named
by ``TEST_POSTGRES_URL`` and dropped at the end). Both are built by
``alembic upgrade head``, never by ``create_all``, so the tests exercise the
migrations. A test using ``db_session`` runs in a transaction that is rolled back
afterwards; the database itself (``db_url``) is shared by the whole session, and
tests that go through the app commit to it, so no test may assume it is empty.

PostgreSQL is never skipped silently: an unreachable server fails the tests, unless
``INCENTIVES_SKIP_POSTGRES=1`` (then they are skipped with the reason). Select one
backend with ``-m postgres`` / ``-m "not postgres"``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db.session import make_engine, migrate, normalize_url

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# ---------------------------------------------------------------- database fixtures


@pytest.fixture(scope="session")
def postgres_admin_url() -> URL:
    """The server to create test databases on; fails (or skips) if it is unreachable."""
    url = normalize_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    problem = None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        problem = str(exc.orig).strip()
    finally:
        engine.dispose()
    if problem is not None:
        reason = (
            f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable "
            f"({problem}). Start it, point TEST_POSTGRES_URL at one, or set "
            "INCENTIVES_SKIP_POSTGRES=1 to skip the PostgreSQL tests."
        )
        if os.environ.get("INCENTIVES_SKIP_POSTGRES") == "1":
            pytest.skip(reason)
        pytest.fail(reason, pytrace=False)
    return url


@contextmanager
def _postgres_database(admin_url: URL) -> Iterator[URL]:
    """A new, empty database on the test server, dropped on exit."""
    name = f"incentives_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _empty_database(backend: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[URL]:
    if backend == "sqlite":
        yield normalize_url(f"sqlite:///{tmp / 'incentives.db'}")
    else:
        with _postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
            yield url


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``; every database fixture follows it."""
    return str(request.param)


@pytest.fixture(scope="session")
def db_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[URL]:
    """A database migrated to head, shared by the whole test session."""
    with _empty_database(db_backend, request, tmp_path_factory.mktemp("db")) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def db_engine(db_url: URL) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with db_engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def db_session(db_connection: Connection) -> Iterator[Session]:
    """A session in the test's transaction: its ``commit()`` only releases a savepoint,
    so code under test may commit and the test still leaves nothing behind."""
    session = Session(
        bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def fresh_db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """An empty database of its own (not migrated): for migration tests and for tests
    that must really commit, e.g. with several concurrent connections."""
    with _empty_database(db_backend, request, tmp_path) as url:
        yield url


@pytest.fixture
def allow_audit_tampering() -> Callable[[Session], AbstractContextManager[None]]:
    """Switch off the append-only triggers of audit_log inside a ``with`` block, to
    simulate an attacker with write access to the database (both backends)."""

    @contextmanager
    def tampering(session: Session) -> Iterator[None]:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            yield
            session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
            return
        triggers = session.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            )
        ).all()
        for name, _sql in triggers:
            session.execute(text(f'DROP TRIGGER "{name}"'))
        yield
        for _name, sql in triggers:
            session.execute(text(sql))

    return tampering


# ---------------------------------------------------------------- scheduling under xdist

_BACKEND_PARAM = re.compile(r"\[(?:.*-)?(sqlite|postgres)(?:-.*)?\]$")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test`` (``-n N --dist loadscope``): each module's tests go to one worker,
    so a module's server or database fixture is made once, not once per worker; and the
    ledger package's tests go by backend, so its shared server (four workers, some 15 s
    of CPU to start) starts once per backend: spread test by test, each worker started
    its own, and again each time its next test was of the other backend (a package
    fixture keeps one parameter at a time)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModuleAndLedgerBackend(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/ledger/"):
                backend = _BACKEND_PARAM.search(nodeid)
                return f"tests/ledger[{backend.group(1) if backend else ''}]"
            return nodeid.split("::", 1)[0]

    return ByModuleAndLedgerBackend(config, log)
