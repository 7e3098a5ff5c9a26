"""``Idempotency-Key`` for the POSTs that create or change awards.

The key is claimed in the request's own transaction, so the stored response commits
with the effect or not at all: a crash leaves neither. Same key and same body: the
stored response is replayed (with ``Idempotent-Replayed: true``). Same key, other
body: 422. Concurrent duplicates: the database's unique index makes one wait for the
other, which then replays. Keys are scoped to the API key that sent them and kept
for ``RETENTION`` (purged by ``incentives idempotency purge`` and at start-up).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.api.schemas.bounded import IdempotencyKeyText
from app.catalog.loader import canonical_json
from app.db import repositories as repo
from app.db.models import IdempotencyRecord
from app.services.actors import Actor
from app.services.errors import Conflict, Invalid

RETENTION = timedelta(hours=24)

IdempotencyKey = Annotated[
    IdempotencyKeyText | None,
    Header(
        alias="Idempotency-Key",
        description="a unique key per intended change; a retry with the same key and body replays the answer",
    ),
]


class Idempotency:
    def __init__(self, session: Session, actor: Actor, key: str | None, request: Request) -> None:
        self.session, self.actor, self.key = session, actor, key
        self.method, self.path = request.method, request.url.path

    def _hash(self, body: Any) -> str:
        payload = (
            body.model_dump(mode="json") if isinstance(body, BaseModel) else jsonable_encoder(body)
        )
        return hashlib.sha256(
            canonical_json([self.method, self.path, payload]).encode()
        ).hexdigest()

    def replay_or_claim(self, body: Any) -> JSONResponse | None:
        """A stored answer to replay, or None after claiming the key for this request."""
        if self.key is None or self.actor.api_key_id is None:
            return None
        digest = self._hash(body)
        record = IdempotencyRecord(
            api_key_id=self.actor.api_key_id,
            key=self.key,
            method=self.method,
            path=self.path,
            request_hash=digest,
        )
        if repo.claim_idempotency_key(self.session, record):
            return None
        stored = repo.get_idempotency_record(self.session, self.actor.api_key_id, self.key)
        assert stored is not None
        if stored.request_hash != digest:
            raise Invalid(
                "this Idempotency-Key was used for another request; use a new key for a new change",
                errors=[{"parameter": "Idempotency-Key", "detail": "reused with another body"}],
            )
        if stored.status_code is None:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly"
            )
        return JSONResponse(
            stored.response_body,
            status_code=stored.status_code,
            headers={"Idempotent-Replayed": "true"},
        )

    def run(
        self,
        body: Any,
        status_code: int,
        model: type[BaseModel],
        produce: Callable[[], dict[str, Any]],
    ) -> Response:
        """Replay the stored answer, or claim the key, ``produce`` the answer and store it."""
        replayed = self.replay_or_claim(body)
        if replayed is not None:
            return replayed
        return self.respond(status_code, model, produce())

    def respond(
        self, status_code: int, model: type[BaseModel], payload: dict[str, Any]
    ) -> Response:
        """The response, stored with the key (when one was sent) in the same transaction.

        Validated once and written by pydantic straight to JSON bytes (the same bytes
        ``JSONResponse`` made from its dump, without the detour through Python objects)."""
        validated = model.model_validate(payload)
        if self.key is not None and self.actor.api_key_id is not None:
            repo.complete_idempotency_record(
                self.session,
                self.actor.api_key_id,
                self.key,
                status_code,
                validated.model_dump(mode="json"),
            )
        return Response(
            validated.model_dump_json(), status_code=status_code, media_type="application/json"
        )
