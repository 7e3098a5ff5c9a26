"""Bearer API keys, and a rate limit for the open calculator."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import SessionDep, SettingsDep
from app.services.actors import Actor
from app.services.errors import TooManyRequests, Unauthorized
from app.services.keys import actor_for, authenticate

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer pik_…`")


def current_actor(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthorized(
            "this route needs an API key: send `Authorization: Bearer pik_…`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = authenticate(session, credentials.credentials)
    if key is None:
        raise Unauthorized(
            "the API key is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
        )
    return actor_for(key)


ActorDep = Annotated[Actor, Depends(current_actor)]


class RateLimiter:
    """A sliding one-minute window per client address, in this worker process.

    With N workers a client gets up to N times the limit; that is enough to keep the
    open calculator from being used as a free batch service, which is its purpose.
    """

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_clients = max_clients
        self._hits: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._hits.pop(client, []) if now - t < 60]
            if len(recent) >= self.per_minute:
                self._hits[client] = recent
                retry = int(60 - (now - recent[0])) + 1
                raise TooManyRequests(
                    f"at most {self.per_minute} calculations a minute from one address; "
                    "use an API key or the enterprise endpoints for more",
                    headers={"Retry-After": str(retry)},
                )
            recent.append(now)
            self._hits[client] = recent
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)


def rate_limited(request: Request, settings: SettingsDep) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.rate_limiter = RateLimiter(
            settings.public_rate_limit_per_minute
        )
    limiter.hit(request.client.host if request.client else "unknown")
