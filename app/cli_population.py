"""``incentives match`` and ``incentives simulate``: population runs from the command line.

The command executes the run itself, shard after shard, and prints its progress: a
one-off run from a terminal needs no worker. Runs started over the API are executed
by the workers (``incentives worker``)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from app.catalog.loader import CatalogError, load_catalog
from app.config import get_settings
from app.db import repositories as repo
from app.db.session import make_engine, make_sessionmaker
from app.services import matching_runs as runs
from app.services.actors import Actor
from app.services.errors import ServiceError
from app.services.scenarios import PolicyChange

CLI_ACTOR = Actor(name="cli", role="admin")


def _run(args: argparse.Namespace, changes: list[PolicyChange] | None) -> int:
    settings = get_settings()
    try:
        catalog = load_catalog(settings.catalog_dir)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    make_session = make_sessionmaker(make_engine(settings.database_url))
    try:
        with make_session.begin() as session:
            run_id = runs.start_run(
                session,
                catalog,
                CLI_ACTOR,
                args.fiscal_year,
                changes,
                shard_size=settings.run_shard_size,
            ).id
    except ServiceError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    job = threading.Thread(target=runs.execute_run, args=(make_session, catalog, run_id))
    job.start()
    while job.is_alive():
        job.join(timeout=0.5)
        with make_session() as session:
            run = repo.get_matching_run(session, run_id)
            assert run is not None
            print(
                f"\r{run.status}: {run.progress} enterprises evaluated",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)
    with make_session() as session:
        run = repo.get_matching_run(session, run_id)
        assert run is not None
        print(json.dumps(runs.run_json(run), ensure_ascii=False, indent=2, default=str))
        return 0 if run.status == "done" else 1


def _match(args: argparse.Namespace) -> int:
    return _run(args, None)


def _simulate(args: argparse.Namespace) -> int:
    try:
        changes = TypeAdapter(list[PolicyChange]).validate_json(
            Path(args.changes).read_text(encoding="utf-8")
        )
    except (OSError, ValidationError) as exc:
        print(f"error: {args.changes}: {exc}", file=sys.stderr)
        return 2
    return _run(args, changes)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    match = commands.add_parser(
        "match", help="evaluate every stored enterprise for a fiscal year (免申即享)"
    )
    match.add_argument("--fiscal-year", type=int, required=True)
    match.set_defaults(handler=_match)
    simulate = commands.add_parser(
        "simulate", help="what-if: a run with changed parameters; nothing is stored"
    )
    simulate.add_argument("--fiscal-year", type=int, required=True)
    simulate.add_argument(
        "--changes",
        required=True,
        help='JSON file: [{"policy_id": …, "parameters": {…}, "enabled": true, "budget": "…"}]',
    )
    simulate.set_defaults(handler=_simulate)


__all__ = ["register"]
