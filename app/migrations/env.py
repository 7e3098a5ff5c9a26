"""Alembic environment: where the database is and how to talk to it.

The database is, in order of precedence:
1. ``config.attributes["connection"]``: an open SQLAlchemy connection handed in by a
   caller (tests, or code that must migrate inside its own transaction);
2. ``config.attributes["url"]``: set by ``app.db.session.migrate``;
3. ``sqlalchemy.url`` if a caller or alembic.ini sets it;
4. the ``MIGRATE_DATABASE_URL`` environment variable (the schema owner, where the
   service runs as another role), else ``DATABASE_URL`` (the usual way from the
   command line).

Engines come from ``app.db.session.make_engine`` so that the URL rewriting and SQLite
settings are the application's own, except that SQLite foreign keys are off while
migrating: batch mode rebuilds tables by copy-and-drop.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from app.db.models import Base
from app.db.session import make_engine, normalize_url, ours

config = context.config
if config.config_file_name is not None:  # the CLI (alembic.ini); migrate() has none
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def _database_url() -> URL:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("MIGRATE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError(
            "No database to migrate: set DATABASE_URL (e.g. "
            "postgresql://postgres@127.0.0.1:5432/incentives or sqlite:///incentives.db)"
        )
    return normalize_url(url)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        include_name=ours,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    url = _database_url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite's DDL is transactional once SQLAlchemy issues BEGIN itself (as
    # app.db.session arranges), so a failed upgrade leaves nothing half-done; Alembic
    # assumes the opposite for SQLite unless told.
    _configure(connection=connection, render_as_batch=sqlite, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url(), sqlite_foreign_keys=False)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
