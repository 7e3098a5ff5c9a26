"""What the request middleware (id, latency histogram, log line) adds to each request.

    .venv/bin/python bench/observability.py [--calls 20000] [--rounds 7]

In one process, no server and no socket: an ASGI app that answers at once is called
directly, bare (the baseline) and behind ``RequestObserver``, with the request log
off (``LOG_LEVEL=warning``), as JSON and as text (each written to a discarded
stream). A last target is the bare app followed by the line uvicorn's access log
writes per request: what ``incentives serve`` wrote before the middleware's line
replaced it. Each round times ``--calls`` calls of each target in turn; the report
gives each target's median microseconds per call and what it adds to the bare app's,
all measured in the same run. The calculator's own cost per call (hundreds of
microseconds, bench/api.py) is what these additions are to be read against.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from uvicorn.logging import AccessFormatter

from app.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter
from app.observability.requests import RequestObserver

RESULTS = Path(__file__).resolve().parent / "results"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/v1/eligibility",
    "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
}


async def answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


ACCESS = logging.getLogger("uvicorn.access")


async def access_logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The bare app, then uvicorn's access line as its protocol writes it."""
    await answer(scope, receive, send)
    ACCESS.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "POST", scope["path"], "1.1", 200)


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def _log_to(formatter: logging.Formatter | None, name: str = "incentives.request") -> None:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = False
    if formatter is None:
        logger.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


async def _time(app: App, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await app(dict(SCOPE), _receive, _send)
    return (time.perf_counter() - started) / calls * 1e6


TARGETS: dict[str, tuple[str, logging.Formatter | None]] = {
    "bare": ("bare", None),
    "observed, log off": ("observed", None),
    "observed, json log": ("observed", JsonFormatter()),
    "observed, text log": ("observed", TextFormatter()),
    "uvicorn access log": ("access", None),
}


async def run(calls: int, rounds: int) -> dict[str, list[float]]:
    apps: dict[str, Any] = {
        "bare": answer,
        "observed": RequestObserver(answer, templates={}),  # type: ignore[arg-type]
        "access": access_logged,
    }
    _log_to(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'), ACCESS.name)
    timings: dict[str, list[float]] = {name: [] for name in TARGETS}
    for _ in range(rounds):
        for name, (app, formatter) in TARGETS.items():
            _log_to(formatter)
            timings[name].append(await _time(apps[app], calls))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    load_before = os.getloadavg()
    timings = asyncio.run(run(args.calls, args.rounds))
    load_after = os.getloadavg()
    bare = statistics.median(timings["bare"])
    report = {
        "calls": args.calls,
        "rounds": args.rounds,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "median_us": {name: statistics.median(values) for name, values in timings.items()},
        "added_us": {name: statistics.median(values) - bare for name, values in timings.items()},
        "ratio_to_bare": {
            name: statistics.median(values) / bare for name, values in timings.items()
        },
    }
    print(f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}")
    print(f"{'target':22} {'median µs':>10} {'added µs':>10} {'× bare':>8}")
    for name in TARGETS:
        print(
            f"{name:22} {report['median_us'][name]:10.2f} {report['added_us'][name]:10.2f} "
            f"{report['ratio_to_bare'][name]:8.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "observability.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
