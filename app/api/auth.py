"""Bearer API keys (the open calculator's rate limit is app/api/rate_limit.py).

Two ways to get the actor. ``ActorDep``: a sync dependency, the key read on a thread of
its own and the session shared with the route. ``BearerDep`` with ``actor_of``: the
route takes the bearer token only (no thread, no database) and checks the key on the
thread that does the rest of its work (``app.api.deps.in_transaction``), which saves
a hop to the thread pool per request on the ledger's write routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.api.deps import SessionDep
from app.observability.requests import note_actor
from app.services.actors import Actor
from app.services.errors import Unauthorized
from app.services.keys import authenticate

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer pik_…`")


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": "Bearer"})


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token, or 401 when none was sent (a coroutine: no thread, no database)."""
    if credentials is None:
        raise _unauthorized("this route needs an API key: send `Authorization: Bearer pik_…`")
    return credentials.credentials


def actor_of(session: Session, token: str, state: Any) -> Actor:
    """Who holds the live key of ``token`` (401 if no one), noted on the request's
    ``state`` for its log line. Reads the key, so it runs on a thread."""
    actor = authenticate(session, token)
    if actor is None:
        raise _unauthorized("the API key is unknown or revoked")
    # The actor is named "<label>#<prefix>": the log line takes the key's public prefix.
    note_actor(state, actor.role, actor.name.rpartition("#")[2])
    return actor


async def key_refusal(request: Request) -> Unauthorized | None:
    """The 401 owed to a request whose body FastAPI refused before its route ran, if the
    route needs a key and the request has no live one; ``None`` otherwise.

    FastAPI reads and validates a body before the route's handler checks the key (and
    a body that is not JSON before any dependency runs), so without this a caller with
    no key, or a revoked one, would be told what a write route expects. Only requests
    already refused come here, so the key's lookup costs nothing on the paths that
    succeed."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not _needs_key(route.dependant):
        return None
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("this route needs an API key: send `Authorization: Bearer pik_…`")
    if await run_in_threadpool(_is_live, request.app.state.sessionmaker, token):
        return None
    return _unauthorized("the API key is unknown or revoked")


def _is_live(make_session: Any, token: str) -> bool:
    with make_session() as session:
        return authenticate(session, token) is not None


def _needs_key(dependant: Dependant) -> bool:
    return any(d.call is bearer_token or _needs_key(d) for d in dependant.dependencies)


def current_actor(
    request: Request, session: SessionDep, token: Annotated[str, Depends(bearer_token)]
) -> Actor:
    return actor_of(session, token, request.state)


ActorDep = Annotated[Actor, Depends(current_actor)]
BearerDep = Annotated[str, Depends(bearer_token)]
