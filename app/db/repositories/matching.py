"""Matching runs over the whole population: the runs, their stored results, and
reading every enterprise's current profile (and live awards) a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import ScalarSelect, func, insert, select
from sqlalchemy import Sequence as SqlSequence
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.catalog.places import Area
from app.db.missing_codes import resolved
from app.db.models import (
    DEAD_AWARD_STATUSES,
    Award,
    Enterprise,
    MatchingResult,
    MatchingRun,
    MatchingRunPaths,
    ProfileVersion,
)
from app.db.repositories._base import add_and_flush
from app.db.repositories.areas import enterprise_in
from app.db.repositories.result_rows import COPY_COLUMNS, ResultRows, copy_text, mappings


class RunKeys(Protocol):
    """What storing a run's results needs of it: its id and its number."""

    @property
    def id(self) -> str: ...

    @property
    def number(self) -> int: ...


#: PostgreSQL's sequence of run numbers (``MatchingRun.number``), made by 0010.
RUN_NUMBERS = SqlSequence("matching_run_numbers")


def add_matching_run(session: Session, run: MatchingRun) -> MatchingRun:
    """The run added with the next run number: from the sequence on PostgreSQL; on
    SQLite, one past the largest, which the unique index guards (a second writer
    waits for the first's commit, then reads its number)."""
    if session.get_bind().dialect.name == "postgresql":
        run.number = session.execute(select(RUN_NUMBERS.next_value())).scalar_one()
    else:
        largest = session.execute(select(func.max(MatchingRun.number))).scalar_one()
        run.number = (largest or 0) + 1
    return add_and_flush(session, run)


def get_matching_run(session: Session, run_id: str) -> MatchingRun | None:
    return session.get(MatchingRun, run_id)


def lock_matching_run(session: Session, run_id: str) -> MatchingRun | None:
    return session.get(MatchingRun, run_id, with_for_update=True, populate_existing=True)


def add_matching_result_rows(session: Session, run: RunKeys, parts: Sequence[ResultRows]) -> None:
    """Store results given column-wise, the parts in order, with the paths their codes
    stand for (kept once per run and policy): one ``COPY`` buffer on PostgreSQL,
    batched multi-row INSERTs elsewhere. A run stores hundreds of thousands of rows;
    row-by-row round trips would dominate."""
    add_run_paths(session, run.id, parts)
    add_result_rows_only(session, run.number, parts)


def add_result_rows_only(session: Session, run_number: int, parts: Sequence[ResultRows]) -> None:
    """The rows of ``add_matching_result_rows`` without their paths (stored before, by
    ``add_run_paths``)."""
    parts = [part for part in parts if len(part)]
    if not parts:
        return
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: the key (run_number, id) leaves no rowid to count on; one writer at a
        # time, so the run's next ids are one past its largest.
        r = MatchingResult
        largest = session.execute(
            select(func.max(r.id)).where(r.run_number == run_number)
        ).scalar_one()
        after = largest or 0
        for part in parts:
            session.execute(insert(r.__table__), mappings(run_number, part, after))  # type: ignore[arg-type]
            after += len(part)
        return
    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = ", ".join(COPY_COLUMNS)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY matching_results ({columns}) FROM STDIN") as copy,
    ):
        for part in parts:
            copy.write(copy_text(run_number, part).encode())


def add_run_paths(session: Session, run_id: str, parts: Sequence[ResultRows]) -> None:
    """The paths of each policy's codes in ``parts`` for the run, unless already stored
    (each chunk of a run, or a shard of it, may be the first to store results)."""
    paths = {k: v for part in parts for k, v in part.paths.items()}
    if not paths:
        return
    rows = [{"run_id": run_id, "policy_id": pid, "paths": list(p)} for pid, p in paths.items()]
    dialect = session.get_bind().dialect.name
    upsert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(upsert(MatchingRunPaths).values(rows).on_conflict_do_nothing())


def run_paths(
    session: Session, run_id: str, policy_ids: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Per policy, the paths a run's codes stand for (only ``policy_ids``, if given)."""
    stmt = select(MatchingRunPaths.policy_id, MatchingRunPaths.paths).where(
        MatchingRunPaths.run_id == run_id
    )
    if policy_ids is not None:
        stmt = stmt.where(MatchingRunPaths.policy_id.in_(sorted(set(policy_ids))))
    return {pid: paths for pid, paths in session.execute(stmt)}


def run_number_of(run_id: str) -> ScalarSelect[int]:
    """The run's number, as a subquery the planner evaluates once before the scan."""
    return select(MatchingRun.number).where(MatchingRun.id == run_id).scalar_subquery()


@dataclass(frozen=True)
class StoredResult:
    """A stored result as the pages and exports read it: missing facts by name."""

    id: int
    enterprise_id: str
    policy_id: str
    status: str
    amount: Decimal | None
    missing_facts: dict[str, list[str]] | None


def list_matching_results(
    session: Session,
    run_id: str,
    *,
    policy_id: str | None = None,
    status: str | None = None,
    after_id: int = 0,
    limit: int = 200,
) -> list[StoredResult]:
    """A page of a run's results in id order, their codes resolved to names."""
    r = MatchingResult
    stmt = select(
        r.id, r.enterprise_id, r.policy_id, r.status, r.amount, r.missing_code, r.missing_facts
    ).where(r.run_number == run_number_of(run_id), r.id > after_id)
    if policy_id is not None:
        stmt = stmt.where(r.policy_id == policy_id)
    if status is not None:
        stmt = stmt.where(r.status == status)
    rows = session.execute(stmt.order_by(r.id).limit(limit)).all()
    coded = {row.policy_id for row in rows if row.missing_code is not None}
    paths = run_paths(session, run_id, coded) if coded else {}
    return [
        StoredResult(
            row.id,
            row.enterprise_id,
            row.policy_id,
            row.status,
            row.amount,
            resolved(row.missing_code, row.missing_facts, paths.get(row.policy_id)),
        )
        for row in rows
    ]


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
