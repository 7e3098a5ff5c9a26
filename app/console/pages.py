"""Rendering a console page: the template, the signed-in actor, language and CSRF token.

Errors the services raise (a 404 for an object outside the key's scope, a 403 for a
role that may not act, a 409 or 422) become a page with the same status and the
service's own words, instead of the API's problem+json.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ExceptionHandler

from app.console.fact_labels import labeller
from app.console.i18n import language, state_translator, translator
from app.console.session import (
    CsrfRefused,
    SignInRequired,
    csrf_token,
    keep_nonce,
    session_actor,
)
from app.profile.bounded import NO_NUL
from app.services.actors import Actor
from app.services.errors import Invalid, ServiceError

PREFIX = "/console"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def money(value: Any) -> str:
    """12345.6 -> "12,345.60": amounts in yuan with the fen, as the ledger keeps them."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.2f}"


BEIJING = timezone(timedelta(hours=8), "北京时间")  # China keeps one zone and no summer time


def instant(value: datetime | str | None) -> str:
    """A stored instant (UTC) as a district office reads it: Beijing time, to the second."""
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["money"] = money
templates.env.filters["instant"] = instant


FiscalYear = Annotated[int, Field(ge=2000, le=2100)]
#: A query value a page reads as text before checking it (a GET form's blank fields).
QueryText = Annotated[str, StringConstraints(max_length=200), NO_NUL]


def blank_or(kind: Any, value: str | None, name: str) -> Any:
    """An optional field of a GET form: blank is not given; anything else must be a
    ``kind`` (the API's own type for it), or a 422 that names the field."""
    if value is None or not value.strip():
        return None
    try:
        return TypeAdapter(kind).validate_python(value.strip())
    except ValidationError as exc:
        detail = exc.errors()[0]["msg"]
        raise Invalid(
            f"`{name}` is not valid: {detail}", errors=[{"parameter": name, "detail": detail}]
        ) from None


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    actor: Actor | None = None,
    status: int = 200,
    lang: str | None = None,
) -> HTMLResponse:
    chosen = language(request, lang)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "actor": actor,
            "lang": chosen,
            "t": translator(chosen),
            "state": state_translator(chosen),
            "fact": labeller(request.app.state.catalog, chosen),
            "csrf": csrf_token(request),
            "prefix": PREFIX,
            **context,
        },
        status_code=status,
    )
    keep_nonce(request, response)
    return response


def see_other(path: str) -> RedirectResponse:
    """Post/redirect/get: after a form's change, the page that shows it."""
    return RedirectResponse(PREFIX + path, status_code=303)


def _is_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_page(request: Request, status: int, detail: str, errors: Any = None) -> HTMLResponse:
    sessionmaker = request.app.state.sessionmaker
    with sessionmaker() as session:
        actor = session_actor(request, session)
    return render(
        request,
        "error.html",
        {"status": status, "detail": detail, "errors": errors or []},
        actor=actor,
        status=status,
    )


def install(app: FastAPI) -> None:
    """Console pages answer errors as pages; everything else keeps the API's handlers."""
    api_handlers: dict[Any, ExceptionHandler] = dict(app.exception_handlers)

    def wrap(kind: type[Exception]) -> None:
        api = api_handlers[kind]

        async def handler(request: Request, exc: Exception) -> Response:
            if not _is_console(request):
                return await api(request, exc)  # type: ignore[arg-type, misc, no-any-return]
            if isinstance(exc, ServiceError):
                page = error_page(request, exc.status, exc.detail, exc.errors)
                page.headers.update(exc.headers or {})  # e.g. a 429's Retry-After
                return page
            if isinstance(exc, RequestValidationError):
                wrong = [
                    {"pointer": ".".join(str(p) for p in e.get("loc", ())), "detail": e["msg"]}
                    for e in exc.errors()
                ]
                return error_page(request, 422, "the address or the form has a bad value", wrong)
            assert isinstance(exc, StarletteHTTPException)
            return error_page(request, exc.status_code, str(exc.detail))

        app.add_exception_handler(kind, handler)

    for kind in (ServiceError, RequestValidationError, StarletteHTTPException):
        wrap(kind)

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"{PREFIX}/sign-in?next={target}" if request.method == "GET" else f"{PREFIX}/sign-in",
            status_code=303,
        )

    async def refuse_form(request: Request, exc: Exception) -> Response:
        return error_page(
            request, 403, "the form has expired or did not come from this console: open it again"
        )

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(CsrfRefused, refuse_form)
