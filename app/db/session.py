"""Engines, sessions and migrations for PostgreSQL (production) and SQLite (small sites).

SQLite is configured for several worker processes writing to one file:
- WAL, so readers do not block the writer;
- ``busy_timeout`` 30 s, so a writer waits for the lock instead of failing at once;
- every transaction starts with ``BEGIN IMMEDIATE``. The sqlite3 driver would
  otherwise begin lazily with a deferred ``BEGIN`` at the first write; a transaction
  that has read and then wants to write can then fail with "database is locked" in
  the middle (the busy handler cannot help a reader upgrading to a writer). Taking
  the write lock up front makes concurrent writers queue behind each other, which is
  also why ``SELECT ... FOR UPDATE`` is unnecessary (and ignored) there. This is
  SQLAlchemy's documented recipe: ``isolation_level = None`` on connect, our own
  ``BEGIN`` on the ``begin`` event;
- ``foreign_keys=ON``, which SQLite leaves off by default;
- the file is created readable and writable by its owner only (0600), see
  ``_create_private``.

PostgreSQL goes through psycopg 3; bare ``postgresql://``/``postgres://`` URLs (as
most hosting platforms hand them out) are rewritten to ``postgresql+psycopg://``.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

# The migrations ship inside the package (package data), so an installed service (the
# Docker image's `pip install`) finds them as a checkout does, from any working directory.
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``, sending bare PostgreSQL URLs to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(
    url: str | URL,
    *,
    sqlite_foreign_keys: bool = True,
    sqlite_write_lock: bool = True,
    connect_timeout: int | None = None,
    **kwargs: Any,
) -> Engine:
    """Create an engine for ``url`` with the settings described in the module docstring.

    ``sqlite_foreign_keys=False`` exists for migrations only: Alembic's batch mode
    rebuilds SQLite tables by copy-and-drop, which enforced foreign keys would break.
    ``sqlite_write_lock=False`` makes an engine that only reads (readiness): its
    statements take no ``BEGIN IMMEDIATE``, so they never wait for a writer.
    ``connect_timeout`` (seconds, PostgreSQL) bounds how long a new connection may take
    (libpq's ``connect_timeout``; psycopg waits 130 s without it), unless the URL says.
    Extra keyword arguments go to ``create_engine``.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        _create_private(parsed)
        engine = create_engine(parsed, **kwargs)
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys, write_lock=sqlite_write_lock)
        return engine
    if connect_timeout is not None and "connect_timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"connect_timeout": str(connect_timeout)})
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_engine(parsed, **kwargs)
    _ping_when_idle(engine)
    return engine


#: A pooled connection unused this long is pinged before it is handed out again.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping`` costs a round trip on every checkout, that is on every request.
    A connection in steady use is known to be alive; one that sat in the pool (where a
    server restart or a firewall may have dropped it) is pinged first. A failed ping
    makes the pool retry with a fresh connection (SQLAlchemy's DisconnectionError)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:  # any failure: this connection is not to be used
            raise DisconnectionError(str(exc)) from exc


def _create_private(url: URL) -> None:
    """Create a missing SQLite file with mode 0600 before SQLite creates it.

    SQLite would create it with the umask's mode, usually 0644: every local user could
    read the key hashes, the enterprises' finances and the audit log. SQLite gives the
    ``-wal`` and ``-shm`` files beside it the database file's own mode. An existing file
    is left as it is (``chmod 600`` it). In-memory and ``file:`` URI databases have no
    such file.
    """
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if url.query.get("uri"):
        return
    # A missing directory is SQLite's error to report ("unable to open database file").
    with suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure_sqlite(engine: Engine, *, foreign_keys: bool, write_lock: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the `begin` hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    if not write_lock:
        return  # no BEGIN at all: each statement on its own, as the driver runs it

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether Alembic's autogenerate compares a schema object: not the job queue's
    (procrastinate), whose schema is its own, applied whole by migration 0006."""
    return not (name or "").startswith("procrastinate_")


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for this repository's migrations, built without alembic.ini.

    The URL travels in ``config.attributes`` rather than ``sqlalchemy.url`` because the
    latter goes through ConfigParser interpolation, which mangles ``%`` in passwords.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["url"] = normalize_url(url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(url: str | URL, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (``alembic upgrade head``)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str = "base") -> None:
    """Take the database at ``url`` down to ``revision`` (default: empty)."""
    command.downgrade(alembic_config(url), revision)
