"""``incentives keys create | list | revoke``: API keys are issued from the command line."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session, sessionmaker

from app.catalog.loader import CatalogError, load_catalog
from app.config import get_settings
from app.db.session import make_engine, make_sessionmaker
from app.services import keys
from app.services.actors import Actor
from app.services.errors import ServiceError

CLI_ACTOR = Actor(name="cli", role="admin")


def _sessionmaker() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().database_url))


def _create(args: argparse.Namespace) -> int:
    try:
        catalog = load_catalog(get_settings().catalog_dir)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        with _sessionmaker().begin() as session:
            issued = keys.issue_key(
                session,
                catalog,
                role=args.role,
                label=args.label,
                actor=CLI_ACTOR,
                enterprise_id=args.enterprise,
                jurisdiction=args.jurisdiction,
            )
            print(f"id:    {issued.key.id}\nrole:  {issued.key.role}\nkey:   {issued.token}")
    except ServiceError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print("Keep the key now: only its hash is stored.", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    with _sessionmaker().begin() as session:
        for key in keys.list_keys(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            scope = key.enterprise_id or key.jurisdiction or "-"
            print(
                f"{key.id}  pik_{key.prefix}_…  {key.role:<10} {scope:<36} {state:<18} {key.label}"
            )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        with _sessionmaker().begin() as session:
            key = keys.revoke_key(session, args.key, CLI_ACTOR)
            print(f"revoked {key.id} (pik_{key.prefix}_…)")
    except ServiceError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    return 0


def _purge(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from app.api.idempotency import RETENTION
    from app.db.repositories import purge_idempotency_records

    with _sessionmaker().begin() as session:
        removed = purge_idempotency_records(session, datetime.now(UTC) - RETENTION)
    print(f"removed {removed} idempotency record(s) older than {RETENTION}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    idempotency = commands.add_parser(
        "idempotency", help="stored Idempotency-Key answers"
    ).add_subparsers(dest="idempotency_command", required=True)
    idempotency.add_parser(
        "purge", help="forget answers past their retention (24 hours)"
    ).set_defaults(handler=_purge)
    sub = commands.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = sub.add_parser("create", help="issue a key; it is printed once")
    create.add_argument("--role", required=True, choices=keys.ROLES)
    create.add_argument("--enterprise", help="enterprise id, for an enterprise key")
    create.add_argument("--jurisdiction", help="city, district or park slug, for a portal key")
    create.add_argument("--label", default="", help="who holds the key")
    create.set_defaults(handler=_create)
    sub.add_parser("list", help="every key, without secrets").set_defaults(handler=_list)
    revoke = sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    revoke.set_defaults(handler=_revoke)
