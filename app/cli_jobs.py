"""``incentives worker`` and ``incentives runs cancel``: the processes that execute jobs,
and stopping a run from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import TYPE_CHECKING

from app.config import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.jobs.runtime import Runtime


def _worker(args: argparse.Namespace) -> int:
    from app.jobs.queue import retry_stalled, worker_app, worker_options
    from app.jobs.runtime import Runtime

    settings = get_settings()
    # Below the API's priority: on a shared host, requests go first.
    os.nice(settings.worker_nice)
    runtime = Runtime.open(settings)
    if settings.gc_freeze:
        from app.gc_freeze import freeze_start_up

        freeze_start_up()
    if not settings.on_postgres:
        return _sqlite_worker(runtime)
    app = worker_app(runtime)

    async def work() -> None:
        async with app.open_async():
            await retry_stalled(app, settings)  # a worker that died before this one started
            print(f"worker {runtime.worker} taking jobs", file=sys.stderr, flush=True)
            await app.run_worker_async(**worker_options(settings, args.queue), name=runtime.worker)

    try:
        asyncio.run(work())
    finally:
        runtime.close()
    return 0


def _sqlite_worker(runtime: Runtime) -> int:
    """SQLite has no queue: take the shards not done from the runs' own table."""
    from app.jobs.in_process import InProcessJobs

    jobs = InProcessJobs(runtime)
    for stop_on in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_on, lambda *_: jobs.stop())
    print(f"worker {runtime.worker} taking jobs", file=sys.stderr, flush=True)
    try:
        jobs.run()
    finally:
        runtime.close()
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from app.cli_cancel import cancel_from_cli
    from app.db import repositories as repo
    from app.jobs.queue import cancel_queued_shards
    from app.services import matching_runs as runs

    def cancel(session: Session, run_id: str) -> bool:
        run = repo.get_matching_run(session, run_id)
        if run is None:
            return False
        runs.cancel_run(session, run)
        cancel_queued_shards(session, run.id)
        return True

    return cancel_from_cli("run", args.run_id, cancel)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    worker = commands.add_parser(
        "worker",
        help="execute jobs: runs' shards, large imports and the periodic work (PostgreSQL: from the queue, "
        "with any number of workers on any number of hosts)",
    )
    worker.add_argument(
        "--queue",
        action="append",
        choices=["runs", "imports", "maintenance"],
        help="take jobs of this queue only (repeat for more); default: every queue",
    )
    worker.set_defaults(handler=_worker)
    runs = commands.add_parser("runs", help="matching runs and simulations").add_subparsers(
        dest="runs_command", required=True
    )
    cancel = runs.add_parser("cancel", help="stop a queued or running run or simulation")
    cancel.add_argument("run_id")
    cancel.set_defaults(handler=_cancel)
