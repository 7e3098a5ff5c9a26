"""The per-address rate limit of the open calculator routes, applied before the body is read.

FastAPI reads and validates a request's body before it runs any dependency, so a
limit written as a dependency let a refused client still have its body parsed. These
routes use ``RateLimitedRoute`` instead: the call is counted (in the database, shared
by every worker; ``app.services.rate_limits``) and refused with a 429 before the route's own handler, and with it
the body parser, runs. ``open_post`` declares such a route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from app.api.client_address import client_address, rate_limit_key
from app.config import Settings
from app.services.rate_limits import RateLimit

F = TypeVar("F", bound=Callable[..., Any])


class RateLimitedRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            settings: Settings = request.app.state.settings
            limit: RateLimit = request.app.state.rate_limit
            key = rate_limit_key(client_address(request.scope, settings.trusted_proxies))
            # Committed in a transaction of its own before the route runs: the count
            # is visible to every worker at once, and no lock is held meanwhile.
            (await limit.count(key, time.time())).check()
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
