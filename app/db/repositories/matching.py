"""Matching runs over the whole population: the runs, their stored results, and
reading every enterprise's current profile (and live awards) a batch at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.catalog.places import Area
from app.db.models import (
    DEAD_AWARD_STATUSES,
    Award,
    Enterprise,
    MatchingResult,
    MatchingRun,
    ProfileVersion,
)
from app.db.repositories._base import add_and_flush
from app.db.repositories.areas import enterprise_in


def add_matching_run(session: Session, run: MatchingRun) -> MatchingRun:
    return add_and_flush(session, run)


def get_matching_run(session: Session, run_id: str) -> MatchingRun | None:
    return session.get(MatchingRun, run_id)


def lock_matching_run(session: Session, run_id: str) -> MatchingRun | None:
    return session.get(MatchingRun, run_id, with_for_update=True, populate_existing=True)


def add_matching_results(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert of result rows as mappings (run_id, enterprise_id, policy_id, status,
    amount, missing_facts): ``COPY`` on PostgreSQL, batched multi-row INSERTs elsewhere.
    A run stores hundreds of thousands of rows; row-by-row round trips would dominate."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(MatchingResult.__table__), list(rows))  # type: ignore[arg-type]
        return
    from psycopg.types.json import Jsonb

    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = ("run_id", "enterprise_id", "policy_id", "status", "amount", "missing_facts")
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY matching_results ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            facts = row["missing_facts"]
            copy.write_row(
                [
                    row["run_id"],
                    row["enterprise_id"],
                    row["policy_id"],
                    row["status"],
                    row["amount"],
                    None if facts is None else Jsonb(facts),
                ]
            )


def add_matching_result_lines(
    session: Session,
    run_id: str,
    lines: Sequence[tuple[str, str, str, str | None, str | None]],
) -> None:
    """Bulk insert of a run's results given as ``(enterprise_id, policy_id, status,
    amount text, missing_facts JSON text)``: one ``COPY`` buffer on PostgreSQL."""
    if not lines:
        return
    if session.get_bind().dialect.name != "postgresql":
        add_matching_results(
            session,
            [
                {"run_id": run_id, "enterprise_id": e, "policy_id": p, "status": s,
                 "amount": None if a is None else Decimal(a),
                 "missing_facts": None if m is None else json.loads(m)}
                for e, p, s, a, m in lines
            ],
        )  # fmt: skip
        return
    # COPY's text format: tab-separated, \\N for null, backslashes doubled.
    null = "\\N"
    buffer = "".join(
        "\t".join((run_id, e, p, s, null if a is None else a, null if m is None else _escaped(m)))
        + "\n"
        for e, p, s, a, m in lines
    )
    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = "run_id, enterprise_id, policy_id, status, amount, missing_facts"
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY matching_results ({columns}) FROM STDIN") as copy,
    ):
        copy.write(buffer.encode())


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def list_matching_results(
    session: Session,
    run_id: str,
    *,
    policy_id: str | None = None,
    status: str | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> Sequence[MatchingResult]:
    stmt = select(MatchingResult).where(
        MatchingResult.run_id == run_id, MatchingResult.id > after_id
    )
    if policy_id is not None:
        stmt = stmt.where(MatchingResult.policy_id == policy_id)
    if status is not None:
        stmt = stmt.where(MatchingResult.status == status)
    return session.scalars(stmt.order_by(MatchingResult.id).limit(limit)).all()


@dataclass(frozen=True)
class PopulationRow:
    """An enterprise's place and current profile, detached from any session."""

    id: str
    province: str | None
    city: str | None
    district: str | None
    park: str | None
    profile: dict[str, Any]


def iterate_population(
    session: Session,
    *,
    area: Area | None = None,
    batch: int = 2000,
) -> Iterator[list[PopulationRow]]:
    """Every enterprise (optionally within an area) with its current profile, a batch at a time.

    Plain rows, not ORM objects: the caller may end its transaction between batches.
    """
    after = ""
    while True:
        stmt = (
            select(
                Enterprise.id,
                Enterprise.province,
                Enterprise.city,
                Enterprise.district,
                Enterprise.park,
                ProfileVersion.profile,
            )
            .join(
                ProfileVersion,
                (ProfileVersion.enterprise_id == Enterprise.id)
                & (ProfileVersion.version == Enterprise.current_version),
            )
            .where(Enterprise.id > after)
        )
        if area is not None:
            stmt = stmt.where(enterprise_in(area))
        rows = [
            PopulationRow(*r)
            for r in session.execute(stmt.order_by(Enterprise.id).limit(batch)).all()
        ]
        if not rows:
            return
        yield rows
        after = rows[-1].id


def live_awards_of(session: Session, enterprise_ids: Sequence[str]) -> dict[str, list[Award]]:
    """Live awards of many enterprises at once, by enterprise."""
    found: dict[str, list[Award]] = {}
    if not enterprise_ids:
        return found
    stmt = select(Award).where(
        Award.enterprise_id.in_(list(enterprise_ids)), Award.status.not_in(DEAD_AWARD_STATUSES)
    )
    for award in session.scalars(stmt):
        found.setdefault(award.enterprise_id, []).append(award)
    return found
