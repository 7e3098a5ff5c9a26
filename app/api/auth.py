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
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

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


def current_actor(
    request: Request, session: SessionDep, token: Annotated[str, Depends(bearer_token)]
) -> Actor:
    return actor_of(session, token, request.state)


ActorDep = Annotated[Actor, Depends(current_actor)]
BearerDep = Annotated[str, Depends(bearer_token)]
