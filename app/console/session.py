"""The console's sign-in: a signed session cookie that names an API key, and CSRF tokens.

The cookie never holds the key itself: it holds the key's id and an expiry, signed
with the service's console secret (HMAC-SHA256). Every request looks the key up
again and resolves it to an actor exactly as the API does (``actor_for``), so a
revoked key ends its sessions at once and the role scope is the API's own.

Every form carries a CSRF token: an HMAC of a random per-browser nonce (its own
cookie) and of the session cookie, so a token is good only for the browser and the
session it was given to. Both cookies are HttpOnly and SameSite=Strict, and Secure
when the request came over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from app.api.deps import SessionDep
from app.db import repositories as repo
from app.services.actors import Actor
from app.services.keys import actor_for

SESSION_COOKIE = "console_session"
NONCE_COOKIE = "console_nonce"
CSRF_FIELD = "csrf"
LIFETIME_SECONDS = 8 * 3600  # a working day; signing in again takes the key once more


class SignInRequired(Exception):
    """A console page that needs a key was opened without a live session."""


class CsrfRefused(Exception):
    """A form came without the token this browser's session was given."""


def _secret(request: Request) -> bytes:
    secret: str = request.app.state.console_secret
    return secret.encode("utf-8")


def _sign(request: Request, text: str) -> str:
    digest = hmac.new(_secret(request), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def session_token(request: Request, key_id: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + LIFETIME_SECONDS)
    body = f"{key_id}.{expires}"
    return f"{body}.{_sign(request, 'session|' + body)}"


def key_id_of(request: Request, token: str | None, now: float | None = None) -> str | None:
    """The key id a session cookie names, if its signature holds and it has not expired."""
    if not token or token.count(".") != 2:
        return None
    key_id, expires, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(request, f"session|{key_id}.{expires}")):
        return None
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    return key_id


def session_actor(request: Request, session: Session) -> Actor | None:
    """The actor of the browser's session: None without one, or when its key was revoked."""
    key_id = key_id_of(request, request.cookies.get(SESSION_COOKIE))
    if key_id is None:
        return None
    key = repo.get_api_key(session, key_id)
    if key is None or key.revoked_at is not None:
        return None
    return actor_for(key)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(request: Request, response: Response, key_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_token(request, key_id),
        max_age=LIFETIME_SECONDS,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/console", httponly=True, samesite="strict", secure=_secure(request)
    )


def nonce(request: Request) -> str:
    """This browser's CSRF nonce: from its cookie, or a new one the page will set."""
    known = request.cookies.get(NONCE_COOKIE) or getattr(request.state, "new_nonce", None)
    if known:
        return known
    fresh = secrets.token_urlsafe(24)
    request.state.new_nonce = fresh
    return fresh


def keep_nonce(request: Request, response: Response) -> None:
    """Set the nonce cookie if this page drew a new one."""
    fresh = getattr(request.state, "new_nonce", None)
    if fresh:
        response.set_cookie(
            NONCE_COOKIE,
            fresh,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )


def csrf_token(request: Request, session_cookie: str | None = None) -> str:
    """The token forms carry: bound to this browser's nonce and to its session (if any)."""
    if session_cookie is None:
        session_cookie = request.cookies.get(SESSION_COOKIE, "")
    return _sign(request, f"csrf|{nonce(request)}|{session_cookie}")


async def check_csrf(request: Request) -> None:
    """A dependency of every console POST: the form's token must be this browser's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not request.cookies.get(NONCE_COOKIE) or not isinstance(sent, str):
        raise CsrfRefused
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfRefused


def signed_in(request: Request, session: SessionDep) -> Actor:
    """A dependency of the pages that need a key: the session's actor, or off to sign in."""
    actor = session_actor(request, session)
    if actor is None:
        raise SignInRequired
    return actor


ConsoleActor = Annotated[Actor, Depends(signed_in)]
CsrfChecked = Depends(check_csrf)
