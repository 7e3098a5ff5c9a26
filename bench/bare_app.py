"""The baselines of bench/api.py, each answering with the calculator's own answer bytes.

- ``bare``: a plain ASGI app. It reads the request body and sends the precomputed
  bytes: the server (uvicorn) and nothing else, the ceiling of any route.
- ``floor``: a FastAPI app whose one async endpoint validates the body against the
  calculator's own request model (``EligibilityRequest``) and sends the same bytes:
  what the framework costs before the route does any work of its own.

Both read the bytes from the file named by ``BARE_BODY_FILE`` (bench/api.py writes it
from a real answer), and answer every path and method, so one load script fits all.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Response
from starlette.types import Receive, Scope, Send

from app.api.schemas.eligibility import EligibilityRequest

BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes()
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":  # lifespan: nothing to start
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:  # read the whole body, as a real route must
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})


floor = FastAPI()


@floor.post("/v1/eligibility")
async def validate_only(body: EligibilityRequest) -> Response:
    return Response(BODY, media_type="application/json")
