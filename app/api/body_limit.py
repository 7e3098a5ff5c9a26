"""A size limit on request bodies, per route class, enforced before anything parses them.

Without it FastAPI read a 200 MB ``POST /v1/eligibility`` whole and parsed it (533 MB
of worker memory) before any dependency, the rate limiter included, looked at the
request. This pure ASGI middleware sits outside the application:

- a declared ``Content-Length`` past the limit is answered 413 at once; the
  application is not called and the body is never read;
- a body without a length (``Transfer-Encoding: chunked``) is counted as it arrives;
  the message that passes the limit raises ``BodyTooLarge``, which the problem
  handlers answer with a 413 (or this middleware does, if it gets that far);
- every 413 says ``Connection: close``, so the server drops the connection instead of
  draining the rest of an upload it refused;
- a compressed body (``Content-Encoding`` other than ``identity``) is a 415: the
  service does not inflate request bodies, so the limit is the size it will handle.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import problem_response

CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit (a 413 problem)."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail, headers=CLOSE)


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit:,} bytes"


class BodyLimit:
    """``default`` bytes for every route, ``larger`` for the paths named there
    (``{"/v1/imports": (limit, "MAX_IMPORT_BYTES")}``: a path and what is under it)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: tuple[int, str],
        larger: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.larger = dict(larger or {})

    def _limit(self, path: str) -> tuple[int, str]:
        for prefix, limit in self.larger.items():
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope["path"])
        headers = Headers(scope=scope)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            await self._refuse(
                scope,
                receive,
                send,
                415,
                f"Content-Encoding `{encoding}` is not accepted: send the body uncompressed",
            )
            return
        too_large = (
            f"the request body is larger than {_size(limit)}, the limit for this route "
            f"(setting {setting}): send less"
        )
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, 413, too_large)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(too_large)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:
            # The problem handlers usually answer it; this covers a reader outside them.
            if started:
                raise
            await self._refuse(scope, receive, send, 413, exc.detail)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
        title, slug = {
            413: ("Request too large", "request-too-large"),
            415: ("Unsupported media type", "unsupported-media-type"),
        }[status]
        response = problem_response(status, title, detail, slug, Request(scope))
        response.headers.update(CLOSE)
        await response(scope, receive, send)
