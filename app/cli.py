"""The command line: ``incentives serve | worker | probe | migrate | catalog check | catalog load | keys | db | audit | runs | native …``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from app.config import get_settings


def _serve(args: argparse.Namespace) -> int:
    import os
    import secrets

    import uvicorn

    # The console's session cookies are signed with CONSOLE_SECRET; the workers inherit
    # this environment, so without one set they all share the one drawn here.
    os.environ.setdefault("CONSOLE_SECRET", secrets.token_urlsafe(32))

    from app.observability.logs import logging_config
    from app.observability.metrics_dir import shared_metrics_dir

    settings = get_settings()
    workers = args.workers or settings.workers
    with shared_metrics_dir(workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=workers,
            log_level=settings.log_level,
            log_config=logging_config(settings.log_level, settings.log_format),
            # The request middleware logs each request, with its id and actor.
            access_log=False,
            # The application reads X-Forwarded-For itself, from TRUSTED_PROXIES only
            # (app/api/client_address.py); uvicorn's own handling trusts 127.0.0.1 by
            # default and would let a local peer pick its address before the app sees it.
            proxy_headers=False,
        )
    return 0


PROBE_TIMEOUT = 3.0


def _probe(args: argparse.Namespace) -> int:
    """Ask the server on this host's HOST and PORT whether it is live or ready (exit 0)."""
    import urllib.error
    import urllib.request

    settings = get_settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{host}:{settings.port}/health/{args.check}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as answer:
            print(f"{url}: {answer.status}")
            return 0
    except urllib.error.HTTPError as refused:
        print(f"{url}: {refused.code} {refused.read().decode(errors='replace')}", file=sys.stderr)
    except OSError as failed:
        print(f"{url}: no answer ({failed})", file=sys.stderr)
    return 1


def _migrate(args: argparse.Namespace) -> int:
    from app.cli_db import grant
    from app.db.session import migrate

    url = get_settings().owner_database_url
    migrate(url, args.revision)
    print(f"database at {_safe_url(url)} is at revision {args.revision}")
    return grant(url, args.grant_to) if args.grant_to else 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _catalog_check(args: argparse.Namespace) -> int:
    from app.catalog.loader import CatalogError, load_catalog

    directory = args.dir or get_settings().catalog_dir
    try:
        catalog = load_catalog(directory)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"catalog {directory}: {len(catalog.policies)} policies, hash {catalog.hash}")
    return 0


def _catalog_load(args: argparse.Namespace) -> int:
    from app.catalog.loader import CatalogError, load_catalog
    from app.db.session import make_engine, make_sessionmaker
    from app.services.catalog_sync import record_catalog

    settings = get_settings()
    try:
        catalog = load_catalog(args.dir or settings.catalog_dir)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine).begin() as session:
        new = record_catalog(session, catalog, actor=args.actor)
    print(f"catalog {catalog.hash} recorded: {new} new policy version(s)")
    return 0


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv`` (the process's arguments by default): every command, or
    only the one ``argv`` names with the module it lives in."""
    parser = argparse.ArgumentParser(prog="incentives", description="Policy incentive calculator")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API (settings from the environment)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(handler=_serve)

    probe = commands.add_parser(
        "probe", help="exit 0 if the local server is live (answers) or ready (for traffic)"
    )
    probe.add_argument("check", choices=["live", "ready"])
    probe.set_defaults(handler=_probe)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument(
        "--grant-to",
        metavar="ROLE",
        help="then grant the service's role what it needs (as `incentives db grant`)",
    )
    migrate.set_defaults(handler=_migrate)

    catalog = commands.add_parser("catalog", help="the policy catalog").add_subparsers(
        dest="catalog_command", required=True
    )
    check = catalog.add_parser(
        "check", help="validate the catalog files; exit 1 naming each problem"
    )
    check.add_argument("--dir")
    check.set_defaults(handler=_catalog_check)
    load = catalog.add_parser("load", help="record the catalog's policy versions in the database")
    load.add_argument("--dir")
    load.add_argument("--actor", default="cli")
    load.set_defaults(handler=_catalog_load)

    for module in _modules_for(_command_word(argv)):
        importlib.import_module(module).register(commands)
    return parser


#: The commands that live in modules of their own, by the module that registers them.
#: A command line names one command, so only its module is imported: most of them
#: import the database layer, the catalog or numpy, and ``incentives probe`` (Docker's
#: health check, every 10 seconds) should not pay seconds of start-up for them.
#: ``tests/deploy/test_cli.py`` holds this table to what each module registers.
COMMAND_MODULES: dict[str, str] = {
    "keys": "app.cli_keys",
    "idempotency": "app.cli_keys",
    "match": "app.cli_population",
    "simulate": "app.cli_population",
    "worker": "app.cli_jobs",
    "runs": "app.cli_jobs",
    "import": "app.cli_import",
    "imports": "app.cli_import",
    "db": "app.cli_db",
    "audit": "app.cli_audit",
    "native": "app.cli_native",
}
#: The commands registered here, needing no other module.
OWN_COMMANDS = frozenset({"serve", "probe", "migrate", "catalog"})


def _command_word(argv: Sequence[str] | None) -> str | None:
    """The command a command line names: its first word that is not an option (the
    program itself takes no option but ``--help``)."""
    words = sys.argv[1:] if argv is None else argv
    return next((w for w in words if not w.startswith("-")), None)


def _modules_for(word: str | None) -> list[str]:
    if word in OWN_COMMANDS:
        return []
    if word in COMMAND_MODULES:
        return [COMMAND_MODULES[word]]
    # No command, or one that does not exist: every command, for the help or the error.
    return list(dict.fromkeys(COMMAND_MODULES.values()))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
