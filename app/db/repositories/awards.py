"""Awards (the ledger) and the events of their workflow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from app.catalog.places import Area
from app.db.models import DEAD_AWARD_STATUSES, Award, AwardEvent, Budget, Enterprise
from app.db.repositories._base import add_and_flush, lock_by_id
from app.db.repositories.areas import enterprise_in
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
# are not held up.
_LOCK_FOR_TRANSITION = (
    select(Award, Enterprise, Budget.id)
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


def lock_award_for_transition(
    session: Session, award_id: str
) -> tuple[Award, Enterprise, str | None] | None:
    """Lock the award row and read, in the same round trip, its enterprise (for the
    access check) and the id of the budget that pays it, if one exists yet."""
    row = session.execute(_LOCK_FOR_TRANSITION, {"award_id": award_id}).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


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
