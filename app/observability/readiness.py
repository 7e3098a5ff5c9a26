"""``GET /health/ready``: small named checks, run in order until one fails.

A check takes the application's state and returns None when it passes, or what is
wrong in a sentence an operator can act on (never a credential or a server's own
error text: the route is open). ``READINESS_CHECKS`` is the list; a part of the
service that must be up before traffic is sent (the job workers, say) adds its own.

The checks that ask the database do so on a connection of their own (``_probe_engine``),
never one of the service's pool: a new connection to PostgreSQL waits at most
``READY_CONNECT_TIMEOUT`` seconds, so a database that is down, or a host that no longer
answers, is a 503 naming the check within the probe's own timeout, not a wait for the
driver's (psycopg's default is 130 s) or for a free connection of a busy pool. On
SQLite they read without a transaction, so a long import's write lock does not hold
them up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.db.session import alembic_config, make_engine
from app.jobs.stats import workers_seen

log = logging.getLogger("incentives")


@dataclass(frozen=True)
class Check:
    name: str
    #: None when ready; otherwise what is wrong
    probe: Callable[[Any], str | None]


#: Seconds a readiness check waits for a new PostgreSQL connection (for each address
#: the host name has): libpq's least, and below `incentives probe`'s 3 s.
READY_CONNECT_TIMEOUT = 2


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    # NullPool: nothing is kept between checks, so the engine needs no disposing.
    return make_engine(
        url,
        poolclass=NullPool,
        connect_timeout=READY_CONNECT_TIMEOUT,
        sqlite_write_lock=False,
    )


def _probe_engine(state: Any) -> Engine:
    """The engine the checks connect with: DATABASE_URL's, one new connection a check."""
    return _engine_for(state.settings.database_url)


def database_answers(state: Any) -> str | None:
    engine = _probe_engine(state)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("readiness: the database did not answer", exc_info=True)
        return "the database does not answer (the service's log has the error)"
    return None


@lru_cache(maxsize=1)
def migration_heads() -> frozenset[str]:
    """The revisions this release's migrations end at (read from the package once)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def migrations_at_head(state: Any) -> str | None:
    engine = _probe_engine(state)
    try:
        with engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError:
        log.warning("readiness: the schema's revision could not be read", exc_info=True)
        return "the schema's revision cannot be read (the service's log has the error)"
    wanted = migration_heads()
    if current != wanted:
        found = ", ".join(sorted(current)) or "no revision"
        return (
            f"the database is at {found}, this release needs {', '.join(sorted(wanted))}: "
            "run `incentives migrate`"
        )
    return None


def catalog_loaded(state: Any) -> str | None:
    catalog = getattr(state, "catalog", None)
    if catalog is None or not catalog.policies:
        return "no policy catalog is loaded"
    return None


def workers_alive(state: Any) -> str | None:
    """A service that queues jobs for worker processes is ready only while one of them
    has been heard from: otherwise runs would be accepted and never executed. A service
    that executes its own jobs (SQLite, JOBS_IN_PROCESS) is its own worker."""
    settings = state.settings
    if settings.runs_jobs_in_process:
        return None
    within = timedelta(seconds=settings.worker_stalled_seconds)
    try:
        with Session(_probe_engine(state)) as session:
            seen = workers_seen(session, within)
    except SQLAlchemyError:
        log.warning("readiness: the workers' heartbeats could not be read", exc_info=True)
        return "the job workers' heartbeats cannot be read (the service's log has the error)"
    if seen == 0:
        return (
            f"no job worker has been heard from in {settings.worker_stalled_seconds:g} s: "
            "start `incentives worker`"
        )
    return None


READINESS_CHECKS: list[Check] = [
    Check("database", database_answers),
    Check("migrations", migrations_at_head),
    Check("catalog", catalog_loaded),
    Check("workers", workers_alive),
]


def readiness(state: Any) -> tuple[dict[str, str], Check | None, str | None]:
    """Each check's outcome (``ok``, or what is wrong) up to the first failure, the
    check that failed and why (None, None when every one passed)."""
    outcomes: dict[str, str] = {}
    for check in READINESS_CHECKS:
        problem = check.probe(state)
        outcomes[check.name] = problem or "ok"
        if problem is not None:
            return outcomes, check, problem
    return outcomes, None, None
