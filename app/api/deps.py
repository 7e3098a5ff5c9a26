"""Dependencies shared by the routers: settings, catalog, database session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

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


T = TypeVar("T")


async def in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """``work`` with a session of its own, committed if it returns and rolled back if it
    raises, all in one hop to the thread pool.

    For routes whose every step needs the database (the ledger's writes): with
    ``SessionDep`` and ``ActorDep`` the key's check, the route and the commit each took a
    thread of their own, and the hops cost more CPU than some of the statements. The
    commit still comes before the response is sent, as with ``SessionDep``; and the
    thread is not abandoned if the request is cancelled, so the work and its commit or
    rollback always finish together.
    """
    return await run_in_threadpool(_in_transaction, request.app.state.sessionmaker, work)


def _in_transaction(make_session: Callable[[], Session], work: Callable[[Session], T]) -> T:
    session = make_session()
    try:
        result = work(session)
    except BaseException:
        _end(session, False)
        raise
    _end(session, True)
    return result


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
