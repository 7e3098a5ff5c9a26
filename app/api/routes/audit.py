"""The audit log for auditors: events, verification against the hash chain, checkpoints,
and CSV exports (``app/services/csv_export.py``: UTF-8 with BOM, formulas neutralised)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.auth import ActorDep
from app.api.deps import SessionDep
from app.api.errors import responses
from app.api.schemas.bounded import (
    AuditAction,
    AuditActor,
    AuditObjectId,
    AuditObjectType,
    AuditOccurredAt,
    AuditSeq,
    AwardStatus,
    ChainHash,
    EnterpriseId,
    PayerFilter,
    PlaceFilter,
    PolicyId,
)
from app.api.schemas.ledger import AuditEventList, Checkpoint, VerifyOut
from app.db import repositories as repo
from app.db.models import AuditLog, Award
from app.services import audit
from app.services.access import require_reader
from app.services.csv_export import csv_stream

router = APIRouter(prefix="/audit", tags=["audit"])

PAGE = 200


def _event(row: AuditLog) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at,
        "actor": row.actor,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "payload": row.payload,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _filtered(
    session: Any,
    *,
    after: int,
    limit: int,
    action: str | None,
    object_type: str | None,
    object_id: str | None,
    actor: str | None,
    occurred_from: datetime | None,
    occurred_to: datetime | None,
) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.seq > after)
    for column, value in (
        (AuditLog.action, action),
        (AuditLog.object_type, object_type),
        (AuditLog.object_id, object_id),
        (AuditLog.actor, actor),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if occurred_from is not None:
        stmt = stmt.where(AuditLog.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(AuditLog.occurred_at < occurred_to)
    return list(session.scalars(stmt.order_by(AuditLog.seq).limit(limit)).all())


@router.get("/events", response_model=AuditEventList, responses=responses(401, 403, 422))
def events(
    session: SessionDep,
    actor: ActorDep,
    after_seq: Annotated[AuditSeq, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE)] = 50,
    action: Annotated[AuditAction | None, Query()] = None,
    object_type: Annotated[AuditObjectType | None, Query()] = None,
    object_id: Annotated[AuditObjectId | None, Query()] = None,
    by: Annotated[AuditActor | None, Query()] = None,
    occurred_from: Annotated[AuditOccurredAt | None, Query()] = None,
    occurred_to: Annotated[AuditOccurredAt | None, Query()] = None,
) -> dict[str, Any]:
    """Audit records in chain order; `next_cursor` is the `after_seq` of the next page."""
    require_reader(actor, "auditor")
    rows = _filtered(
        session,
        after=after_seq,
        limit=limit,
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor=by,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return {
        "items": [_event(r) for r in rows],
        "next_cursor": str(rows[-1].seq) if len(rows) == limit else None,
    }


@router.get("/verify", response_model=VerifyOut, responses=responses(401, 403, 422))
def verify(
    session: SessionDep,
    actor: ActorDep,
    checkpoint_seq: Annotated[AuditSeq | None, Query(ge=1)] = None,
    checkpoint_hash: Annotated[ChainHash | None, Query()] = None,
) -> dict[str, Any]:
    """Recompute the hash chain; name the first bad record. With a kept checkpoint, a cut tail shows too."""
    require_reader(actor, "auditor")
    result = audit.verify(session, checkpoint_seq, checkpoint_hash)
    return {
        "ok": result.ok,
        "records": result.records,
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "first_bad_seq": result.first_bad_seq,
        "problem": result.problem,
    }


@router.get("/checkpoint", response_model=Checkpoint, responses=responses(401, 403))
def checkpoint(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """(sequence, head hash) for auditors to keep outside the system (`incentives audit checkpoint`)."""
    require_reader(actor, "auditor")
    kept = audit.take_checkpoint(session)
    return {"seq": kept.seq, "hash": kept.hash, "taken_at": kept.taken_at}


def _own_session(request: Request) -> Iterator[Session]:
    """A session for a streamed body: the request's own may be closed before streaming ends."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


CSV_RESPONSE = {"responses": {"200": {"content": {"text/csv": {"schema": {"type": "string"}}}}}}


@router.get(
    "/events.csv",
    response_class=StreamingResponse,
    responses=responses(401, 403),
    openapi_extra=CSV_RESPONSE,
)
def events_csv(request: Request, actor: ActorDep) -> StreamingResponse:
    """The whole audit log as CSV."""
    require_reader(actor, "auditor")

    def rows() -> Iterator[list[Any]]:
        for session in _own_session(request):
            for r in repo.iterate_audit_entries(session):
                yield [
                    r.seq,
                    r.occurred_at,
                    r.actor,
                    r.action,
                    r.object_type,
                    r.object_id,
                    json.dumps(r.payload, ensure_ascii=False, sort_keys=True),
                    r.prev_hash,
                    r.hash,
                ]

    header = [
        "seq",
        "occurred_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "payload",
        "prev_hash",
        "hash",
    ]
    return StreamingResponse(
        csv_stream(header, rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
    )


CSV_PAGE = 200
AWARD_CSV_HEADER = [
    "id",
    "enterprise_id",
    "uscc",
    "enterprise_name",
    "district",
    "policy_id",
    "policy_version",
    "fiscal_year",
    "status",
    "amount",
    "uncapped_amount",
    "amount_basis",
    "payer_level",
    "payer",
    "revision",
    "created_at",
]


def _award_rows(session: Session, awards: Sequence[Award]) -> list[list[Any]]:
    """One CSV row per award, with its enterprise's USCC, name and district."""
    names = {e.id: e for e in repo.get_enterprises(session, {a.enterprise_id for a in awards})}
    rows = []
    for a in awards:
        e = names.get(a.enterprise_id)
        rows.append(
            [
                a.id,
                a.enterprise_id,
                e.uscc if e else "",
                e.name if e else "",
                e.district if e else "",
                a.policy_id,
                a.policy_version,
                a.fiscal_year,
                a.status,
                a.amount,  # Decimal: a number in the spreadsheet
                a.uncapped_amount,
                a.amount_basis,
                a.payer_level,
                a.payer_jurisdiction or "",
                a.revision,
                a.created_at,
            ]
        )
    return rows


@router.get(
    "/awards.csv",
    response_class=StreamingResponse,
    responses=responses(401, 403, 422),
    openapi_extra=CSV_RESPONSE,
)
def awards_csv(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    policy_id: Annotated[PolicyId | None, Query()] = None,
    enterprise_id: Annotated[EnterpriseId | None, Query()] = None,
    district: Annotated[PlaceFilter | None, Query()] = None,
    payer: Annotated[PayerFilter | None, Query()] = None,
    fiscal_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: Annotated[AwardStatus | None, Query()] = None,
) -> StreamingResponse:
    """Awards as CSV (filtered like GET /v1/awards), with the enterprise's name and USCC."""
    require_reader(actor, "auditor")
    filters: dict[str, Any] = {
        "policy_id": policy_id,
        "enterprise_id": enterprise_id,
        "district": district,
        "payer_jurisdiction": payer,
        "fiscal_year": fiscal_year,
        "status": status,
    }
    # Once the headers are out, a failure can only cut the download short: the
    # parameters are checked and the first page is read before the answer starts.
    first = repo.list_awards(session, **filters, limit=CSV_PAGE)
    head = _award_rows(session, first.items)

    def rows() -> Iterator[list[Any]]:
        yield from head
        cursor = first.next_cursor
        if cursor is None:
            return
        for own in _own_session(request):
            while cursor is not None:
                page = repo.list_awards(own, **filters, cursor=cursor, limit=CSV_PAGE)
                yield from _award_rows(own, page.items)
                cursor = page.next_cursor

    return StreamingResponse(
        csv_stream(AWARD_CSV_HEADER, rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="awards.csv"'},
    )
