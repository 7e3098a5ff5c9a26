"""Each request gets an id, a latency observation and one log line; the response, the id.

A pure ASGI middleware, outermost among the application's own: it times the whole of a
request, queueing at the gate included. Per request it reads one header, takes one
clock reading at each end, sets one context variable, observes one histogram series
and writes one line: the open calculator's hot path gets nothing else.

- The id is the client's ``X-Request-ID`` when it is sane (1 to 64 letters, digits
  and ``._:-``), so a caller or a proxy can follow its own id through; otherwise a
  new one. Either way the response carries it back in ``X-Request-ID``, error and
  refusal responses included.
- The route is the template the request matched (``/v1/awards/{award_id}``), never the
  raw path; ``unmatched`` when no route matched. The router records the route object
  it chose, whose own path lacks the prefix it was included under (``/awards/…``):
  ``route_templates`` maps each route to its whole template once, at start.
- The actor is what ``current_actor`` recorded on the request (``note_actor``): the key's
  role and its public prefix; ``anonymous`` without a key.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import APIRouter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import FIELDS, REQUEST_ID
from app.observability.metrics import UNMATCHED, observe_request

log = logging.getLogger("incentives.request")

HEADER = b"x-request-id"
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Where, in the request's state, the id and the actor are kept (``request.state.…``).
ID_KEY, ROLE_KEY, PREFIX_KEY = "request_id", "actor_role", "key_prefix"


def note_actor(state: Any, role: str, key_prefix: str) -> None:
    """Record who is acting for the request's log line (``request.state``)."""
    setattr(state, ROLE_KEY, role)
    setattr(state, PREFIX_KEY, key_prefix)


class _Ids:
    """New request ids: 16 random hex digits drawn once per process, then a counter.

    Unique across processes and restarts as a UUID would be, without a call for random
    bytes (a system call) on every request. Not secret: ids are for joining lines."""

    def __init__(self) -> None:
        self.restart()
        os.register_at_fork(after_in_child=self.restart)

    def restart(self) -> None:
        self.process = secrets.token_hex(8)
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.process}{next(self.counter):016x}"


_ids = _Ids()


def request_id_of(scope: Scope) -> str:
    """The client's id if it is sane, else a new one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            given: str = value.decode("latin-1")
            if SANE_ID.fullmatch(given):
                return given
            break
    return _ids.next()


def route_templates(mounted: Iterable[tuple[str, APIRouter]]) -> dict[int, str]:
    """``id(route)`` -> the route's whole path template, for routers included with a prefix.

    Keyed by identity: routes compare equal by path and endpoint, so they do not hash."""
    return {
        id(route): prefix + route.path
        for prefix, router in mounted
        for route in router.routes
        if hasattr(route, "path")
    }


class RequestObserver:
    """``templates``: see ``route_templates``; a route not in it is named by its own path."""

    def __init__(self, app: ASGIApp, templates: Mapping[int, str]) -> None:
        self.app = app
        self.templates = templates

    def template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        return self.templates.get(id(route)) or getattr(route, "path", None) or UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state[ID_KEY] = request_id
        echoed = (HEADER, request_id.encode("ascii"))
        status = 500  # unless a response starts: an error escaped, the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = self.template(scope)
            observe_request(scope["method"], route, status, seconds)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d",
                    scope["method"],
                    route,
                    status,
                    extra={
                        FIELDS: {
                            "request_id": request_id,
                            "method": scope["method"],
                            "route": route,
                            "status": status,
                            "duration_ms": round(seconds * 1000, 3),
                            "role": state.get(ROLE_KEY, "anonymous"),
                            "key_prefix": state.get(PREFIX_KEY),
                        }
                    },
                )
            REQUEST_ID.reset(token)
