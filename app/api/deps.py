"""Dependencies shared by the routers: settings, catalog, database session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.catalog.loader import Catalog
from app.config import Settings


# The two readers of app.state are coroutines: FastAPI runs a plain function dependency
# on the thread pool, a hop that costs more than reading an attribute.
async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed if the route returns, rolled back if it raises.

    Services and repositories never commit; this is the one place that does. A
    coroutine, so that opening the session (no I/O: the connection is taken at its
    first statement, on the thread pool) costs no hop to a thread; ending it does
    the database's work in one.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end, session, False)
        raise
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_end, session, True)


def _end(session: Session, commit: bool) -> None:
    """Commit or roll back, then close (which also rolls back a commit that failed)."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# FIX (ledger tests): scope="function" commits when the route returns, before the
# response is sent. With FastAPI's default ("request") the commit ran after the client
# had its 2xx: a read right after a write could miss it (seen on PostgreSQL), and a
# failed commit, or a worker killed in between, lost a change the client was told of.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
