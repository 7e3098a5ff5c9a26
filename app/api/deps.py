"""Dependencies shared by the routers: settings, catalog, database session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

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


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the route returns, rolled back if it raises.

    Services and repositories never commit; this is the one place that does.
    """
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# FIX (ledger tests): scope="function" commits when the route returns, before the
# response is sent. With FastAPI's default ("request") the commit ran after the client
# had its 2xx: a read right after a write could miss it (seen on PostgreSQL), and a
# failed commit, or a worker killed in between, lost a change the client was told of.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
