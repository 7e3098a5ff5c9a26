"""``incentives db grant --role NAME``: give the service's PostgreSQL role what it needs.

Run as the schema's owner (``MIGRATE_DATABASE_URL``, else ``DATABASE_URL``) after every
migration; ``incentives migrate --grant-to NAME`` does both. What is granted is in
app/db/privileges.py.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.engine import make_url

from app.config import get_settings
from app.db.privileges import GrantError, grant_service_role
from app.db.session import make_engine


def grant(url: str, role: str) -> int:
    """Grant ``role`` the service's privileges on the database at ``url``; print them."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            granted = grant_service_role(connection, role)
    except GrantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    where = make_url(url).render_as_string(hide_password=True)
    print(f"role {role} on {where} may now (and may only):")
    for table, privileges in granted.items():
        print(f"  {table}: {', '.join(privileges)}")
    return 0


def _grant(args: argparse.Namespace) -> int:
    return grant(get_settings().owner_database_url, args.role)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub = commands.add_parser("db", help="the database itself").add_subparsers(
        dest="db_command", required=True
    )
    grant_command = sub.add_parser(
        "grant",
        help="grant the service's PostgreSQL role what it needs, and nothing else "
        "(run as the schema's owner: MIGRATE_DATABASE_URL)",
    )
    grant_command.add_argument("--role", required=True, help="the role the service connects as")
    grant_command.set_defaults(handler=_grant)
