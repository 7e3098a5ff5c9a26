"""Bearer API keys (the open calculator's rate limit is app/api/rate_limit.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.deps import SessionDep
from app.observability.requests import note_actor
from app.services.actors import Actor
from app.services.errors import Unauthorized
from app.services.keys import authenticate

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer pik_…`")


def current_actor(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthorized(
            "this route needs an API key: send `Authorization: Bearer pik_…`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    actor = authenticate(session, credentials.credentials)
    if actor is None:
        raise Unauthorized(
            "the API key is unknown or revoked", headers={"WWW-Authenticate": "Bearer"}
        )
    # The actor is named "<label>#<prefix>": the log line takes the key's public prefix.
    note_actor(request.state, actor.role, actor.name.rpartition("#")[2])
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
