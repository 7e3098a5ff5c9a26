"""Where the uvicorn workers of one ``incentives serve`` keep their metrics, shared.

Each worker is a process of its own with its own counters; a scrape reaches one of them.
prometheus-client's multiprocess mode has each process write its figures to files in
the directory ``PROMETHEUS_MULTIPROC_DIR`` names, and ``GET /metrics`` in any worker
sums them all. The variable must be set before the workers start (the library reads it
when it is first imported), so ``serve`` sets it here:

- set by the operator: that directory, emptied of a previous server's files;
- not set, several workers: a new temporary directory, removed when the server stops;
- not set, one worker: none; the process counts in memory.

A worker that dies and is replaced leaves its files: its counts stay in the sums, as
counters must. This module does not import prometheus-client: the process that
supervises the workers counts nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_dir(workers: int) -> Iterator[Path | None]:
    """The directory the workers share while the server runs (see the module doc)."""
    chosen = os.environ.get(VARIABLE)
    if chosen:
        directory = Path(chosen)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield directory
        return
    if workers <= 1:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="incentives-metrics-"))
    os.environ[VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(directory, ignore_errors=True)
