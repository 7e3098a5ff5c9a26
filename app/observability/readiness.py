"""``GET /health/ready``: small named checks, run in order until one fails.

A check takes the application's state and returns None when it passes, or what is
wrong in a sentence an operator can act on (never a credential or a server's own
error text: the route is open). ``READINESS_CHECKS`` is the list; a part of the
service that must be up before traffic is sent (the job workers, say) adds its own.
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

from app.db.session import alembic_config
from app.jobs.stats import workers_seen

log = logging.getLogger("incentives")


@dataclass(frozen=True)
class Check:
    name: str
    #: None when ready; otherwise what is wrong
    probe: Callable[[Any], str | None]


def database_answers(state: Any) -> str | None:
    engine: Engine = state.engine
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
    engine: Engine = state.engine
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
        with state.sessionmaker() as session:
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
