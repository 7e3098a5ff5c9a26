"""What a job needs: the settings, the catalog, sessions, and who is executing it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import Catalog, load_catalog
from app.config import Settings
from app.db.session import make_engine, make_sessionmaker


def worker_name() -> str:
    """This process, as a shard records who took it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    make_session: sessionmaker[Session]
    engine: Engine | None = None
    worker: str = field(default_factory=worker_name)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        engine = make_engine(
            settings.database_url, connect_timeout=settings.database_connect_timeout
        )
        return cls(settings, load_catalog(settings.catalog_dir), make_sessionmaker(engine), engine)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
