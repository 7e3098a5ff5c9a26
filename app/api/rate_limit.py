"""The per-address rate limit of the open calculator routes, applied before the body is read.

FastAPI reads and validates a request's body before it runs any dependency, so a
limit written as a dependency let a refused client still have its body parsed. These
routes use ``RateLimitedRoute`` instead: the call is counted (in the database, shared
by every worker) and refused with a 429 before the route's own handler, and with it
the body parser, runs. ``open_post`` declares such a route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute

from app.api.client_address import client_address, rate_limit_key
from app.config import Settings
from app.services import rate_limits

F = TypeVar("F", bound=Callable[..., Any])


def _count(request: Request) -> rate_limits.Verdict:
    settings: Settings = request.app.state.settings
    key = rate_limit_key(client_address(request.scope, settings.trusted_proxies))
    # A transaction of its own, committed at once: the count is visible to every
    # worker before this call goes on, and holds no lock while the route runs.
    with request.app.state.sessionmaker.begin() as session:
        return rate_limits.count_call(
            session, key, settings.public_rate_limit_per_minute, time.time()
        )


class RateLimitedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            verdict = await run_in_threadpool(_count, request)
            verdict.check()
            return await handler(request)

        return limited


def open_post(router: APIRouter, path: str, **options: Any) -> Callable[[F], F]:
    """``@router.post(path, …)`` for an open calculator route: rate-limited per address."""

    def register(endpoint: F) -> F:
        router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=RateLimitedRoute, **options
        )
        return endpoint

    return register
