"""The console's home page, sign-in with an API key, and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import SessionDep
from app.console.pages import PREFIX, QueryText, render, see_other
from app.console.session import CsrfChecked, end_session, session_actor, set_session
from app.services.keys import authenticate

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console page only, never another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target[len(PREFIX) :]
    return "/"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    return render(request, "home.html", {}, actor=session_actor(request, session))


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: QueryText | None = None) -> Response:
    return render(request, "sign_in.html", {"next": _safe_next(next), "problem": None})


@router.post("/sign-in", dependencies=[CsrfChecked])
def sign_in(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Resolve the key as the API does; the cookie then names the key's id, signed."""
    actor = authenticate(session, api_key.strip())
    if actor is None or actor.api_key_id is None:
        return render(
            request,
            "sign_in.html",
            {"next": _safe_next(PREFIX + next), "problem": "unknown_key"},
            status=401,
        )
    response = see_other(_safe_next(PREFIX + next))
    set_session(request, response, actor.api_key_id)
    return response


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request) -> Response:
    response = see_other("/")
    end_session(request, response)
    return response
