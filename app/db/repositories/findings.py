"""Reviewers' findings on enterprises: appended, never changed; the latest counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import EnterpriseFinding
from app.db.repositories._base import add_and_flush


def add_finding(session: Session, finding: EnterpriseFinding) -> EnterpriseFinding:
    return add_and_flush(session, finding)


def list_findings(
    session: Session, enterprise_id: str, fiscal_year: int | None = None
) -> list[EnterpriseFinding]:
    """An enterprise's findings (of one fiscal year, or all), newest first."""
    stmt = select(EnterpriseFinding).where(EnterpriseFinding.enterprise_id == enterprise_id)
    if fiscal_year is not None:
        stmt = stmt.where(EnterpriseFinding.fiscal_year == fiscal_year)
    return list(
        session.scalars(
            stmt.order_by(EnterpriseFinding.recorded_at.desc(), EnterpriseFinding.id.desc())
        )
    )


def last_finding_at(session: Session, enterprise_id: str) -> datetime | None:
    """When the enterprise's latest finding (of any year) was recorded."""
    stmt = select(func.max(EnterpriseFinding.recorded_at)).where(
        EnterpriseFinding.enterprise_id == enterprise_id
    )
    found: datetime | None = session.scalar(stmt)
    return found


def findings_of(
    session: Session, enterprise_ids: Sequence[str], fiscal_year: int
) -> dict[str, list[EnterpriseFinding]]:
    """The findings of many enterprises for one fiscal year, by enterprise, newest first."""
    found: dict[str, list[EnterpriseFinding]] = {}
    if not enterprise_ids:
        return found
    stmt = (
        select(EnterpriseFinding)
        .where(
            EnterpriseFinding.enterprise_id.in_(list(enterprise_ids)),
            EnterpriseFinding.fiscal_year == fiscal_year,
        )
        .order_by(EnterpriseFinding.recorded_at.desc(), EnterpriseFinding.id.desc())
    )
    for finding in session.scalars(stmt):
        found.setdefault(finding.enterprise_id, []).append(finding)
    return found
