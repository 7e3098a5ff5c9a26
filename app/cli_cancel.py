"""What ``incentives runs cancel`` and ``incentives imports cancel`` share: one
transaction on the configured database, and the answers a terminal shows."""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy.orm import Session

from app.config import get_settings


def cancel_from_cli(what: str, object_id: str, cancel: Callable[[Session, str], bool]) -> int:
    """Run ``cancel`` (False: no such object) in one transaction; the exit status: 0 when
    cancelled, 1 when there is no such object or it cannot be cancelled (it has finished)."""
    from app.db.session import make_engine, make_sessionmaker
    from app.services.errors import ServiceError

    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            if not cancel(session, object_id):
                print(f"error: no {what} {object_id}", file=sys.stderr)
                return 1
    except ServiceError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"{what} {object_id} cancelled")
    return 0
