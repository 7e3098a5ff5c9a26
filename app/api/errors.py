"""RFC 9457 problem details: every 4xx and 5xx the service sends.

Services raise ``ServiceError`` subclasses; the handlers here turn them, FastAPI's
validation errors and anything unexpected into ``application/problem+json``. An
unexpected error is logged with its traceback and answered without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.services.errors import ServiceError

log = logging.getLogger("incentives")

PROBLEM = "application/problem+json"
TYPE_BASE = "https://incentives.example.gov.cn/problems/"
#: Seconds a client is told to wait before retrying when the database is unavailable.
DATABASE_RETRY_AFTER = 5


class FieldError(BaseModel):
    pointer: str | None = Field(default=None, description="JSON pointer into the request body")
    parameter: str | None = Field(default=None, description="query, path or header parameter")
    detail: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    reasons: list[dict[str, Any]] | None = Field(
        default=None, description="for an ineligible award: the clause-by-clause reasons"
    )
    missing_facts: list[str] | None = None
    findings_required: list[str] | None = Field(
        default=None,
        description="for an undetermined award: the findings a reviewer must record first",
    )


def problem_response(
    status: int, title: str, detail: str, slug: str, request: Request | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _pointer(loc: Sequence[Any]) -> dict[str, str]:
    where, *rest = loc if loc else ("body",)
    # Pydantic adds the union member's name to a location; a client does not need it.
    rest = [p for p in rest if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    if where == "body":
        escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in rest]
        # FIX (API tests): the whole body is "" in RFC 6901; "/" would name a member "".
        return {"pointer": "".join("/" + p for p in escaped)}
    return {"parameter": ".".join(str(p) for p in rest) or str(where)}


def _message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        return "unknown field: remove it (the profile fields are listed at GET /v1/vocabulary)"
    if error.get("type") == "missing":
        return "required: add this field"
    return msg.removeprefix("Value error, ")


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # FIX (API tests): the location of a JSON syntax error is a character offset
        # (`("body", 1)`), not a member of the body; point at the whole document.
        where = (error.get("loc") or ("body", "?"))[-1]
        cause = (error.get("ctx") or {}).get("error")
        detail = f"JSON decode error at character {where}" + (f": {cause}" if cause else "")
        return {"pointer": "", "detail": detail}
    return {**_pointer(error.get("loc", ())), "detail": _message(error)}


#: Says whether a refused request is owed a 401 instead (``app.api.auth.key_refusal``).
KeyCheck = Callable[[Request], Awaitable[ServiceError | None]]


def _validation_handler(
    check_key: KeyCheck | None,
) -> Callable[[Request, RequestValidationError], Awaitable[JSONResponse]]:
    async def handle(request: Request, exc: RequestValidationError) -> JSONResponse:
        if check_key is not None:
            # A caller without a live key for the route learns nothing of its body.
            try:
                refusal = await check_key(request)
            except OperationalError as unavailable:
                return await _database_unavailable(request, unavailable)
            if refusal is not None:
                return await _service(request, refusal)
        return await _validation(request, exc)

    return handle


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_field_error(e) for e in exc.errors()]
    return problem_response(
        422,
        "Invalid request",
        f"{len(errors)} field(s) need correcting",
        "validation",
        request,
        errors=errors,
    )


async def _service(request: Request, exc: ServiceError) -> JSONResponse:
    headers = dict(exc.headers) if exc.headers else None
    response = problem_response(exc.status, exc.title, exc.detail, exc.slug, request, **exc.extra())
    if headers:
        response.headers.update(headers)
    return response


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
    503: "Service unavailable",
}


# What FastAPI says when a JSON body cannot even be decoded (e.g. it is not UTF-8).
_BODY_NOT_PARSED = "There was an error parsing the body"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _documented_methods(app: FastAPI, path: str) -> list[str] | None:
    """The methods the OpenAPI schema documents for the resource ``path`` names.

    FIX (fuzz test, schemathesis): a literal path wins over a template that also fits
    it: ``/v1/budgets/utilisation`` is the utilisation report, not a budget with the
    id "utilisation", so it allows GET only, as the schema says (it said GET, PUT).
    """
    segments = path.split("/")
    best: tuple[int, list[str]] | None = None
    for template, item in app.openapi().get("paths", {}).items():
        parts = template.split("/")
        if len(parts) != len(segments) or not all(
            part == segment or (part.startswith("{") and part.endswith("}"))
            for part, segment in zip(parts, segments, strict=True)
        ):
            continue
        parameters = sum(part.startswith("{") for part in parts)
        if best is None or parameters < best[0]:
            best = (parameters, [m.upper() for m in item if m in _OPERATIONS])
    return best[1] if best else None


def _allowed_methods(request: Request) -> str | None:
    """The methods of the resource at this path: those the schema documents for it, or
    for a route it does not document, every method some route serves at the path
    (Starlette names only the first route's)."""
    documented = _documented_methods(request.app, request.scope["path"])
    if documented:
        return ", ".join(m for m in _METHODS if m in documented)
    methods = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(methods) or None


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == _BODY_NOT_PARSED:
        # FIX (API tests, schemathesis): FastAPI answers a body it cannot decode with an
        # undocumented 400, but malformed JSON is a 422 everywhere else (the contract).
        return problem_response(
            422,
            "Invalid request",
            "the body is not JSON: it cannot be decoded",
            "validation",
            request,
            errors=[{"pointer": "", "detail": "send a JSON document encoded in UTF-8"}],
        )
    title = _TITLES.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    response = problem_response(
        exc.status_code, title, detail, title.lower().replace(" ", "-"), request
    )
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        # FIX (API tests, schemathesis): where several routes share a path (GET and POST
        # /v1/enterprises), Starlette's `Allow` listed only the first route's methods.
        allowed = _allowed_methods(request)
        if allowed:
            response.headers["Allow"] = allowed
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    response = problem_response(
        500,
        "Internal error",
        "the service failed; the error is logged and nothing was stored",
        "internal",
        request,
    )
    # Sent by the server's outermost layer, past the middleware that adds the id to
    # every other response: the id the client quotes finds the traceback in the log.
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id is not None:
        response.headers["X-Request-ID"] = request_id
    return response


async def _database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
    """The database refused or dropped the connection (down, restarting, out of
    connections) or asked for the transaction to be retried: a 503 the client and a
    load balancer know to retry, not a 500. The request's transaction was rolled back."""
    log.warning(
        "database unavailable on %s %s: %s",
        request.method,
        request.url.path,
        str(exc.orig or exc).splitlines()[0][:300],
    )
    response = problem_response(
        503,
        "Service unavailable",
        "the database is unavailable or asked for the request to be retried; try again "
        "shortly (a write sent again with the same Idempotency-Key is applied once)",
        "database-unavailable",
        request,
    )
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def install(app: FastAPI, check_key: KeyCheck | None = None) -> None:
    """The problem+json handlers; ``check_key`` turns a refused body into a 401 when the
    route needs a key the request does not have."""
    validation = _validation_handler(check_key)
    app.add_exception_handler(RequestValidationError, validation)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceError, _service)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    _document_problems(app)


_OPERATIONS = {"get", "put", "post", "delete", "patch"}


def _document_problems(app: FastAPI) -> None:
    """FIX (API tests): make the OpenAPI schema say what the handlers above send.

    FastAPI documented every error response twice (`application/json` from the
    `model`, beside `application/problem+json`), and gave routes that do not list a 422
    its own `HTTPValidationError` JSON body, which the service never sends. Here every
    4xx/5xx response is documented as problem+json only; an operation with parameters
    or a body documents its 422, one with a body its 413 and 415, and one that needs an
    API key its 401.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in schema.get("paths", {}).values():
            for method, operation in item.items():
                if method not in _OPERATIONS:
                    continue
                answers = operation.setdefault("responses", {})
                if operation.get("parameters") or operation.get("requestBody"):
                    answers.setdefault("422", {"description": "Unprocessable content"})
                if operation.get("requestBody"):
                    # app/api/body_limit.py: a body past its limit, or a compressed one.
                    answers.setdefault("413", {"description": _TITLES[413]})
                    answers.setdefault("415", {"description": _TITLES[415]})
                if operation.get("security"):
                    answers.setdefault("401", {"description": _TITLES[401]})
                for code, answer in answers.items():
                    if code[:1] in ("4", "5"):
                        answer["content"] = dict(problem)
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the problem responses a route can give."""
    return {
        s: {
            "model": Problem,
            "description": _TITLES.get(s, "Unprocessable content" if s == 422 else "Error"),
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
