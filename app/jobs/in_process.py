"""Jobs executed by the service itself: the embedded default (SQLite, `make run`).

SQLite has no queue engine, so a thread of the service takes the shards not done of
unfinished runs straight from ``matching_run_shards``, and the unfinished imports from
``import_jobs`` (which is what survives a restart: the next start-up carries on) and does the periodic work when it falls due;
``incentives worker`` on SQLite runs the same loop in a process of its own. On PostgreSQL, with JOBS_IN_PROCESS set, the thread runs a
procrastinate worker instead, the same as ``incentives worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from croniter import croniter

from app.db import repositories as repo
from app.jobs import tasks
from app.jobs.runtime import Runtime
from app.services import import_jobs

log = logging.getLogger("incentives")

#: How long the thread waits for a new run when there is nothing to do.
POLL_SECONDS = 1.0


class InProcessJobs:
    """Start with ``start`` (or ``run`` in the calling thread); ``wake`` after queueing
    shards; ``stop`` at shutdown."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        target = self._queue_worker if runtime.settings.on_postgres else self._poll
        self._thread = threading.Thread(target=target, name="jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run(self) -> None:
        """Execute jobs here until ``stop`` (``incentives worker`` on SQLite)."""
        self._poll()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        with self._lock:  # the worker's task is either not made yet, or cancelled here
            self._stopping.set()
            self._wake.set()
            if self._loop is not None and self._task is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        settings = self.runtime.settings
        due = {
            "purge": (settings.idempotency_purge_cron, tasks.purge_idempotency),
            "checkpoint": (settings.audit_checkpoint_cron, tasks.audit_checkpoint),
        }
        next_at = {
            name: croniter(cron, time.time()).get_next(float) for name, (cron, _) in due.items()
        }
        while not self._stopping.is_set():
            self._guarded("taking shards", self._execute_shards)
            self._guarded("taking imports", self._execute_imports)
            for name, (cron, job) in due.items():
                if time.time() >= next_at[name]:
                    next_at[name] = croniter(cron, time.time()).get_next(float)
                    self._guarded(name, job, self.runtime)
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _execute_shards(self) -> None:
        with self.runtime.make_session() as session:
            todo = repo.shards_to_execute(session)
        for run_id, shard in todo:
            if self._stopping.is_set():
                return
            self._guarded(
                f"run {run_id} shard {shard}", tasks.run_shard, self.runtime, run_id, shard
            )

    def _execute_imports(self) -> None:
        with self.runtime.make_session() as session:
            todo = import_jobs.pending(session)
        for import_id in todo:
            if self._stopping.is_set():
                return
            self._guarded(f"import {import_id}", tasks.run_import, self.runtime, import_id)

    @staticmethod
    def _guarded(name: str, job: Any, *args: Any) -> None:
        try:
            job(*args)
        except Exception:  # a job's failure is its own (recorded on the run); go on
            log.exception("job %s failed", name)

    def _queue_worker(self) -> None:
        from app.jobs.queue import retry_stalled, worker_app, worker_options

        app = worker_app(self.runtime)
        settings = self.runtime.settings

        async def main() -> None:
            async with app.open_async():
                await retry_stalled(app, settings)
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._loop = asyncio.get_running_loop()
                    self._task = asyncio.create_task(
                        app.run_worker_async(
                            **worker_options(settings),
                            name=f"{self.runtime.worker} (in the service)",
                            install_signal_handlers=False,
                        )
                    )
                with contextlib.suppress(asyncio.CancelledError):  # stop() cancels it
                    await self._task

        asyncio.run(main())
