"""The browser console at /console: the enterprise self-check, the portal officer's and
the auditor's pages, rendered by the server on the API's own services and scope rules.

Everything the pages use is served from here (``static/``: htmx and one stylesheet);
nothing comes from another site, so the console works on an intranet with no internet.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.console import (
    audit,
    awards,
    budgets,
    enterprises,
    imports,
    pages,
    runs,
    self_check,
    sign_in,
    what_if,
)

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI, secret: str | None) -> None:
    """Serve the console under /console; ``secret`` signs its cookies (drawn if None:
    then sessions last as long as this process)."""
    app.state.console_secret = secret or secrets.token_urlsafe(32)
    for module in (
        sign_in,
        self_check,
        enterprises,
        imports,
        awards,
        budgets,
        runs,
        what_if,
        audit,
    ):
        app.include_router(module.router, prefix=pages.PREFIX, include_in_schema=False)
    app.mount(pages.PREFIX + "/static", StaticFiles(directory=STATIC), name="console-static")
    pages.install(app)
