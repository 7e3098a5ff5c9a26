"""The enterprise self-check: the open calculator and gap analysis behind a form.

No key is needed, as for ``POST /v1/eligibility``, and the answer comes from the same
services (``check_eligibility``, ``gap_analysis``) after the same checks (the profile
model, ``check_words``). The check is rate-limited per address with the calculator's
own limit. A profile is saved as the calculator's request body (``fiscal_year`` and
``profile``), so the file can also be sent to the API as it is.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.api.deps import CatalogDep, SessionDep
from app.api.rate_limit import RateLimitedRoute
from app.api.schemas.eligibility import EligibilityRequest
from app.catalog.loader import Catalog
from app.console.pages import QueryText, render
from app.console.profile_form import (
    ProfileForm,
    field_name,
    form_values,
    profile_form,
    read_profile,
)
from app.console.session import CsrfChecked, session_actor
from app.services.errors import Invalid
from app.services.gaps import gap_analysis
from app.services.matching import check_eligibility
from app.services.vocabulary import check_words

router = APIRouter()

PROFILE_FILE_BYTES = 200_000  # a profile file is a few kilobytes; the body limit is 256 KiB


def _default_year() -> int:
    return date.today().year - 1  # the last complete accounting year


def _year(text: str | None) -> int:
    if text and text.isdigit() and 2000 <= int(text) <= 2100:
        return int(text)
    return _default_year()


def _page(
    request: Request,
    session: Any,
    catalog: Catalog,
    form: ProfileForm,
    values: dict[str, str],
    lang: str | None,
    *,
    answer: dict[str, Any] | None = None,
    gaps: dict[str, Any] | None = None,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "self_check.html",
        {
            "form": form,
            "values": values,
            "answer": answer,
            "gaps": gaps,
            "errors": errors or [],
            "error_fields": {e["field"] for e in errors or []},
        },
        actor=session_actor(request, session),
        status=status,
        lang=lang,
    )


@router.get("/self-check", response_class=HTMLResponse)
def self_check_form(
    request: Request, session: SessionDep, catalog: CatalogDep, fiscal_year: QueryText | None = None
) -> Response:
    form = profile_form(catalog, _year(fiscal_year))
    return _page(request, session, catalog, form, {}, None)


def _checked(
    catalog: Catalog, values: dict[str, str], fiscal_year: int
) -> tuple[EligibilityRequest | None, list[dict[str, str]]]:
    """The calculator's request from the form, or the fields to correct (each named)."""
    form = profile_form(catalog, fiscal_year)
    body = {"fiscal_year": fiscal_year, "profile": read_profile(form, values)}
    try:
        request = EligibilityRequest.model_validate(body)
    except ValidationError as exc:
        return None, [
            {
                "field": field_name(e["loc"][1:] if e["loc"][:1] == ("profile",) else e["loc"]),
                "detail": e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors()
        ]
    try:
        check_words(request.profile, catalog)
    except Invalid as exc:
        return None, [
            {
                "field": field_name((e.get("pointer") or "").strip("/").split("/")),
                "detail": e.get("detail", exc.detail),
            }
            for e in exc.errors or [{"pointer": "", "detail": exc.detail}]
        ]
    return request, []


def _answer(
    request: Request, session: Any, catalog: Catalog, values: dict[str, str], lang: str | None
) -> Response:
    fiscal_year = _year(values.get("fiscal_year"))
    form = profile_form(catalog, fiscal_year)
    checked, errors = _checked(catalog, values, fiscal_year)
    if checked is None:
        return _page(request, session, catalog, form, values, lang, errors=errors, status=422)
    facts = checked.profile.facts()
    answer = check_eligibility(catalog, facts, fiscal_year)
    gaps = gap_analysis(catalog, facts, fiscal_year)
    return _page(request, session, catalog, form, values, lang, answer=answer, gaps=gaps)


async def _form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def self_check(request: Request, session: SessionDep, catalog: CatalogDep) -> Response:
    values = await _form_values(request)
    return _answer(request, session, catalog, values, values.get("lang"))


# The open calculator's own route class: counted per address before the form is read.
router.add_api_route(
    "/self-check",
    self_check,
    methods=["POST"],
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
    route_class_override=RateLimitedRoute,
)


@router.post("/self-check/profile.json", dependencies=[CsrfChecked])
async def save_profile(request: Request, session: SessionDep, catalog: CatalogDep) -> Response:
    """The form's profile as a file (the calculator's request body), once it checks out."""
    values = await _form_values(request)
    fiscal_year = _year(values.get("fiscal_year"))
    checked, errors = _checked(catalog, values, fiscal_year)
    if checked is None:
        form = profile_form(catalog, fiscal_year)
        lang = values.get("lang")
        return _page(request, session, catalog, form, values, lang, errors=errors, status=422)
    document = {"fiscal_year": fiscal_year, "profile": checked.profile.facts()}
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="profile.json"'},
    )


async def load_profile(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    profile_file: Annotated[UploadFile, File()],
    lang: Annotated[str | None, Form()] = None,
) -> Response:
    """A saved profile file back into the form (checked as the calculator checks it)."""
    raw = await profile_file.read(PROFILE_FILE_BYTES + 1)
    form = profile_form(catalog, _default_year())
    problem = None
    if len(raw) > PROFILE_FILE_BYTES:
        problem = f"the file is larger than {PROFILE_FILE_BYTES:,} bytes: is it a profile file?"
    else:
        try:
            document = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            problem = f"the file is not JSON: {exc}"
    if problem is None and not (
        isinstance(document, dict) and isinstance(document.get("profile"), dict)
    ):
        problem = "the file has no `profile`: save one from this page first"
    if problem is not None:
        errors = [{"field": "profile_file", "detail": problem}]
        return _page(request, session, catalog, form, {}, lang, errors=errors, status=422)
    values = form_values(document["profile"])
    values["fiscal_year"] = str(document.get("fiscal_year", form.fiscal_year))
    return _answer(request, session, catalog, values, lang)


# Loading a file answers it too: counted like the check itself.
router.add_api_route(
    "/self-check/load",
    load_profile,
    methods=["POST"],
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
    route_class_override=RateLimitedRoute,
)
