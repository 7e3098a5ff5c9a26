"""An award's whole life in the console: its reasons and history, the public notice
and its objections, approval, payment, rejection and revocation, and its replay.

Reads are the API's route functions; each step is the lifecycle service's, after the
checks the API makes (``require_writer``, the request schemas that validate dates and
the text people write), so a step refused to a key in the API is refused here too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from app.api.deps import CatalogDep, SessionDep
from app.api.routes import award_actions as actions_api
from app.api.routes import awards as awards_api
from app.api.schemas.awards import NoticeRequest, ObjectionRequest, ReasonRequest
from app.api.schemas.bounded import AwardId
from app.console.pages import render, see_other
from app.console.session import ConsoleActor, CsrfChecked
from app.db import repositories as repo
from app.services import lifecycle
from app.services.access import require_writer
from app.services.errors import Invalid

router = APIRouter()

Step = Literal["notice", "approve", "disburse", "reject", "revoke", "objection"]
#: Which steps an award in each status can take next (the lifecycle service decides;
#: this only chooses which forms the page offers).
OFFERED = {
    "computed": ("notice", "reject"),
    "public_notice": ("objection", "approve", "reject"),
    "approved": ("disburse", "revoke"),
    "disbursed": ("revoke",),
}


@router.get("/awards/{award_id}", response_class=HTMLResponse)
def award_page(
    request: Request,
    award_id: AwardId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
) -> Response:
    award = awards_api.get_award(award_id, session, catalog, actor)
    events = actions_api.events(award_id, session, catalog, actor)["items"]
    enterprise = repo.get_enterprise(session, award["enterprise_id"])
    policy = catalog.policies.get(award["policy_id"])
    may_write = actor.role in ("admin", "portal")
    return render(
        request,
        "award.html",
        {
            "award": award,
            "events": events,
            "enterprise": enterprise,
            "policy": policy,
            "offered": OFFERED.get(award["status"], ()) if may_write else (),
        },
        actor=actor,
    )


def _validated(schema: type[BaseModel], fields: dict[str, Any]) -> BaseModel:
    """The form's fields through the API's request schema; its errors name the field."""
    try:
        return schema.model_validate({k: v for k, v in fields.items() if v not in (None, "")})
    except ValidationError as exc:
        errors = [
            {"pointer": ".".join(map(str, e["loc"])), "detail": e["msg"]} for e in exc.errors()
        ]
        raise Invalid("the form has fields to correct", errors=errors) from None


@router.post("/awards/{award_id}/{step}", dependencies=[CsrfChecked])
def award_step(
    award_id: AwardId,
    step: Step,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    reason: Annotated[str, Form(max_length=4000)] = "",
    notice_start: Annotated[str, Form(max_length=20)] = "",
    notice_end: Annotated[str, Form(max_length=20)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
    by: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One step of the award's life, or an objection during its public notice."""
    require_writer(actor)
    if step == "objection":
        objection = _validated(ObjectionRequest, {"text": text, "by": by})
        assert isinstance(objection, ObjectionRequest)
        lifecycle.record_objection(session, catalog, actor, award_id, objection.text, objection.by)
    elif step == "notice":
        notice = _validated(
            NoticeRequest,
            {"notice_start": notice_start, "notice_end": notice_end, "reason": reason},
        )
        assert isinstance(notice, NoticeRequest)
        lifecycle.transition(
            session,
            catalog,
            actor,
            award_id,
            "notice",
            reason=notice.reason,
            notice_start=notice.notice_start,
            notice_end=notice.notice_end,
        )
    else:
        body = _validated(ReasonRequest, {"reason": reason})
        assert isinstance(body, ReasonRequest)
        lifecycle.transition(session, catalog, actor, award_id, step, reason=body.reason)
    return see_other(f"/awards/{award_id}")


@router.get("/awards/{award_id}/replay", response_class=HTMLResponse)
def replay_page(
    request: Request,
    award_id: AwardId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
) -> Response:
    """The award recomputed from what the database holds, beside what was stored."""
    replayed = actions_api.replay_award(award_id, session, catalog, actor)
    return render(request, "replay.html", {"replay": replayed, "award_id": award_id}, actor=actor)
