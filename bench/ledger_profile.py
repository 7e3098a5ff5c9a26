"""One approval, end to end, on PostgreSQL: the statements it sends, the round trips
they cost and where the time goes.

    .venv/bin/python bench/ledger_profile.py [--approvals 50] [--cprofile 25]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

The app runs in this process (Starlette's TestClient, the same middleware and
dependencies as under uvicorn). Three views of the same requests:

- the statements SQLAlchemy executes (texts of one approval, and the count per approval);
- the round trips to the server, from libpq's own trace (``PQtrace``): a burst of
  client messages followed by the server's answer is one wait, which counts the
  BEGIN, the COMMIT and any pool ping that no SQLAlchemy event shows, and counts
  pipelined statements once;
- the time in the database driver against the whole request, and with ``--cprofile``
  the functions that cost most.

Writes bench/results/ledger_profile.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench._support import ROOT, machine
from bench.ledger_fixtures import scratch_database, seed


class Counter:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.db_seconds = 0.0
        self._started: float = 0.0
        self.trace_dir = Path(tempfile.mkdtemp(prefix="i9-ledger-trace-"))
        self._files: list[Any] = []

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)
        event.listen(Engine, "connect", self._on_connect)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._started = time.perf_counter()
        self.statements.append(" ".join(statement.split()))

    def _after(self, *args: Any) -> None:
        self.db_seconds += time.perf_counter() - self._started

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        # libpq writes every protocol message of this connection to the file.
        handle = open(self.trace_dir / f"{len(self._files)}.trace", "w")  # noqa: SIM115
        self._files.append(handle)
        dbapi_connection.pgconn.trace(handle.fileno())

    def round_trips(self) -> int:
        for handle in self._files:
            handle.flush()
        # A round trip is a burst of client messages that the server then answers:
        # count the client lines that follow a server line (or open the trace).
        count = 0
        for path in self.trace_dir.glob("*.trace"):
            previous = "B"
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) < 2 or parts[1] not in ("F", "B"):
                    continue
                count += parts[1] == "F" and previous == "B"
                previous = parts[1]
        return count

    def reset(self) -> None:
        self.statements.clear()
        self.db_seconds = 0.0
        for path in self.trace_dir.glob("*.trace"):
            path.write_text("")
        for handle in self._files:
            handle.seek(0)


def profile_thread_pool() -> list[cProfile.Profile]:
    """Profile every call FastAPI hands to its thread pool (the sync dependencies and
    routes, where the service's work runs): cProfile sees one thread only."""
    import anyio.to_thread

    profiles: list[cProfile.Profile] = []
    original = anyio.to_thread.run_sync

    async def run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        def profiled(*inner: Any) -> Any:
            profile = cProfile.Profile(time.thread_time)  # CPU, not waits
            profile.enable()
            try:
                return func(*inner)
            finally:
                profile.disable()
                profiles.append(profile)

        return await original(profiled, *args, **kwargs)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]
    return profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--approvals", type=int, default=50)
    parser.add_argument("--cprofile", type=int, default=25, help="top functions to print")
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with scratch_database(args.database, "i9_ledger_profile") as url:
        token, ids = seed(url, args.approvals + 2, covered=args.approvals + 2)
        os.environ["DATABASE_URL"] = url
        os.environ["CATALOG_DIR"] = str(ROOT / "policy_catalog")
        from fastapi.testclient import TestClient

        from app.config import get_settings
        from app.main import create_app

        get_settings.cache_clear()
        counter = Counter()
        counter.install()
        headers = {"authorization": f"Bearer {token}"}
        with TestClient(create_app()) as client:
            # Warm: the first request opens the connection and fills the caches.
            assert client.post(f"/v1/awards/{ids[0]}/approve", json={}, headers=headers).is_success
            counter.reset()
            response = client.post(f"/v1/awards/{ids[1]}/approve", json={}, headers=headers)
            assert response.is_success, response.text
            one = list(counter.statements)
            one_trips = counter.round_trips()
            counter.reset()
            profiles = profile_thread_pool()
            started = time.perf_counter()
            for award_id in ids[2:]:
                r = client.post(
                    f"/v1/awards/{award_id}/approve",
                    json={},
                    headers={**headers, "Idempotency-Key": f"k-{award_id}"},
                )
                assert r.is_success, r.text
            elapsed = time.perf_counter() - started
            n = len(ids) - 2
            keyed = {
                "statements": len(counter.statements) / n,
                "round_trips": counter.round_trips() / n,
                "ms_per_approval": round(elapsed / n * 1000, 2),
                "ms_in_driver": round(counter.db_seconds / n * 1000, 2),
            }
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for profile in profiles[1:]:
        stats.add(profile)
    stats.sort_stats("cumulative").print_stats(args.cprofile)
    stats.sort_stats("tottime").print_stats(args.cprofile)
    report = {
        "machine": machine(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "without_idempotency_key": {"statements": len(one), "round_trips": one_trips},
        "with_idempotency_key": keyed,
        "statements_of_one_approval": one,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    print(out.getvalue())
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "ledger_profile.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False)
    )


if __name__ == "__main__":
    main()
