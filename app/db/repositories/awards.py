"""Awards (the ledger) and the events of their workflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.catalog.places import Area
from app.db.models import DEAD_AWARD_STATUSES, Award, AwardEvent, Budget, Enterprise, new_id
from app.db.repositories._base import add_and_flush, lock_by_id
from app.db.repositories.areas import enterprise_in
from app.db.repositories.audit import run_and_lock_for_append, run_append_and_commit
from app.db.repositories.budgets import RESERVE, forget_budget, reservation
from app.db.repositories.pagination import DEFAULT_PAGE_SIZE, Page, paginate


def add_award(session: Session, award: Award) -> Award:
    """Insert an award; a second *live* award for the same enterprise, policy and year
    raises ``sqlalchemy.exc.IntegrityError`` (partial unique index)."""
    return add_and_flush(session, award)


def get_award(session: Session, award_id: str) -> Award | None:
    return session.get(Award, award_id)


def lock_award(session: Session, award_id: str) -> Award | None:
    """Lock the award row before a status transition."""
    return lock_by_id(session, Award, award_id)


# Built once (every transition runs it): FOR NO KEY UPDATE OF awards locks only the
# award, and only against other writers of it; rows that merely reference it (events)
# are not held up. The enterprise comes as the columns the access check reads, not
# as an object loaded into the session.
_LOCK_FOR_TRANSITION = (
    select(
        Award,
        Enterprise.id,
        Enterprise.province,
        Enterprise.city,
        Enterprise.district,
        Enterprise.park,
        Budget.id.label("budget_id"),
    )
    .join(Enterprise, Enterprise.id == Award.enterprise_id)
    .outerjoin(
        Budget,
        and_(
            Budget.policy_id == Award.policy_id,
            Budget.fiscal_year == Award.fiscal_year,
            Budget.payer_jurisdiction == Award.payer_jurisdiction,
        ),
    )
    .where(Award.id == bindparam("award_id"))
    .with_for_update(of=Award, key_share=True)
    .execution_options(populate_existing=True)
)


@dataclass(frozen=True)
class EnterpriseLocation:
    """An enterprise's id and place: what the access checks read."""

    id: str
    province: str | None
    city: str | None
    district: str | None
    park: str | None


def lock_award_for_transition(
    session: Session, award_id: str
) -> tuple[Award, EnterpriseLocation, str | None] | None:
    """Lock the award row and read, in the same round trip, its enterprise's place (for
    the access check) and the id of the budget that pays it, if one exists yet."""
    row = session.execute(_LOCK_FOR_TRANSITION, {"award_id": award_id}).one_or_none()
    if row is None:
        return None
    return row[0], EnterpriseLocation(*row[1:6]), row[6]


@dataclass(frozen=True)
class StatusChange:
    """An award's move to another status as it is written: the award's row and the
    event that records who moved it, when and why."""

    award_id: str
    from_status: str
    to_status: str
    budget_id: str | None
    notice_start: date | None
    notice_end: date | None
    actor: str
    reason: str | None
    details: dict[str, Any]
    at: datetime

    def params(self) -> dict[str, Any]:
        return {
            "award_id": self.award_id,
            "new_status": self.to_status,
            "new_budget_id": self.budget_id,
            "new_notice_start": self.notice_start,
            "new_notice_end": self.notice_end,
            "at": self.at,
            "event_id": new_id(),
            "from_status": self.from_status,
            "actor": self.actor,
            "reason": self.reason,
            "details": self.details,
        }


_AWARDS = cast(Table, Award.__table__)
_EVENTS = cast(Table, AwardEvent.__table__)
# Core statements built once (every transition runs them): the ORM's unit of work
# cost more CPU than the database's own work for an approval.
_NEW_STATUS = (
    update(_AWARDS)
    .where(_AWARDS.c.id == bindparam("award_id"))
    .values(
        status=bindparam("new_status"),
        budget_id=bindparam("new_budget_id"),
        notice_start=bindparam("new_notice_start"),
        notice_end=bindparam("new_notice_end"),
        updated_at=bindparam("at"),
    )
)
_EVENT_COLUMNS = ["id", "award_id", "from_status", "to_status", "actor", "reason", "details", "at"]


def _event_values(award_id: Any) -> list[Any]:
    c = _EVENTS.c
    return [
        bindparam("event_id", type_=c.id.type),
        award_id,
        bindparam("from_status", type_=c.from_status.type),
        bindparam("new_status", type_=c.to_status.type),
        bindparam("actor", type_=c.actor.type),
        bindparam("reason", type_=c.reason.type),
        bindparam("details", type_=c.details.type),
        bindparam("at", type_=c.at.type),
    ]


_EVENT = insert(_EVENTS).from_select(_EVENT_COLUMNS, select(*_event_values(bindparam("award_id"))))


def _moved_with_event(moved_if: Any = None) -> Any:
    """PostgreSQL: the award's UPDATE and the event's INSERT as one statement (one round
    trip); with ``moved_if``, neither happens unless that holds."""
    move = _NEW_STATUS if moved_if is None else _NEW_STATUS.where(moved_if)
    moved = move.returning(_AWARDS.c.id).cte("moved")
    return (
        insert(_EVENTS)
        .from_select(_EVENT_COLUMNS, select(*_event_values(moved.c.id)).select_from(moved))
        .returning(_EVENTS.c.id)
    )


_MOVE = _moved_with_event()
_RESERVED = RESERVE.cte("reserved")
# An approval: reserve the amount in the budget, then move the award and record the
# event, in one statement; nothing is written when the budget cannot take the amount.
_APPROVE = _moved_with_event(exists(_RESERVED.select())).add_cte(_RESERVED)


@cache
def _approve_sql() -> str:
    """``_APPROVE`` as PostgreSQL text with ``%(name)s`` placeholders (psycopg's own)."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    return str(_APPROVE.compile(dialect=dialect()))  # type: ignore[no-untyped-call]


# The approval wrote its event: what its audit record, chained in the same message, is about.
_EVENT_WRITTEN = "EXISTS (SELECT 1 FROM award_events WHERE id = %(event_id)s)"


def change_status(
    session: Session,
    change: StatusChange,
    reserve: Decimal | None = None,
    lock_audit: bool = False,
    commit_with: Mapping[str, Any] | None = None,
) -> bool:
    """Write ``change`` (the award must be locked by this transaction); with ``reserve``,
    only if the award's budget (``change.budget_id``) can take that amount, which is
    then added to its ``committed`` as ``reserve_budget`` does. ``False`` when the
    budget cannot take it: then nothing is written.

    ``lock_audit``: the caller writes nothing else before committing, so on PostgreSQL
    an approval takes the audit chain's append lock in the same round trip
    (``audit.run_and_lock_for_append``).

    ``commit_with`` (an approval, PostgreSQL): the transaction's only other write, its
    audit record (``audit.chained_in_database``), chained and committed in the same
    message (``audit.run_append_and_commit``); the transaction is over when this returns.

    The award loaded in this session shows the change without being flushed again.
    """
    params = change.params()
    budget_id = change.budget_id
    if reserve is not None:
        assert budget_id is not None
        params |= reservation(budget_id, reserve, change.at)
    connection = session.connection()
    if connection.dialect.name == "postgresql" and reserve is not None and commit_with:
        from psycopg.types.json import Jsonb

        bound = params | {"details": Jsonb(params["details"])}
        row = run_append_and_commit(session, _approve_sql(), bound, commit_with, _EVENT_WRITTEN)
        written = row is not None
    elif connection.dialect.name == "postgresql" and reserve is not None and lock_audit:
        from psycopg.types.json import Jsonb

        bound = params | {"details": Jsonb(params["details"])}
        written = run_and_lock_for_append(session, _approve_sql(), bound) is not None
    elif connection.dialect.name == "postgresql":
        statement = _MOVE if reserve is None else _APPROVE
        written = connection.execute(statement, params).first() is not None
    else:
        # SQLite runs one writer at a time (BEGIN IMMEDIATE): the order is free there.
        written = reserve is None or connection.execute(RESERVE, params).first() is not None
        if written:
            connection.execute(_NEW_STATUS, params)
            connection.execute(_EVENT, params)
    if not written:
        return False
    if reserve is not None and budget_id is not None:
        forget_budget(session, budget_id)
    award = session.identity_map.get(session.identity_key(Award, change.award_id))
    if award is not None:
        for name, value in (
            ("status", change.to_status),
            ("budget_id", change.budget_id),
            ("notice_start", change.notice_start),
            ("notice_end", change.notice_end),
            ("updated_at", change.at),
        ):
            set_committed_value(award, name, value)
    return True


def list_awards(
    session: Session,
    *,
    policy_id: str | None = None,
    enterprise_id: str | None = None,
    district: str | None = None,
    area: Area | None = None,
    payer_jurisdiction: str | None = None,
    fiscal_year: int | None = None,
    status: str | Sequence[str] | None = None,
    amount_min: Decimal | None = None,
    amount_max: Decimal | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    newest_first: bool = False,
) -> Page[Award]:
    """Awards matching every given filter, one page at a time.

    ``amount_min``/``amount_max`` are inclusive; ``created_from`` is inclusive and
    ``created_to`` exclusive, so consecutive periods never count a row twice.
    ``district`` is the enterprise's current district (enterprises.district); ``area``
    confines the awards to those of enterprises in a portal's area.
    """
    stmt = select(Award)
    if district is not None or area is not None:
        stmt = stmt.join(Enterprise, Enterprise.id == Award.enterprise_id)
    if district is not None:
        stmt = stmt.where(Enterprise.district == district)
    if area is not None:
        stmt = stmt.where(enterprise_in(area))
    if policy_id is not None:
        stmt = stmt.where(Award.policy_id == policy_id)
    if enterprise_id is not None:
        stmt = stmt.where(Award.enterprise_id == enterprise_id)
    if payer_jurisdiction is not None:
        stmt = stmt.where(Award.payer_jurisdiction == payer_jurisdiction)
    if fiscal_year is not None:
        stmt = stmt.where(Award.fiscal_year == fiscal_year)
    if isinstance(status, str):
        stmt = stmt.where(Award.status == status)
    elif status is not None:
        stmt = stmt.where(Award.status.in_(list(status)))
    if amount_min is not None:
        stmt = stmt.where(Award.amount >= amount_min)
    if amount_max is not None:
        stmt = stmt.where(Award.amount <= amount_max)
    if created_from is not None:
        stmt = stmt.where(Award.created_at >= created_from)
    if created_to is not None:
        stmt = stmt.where(Award.created_at < created_to)
    return paginate(
        session,
        stmt,
        Award.created_at,
        Award.id,
        cursor=cursor,
        limit=limit,
        newest_first=newest_first,
    )


def live_awards_for(
    session: Session,
    enterprise_id: str,
    policy_id: str | None = None,
    before_or_in_year: int | None = None,
) -> Sequence[Award]:
    """The enterprise's awards that still count (not rejected, revoked or superseded),
    for caps across years, "once per recognition" and exclusivity groups; oldest first.
    """
    stmt = select(Award).where(
        Award.enterprise_id == enterprise_id, Award.status.not_in(DEAD_AWARD_STATUSES)
    )
    if policy_id is not None:
        stmt = stmt.where(Award.policy_id == policy_id)
    if before_or_in_year is not None:
        stmt = stmt.where(Award.fiscal_year <= before_or_in_year)
    stmt = stmt.order_by(Award.fiscal_year, Award.created_at, Award.id)
    return session.scalars(stmt).all()


def add_award_event(session: Session, event: AwardEvent) -> AwardEvent:
    return add_and_flush(session, event)


def list_award_events(session: Session, award_id: str) -> Sequence[AwardEvent]:
    """The award's history, oldest first."""
    stmt = (
        select(AwardEvent)
        .where(AwardEvent.award_id == award_id)
        .order_by(AwardEvent.at, AwardEvent.id)
    )
    return session.scalars(stmt).all()
