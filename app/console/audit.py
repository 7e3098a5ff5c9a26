"""The auditor's pages: the audit log with filters and paging, the chain's verification
against a kept checkpoint, and the CSV exports, each through the API's route function
(auditors and admins only, as there)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import Field

from app.api.deps import SessionDep
from app.api.routes import audit as audit_api
from app.api.schemas.bounded import (
    AuditAction,
    AuditActor,
    AuditObjectId,
    AuditObjectType,
    AuditSeq,
    ChainHash,
)
from app.console.pages import QueryText, blank_or, render
from app.console.session import ConsoleActor

router = APIRouter()

PAGE = 50


def _blank_is_none(value: str | None) -> str | None:
    return value or None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    actor: ConsoleActor,
    after_seq: Annotated[AuditSeq, Query()] = 0,
    action: Annotated[AuditAction | None, Query()] = None,
    object_type: Annotated[AuditObjectType | None, Query()] = None,
    object_id: Annotated[AuditObjectId | None, Query()] = None,
    by: Annotated[AuditActor | None, Query()] = None,
) -> Response:
    filters = {
        "action": _blank_is_none(action),
        "object_type": _blank_is_none(object_type),
        "object_id": _blank_is_none(object_id),
        "by": _blank_is_none(by),
    }
    page = audit_api.events(
        session,
        actor,
        after_seq=after_seq,
        limit=PAGE,
        action=filters["action"],
        object_type=filters["object_type"],
        object_id=filters["object_id"],
        by=filters["by"],
    )
    head = audit_api.checkpoint(session, actor)
    return render(
        request,
        "audit.html",
        {
            "events": page["items"],
            "next_cursor": page["next_cursor"],
            "filters": {k: v or "" for k, v in filters.items()},
            "after_seq": after_seq,
            "head": head,
        },
        actor=actor,
    )


@router.get("/audit/verify", response_class=HTMLResponse)
def verify_page(
    request: Request,
    session: SessionDep,
    actor: ConsoleActor,
    checkpoint_seq: Annotated[QueryText | None, Query()] = None,
    checkpoint_hash: Annotated[QueryText | None, Query()] = None,
) -> Response:
    """The chain recomputed, and held to a kept checkpoint if one is given: green, or
    the first record where it broke. htmx puts it into the audit page."""
    seq = blank_or(Annotated[AuditSeq, Field(ge=1)], checkpoint_seq, "checkpoint_seq")
    digest = blank_or(ChainHash, checkpoint_hash, "checkpoint_hash")
    result = audit_api.verify(session, actor, seq, digest)
    template = "verify_result.html" if request.headers.get("HX-Request") else "verify.html"
    return render(
        request,
        template,
        {
            "result": result,
            "checkpoint_seq": seq or "",
            "checkpoint_hash": digest or "",
        },
        actor=actor,
    )


@router.get("/audit/events.csv")
def audit_csv(request: Request, actor: ConsoleActor) -> StreamingResponse:
    return audit_api.events_csv(request, actor)


@router.get("/audit/awards.csv")
def awards_csv(request: Request, session: SessionDep, actor: ConsoleActor) -> StreamingResponse:
    return audit_api.awards_csv(request, session, actor)
