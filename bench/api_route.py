"""What POST /v1/eligibility costs besides its engine, measured in the process itself.

    .venv/bin/python bench/api_route.py [--requests 2000] [--rounds 5] [--concurrency 16]

bench/api.py measures throughput through a server; this one splits the route's CPU
time into its parts by driving the ASGI application directly (no server, no client,
no sockets), so what it reports is the application's own work. Three targets, each
taking turns in every round so all see the same machine:

- ``floor``: the framework's floor of bench/bare_app.py (validates the request model,
  sends fixed bytes);
- ``route``: the real application and route (middleware, rate limit counted in the
  database, validation, vocabulary check, facts) with the answer's bytes (engine,
  shaping and serialisation) computed once beforehand and reused: the route's own cost;
- ``eligibility``: the real route, engine included.

``concurrency`` requests are in flight at once, as under wrk's connections, so the
rate limit counts calls together as it does under load. The report gives the median
CPU milliseconds per request of each target and ``route - floor``, the cost the route
adds to the framework's floor before any engine work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import ROOT, machine, median
from bench.api import PROFILE, loadavg

App = Callable[[Any, Any, Any], Coroutine[Any, Any, None]]


def _scope(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/eligibility",
        "raw_path": b"/v1/eligibility",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: App, body: bytes) -> bytes:
    """One request through ``app``; its response body (the status must be 200)."""
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(body), receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"status {sent[0]['status']}: {sent[1:]}")
    return b"".join(m.get("body", b"") for m in sent[1:])


async def _cpu_per_request(app: App, body: bytes, requests: int, concurrency: int) -> float:
    """Process CPU milliseconds per request (every thread: the rate limit's count too)."""
    each = max(1, requests // concurrency)

    async def client() -> None:
        for _ in range(each):
            await _call(app, body)

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return (time.process_time() - started) * 1000 / (each * concurrency)


async def _lifespan(app: App) -> Callable[[], Awaitable[None]]:
    """Start ``app``; returns the coroutine function that stops it."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


async def measure(args: argparse.Namespace, tmp: Path) -> dict[str, list[float]]:
    from app.api.routes import eligibility as route_module
    from app.config import Settings
    from app.db.session import migrate
    from app.main import create_app

    url = f"sqlite:///{tmp}/bench.db"
    migrate(url)
    settings = Settings(
        database_url=url,
        catalog_dir=ROOT / "policy_catalog",
        public_rate_limit_per_minute=1_000_000_000,
    )
    body = json.dumps({"profile": PROFILE, "fiscal_year": 2024}, ensure_ascii=False).encode()
    app = create_app(settings)
    stop = await _lifespan(app)
    try:
        answer = await _call(app, body)
        (tmp / "answer.json").write_bytes(answer)
        os.environ["BARE_BODY_FILE"] = str(tmp / "answer.json")
        from bench.bare_app import floor

        # The route module's own name for the engine's entry point, swapped per call.
        engine = getattr(route_module, "eligibility_bytes")  # noqa: B009
        remembered: dict[str, Any] = {}

        def precomputed(*arguments: Any) -> Any:
            # The engine's answer for this profile, computed once: what is left is the route.
            if "answer" not in remembered:
                remembered["answer"] = engine(*arguments)
            return remembered["answer"]

        async def route(scope: Any, receive: Any, send: Any) -> None:
            setattr(route_module, "eligibility_bytes", precomputed)  # noqa: B010
            try:
                await app(scope, receive, send)
            finally:
                setattr(route_module, "eligibility_bytes", engine)  # noqa: B010

        targets: dict[str, App] = {"floor": floor, "route": route, "eligibility": app}
        if await _call(route, body) != answer:
            raise RuntimeError("the route with a precomputed answer sent other bytes")
        results: dict[str, list[float]] = {name: [] for name in targets}
        for target in targets.values():  # warm-up
            await _cpu_per_request(target, body, args.concurrency * 4, args.concurrency)
        for i in range(args.rounds):
            for name, target in targets.items():
                requests = args.requests if name != "eligibility" else args.requests // 5
                ms = await _cpu_per_request(target, body, requests, args.concurrency)
                results[name].append(ms)
                print(f"round {i + 1} {name:12} {ms:7.3f} ms CPU/request", file=sys.stderr)
        return results
    finally:
        await stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per round and target")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    load_before = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(measure(args, Path(tmp)))
    figures = {name: round(median(values), 4) for name, values in results.items()}
    report: dict[str, Any] = {
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": loadavg(),
        "requests": args.requests,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "cpu_ms_per_request": figures,
        "rounds_cpu_ms": {name: [round(v, 4) for v in values] for name, values in results.items()},
        "route_minus_floor_ms": round(figures["route"] - figures["floor"], 4),
        "engine_ms": round(figures["eligibility"] - figures["route"], 4),
        "ratio_route_to_floor": round(figures["floor"] / figures["route"], 3),
    }
    print(json.dumps(report, indent=2))
    print(
        f"floor {figures['floor']:.3f}, route {figures['route']:.3f}, eligibility "
        f"{figures['eligibility']:.3f} ms CPU/request; the route adds "
        f"{report['route_minus_floor_ms']:.3f} ms to the floor, the engine "
        f"{report['engine_ms']:.3f} ms; load average {' '.join(load_before)} before, "
        f"{' '.join(loadavg())} after"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "api_route.json").write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
