"""Reading the fact projection in bulk: a chunk of enterprises as column lists.

A chunk holds, column by column, what ``app.db.projection`` stored for each enterprise
of an id range (no per-enterprise dict is built), and the enterprises of that range
that must be read from their profile documents instead: those whose projection is
inexact or absent. ``app.services.projected_table`` turns a chunk into the batch
engine's ``ProfileTable``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Date, String, Table, func, select
from sqlalchemy.orm import Session

from app.catalog.places import Area
from app.db.models import (
    DEAD_AWARD_STATUSES,
    Award,
    Enterprise,
    EnterpriseFacts,
    EnterpriseFactYears,
    EnterpriseFactYearScores,
    EnterpriseFinding,
    EnterpriseRecognitions,
    ProfileVersion,
)
from app.db.repositories.areas import enterprise_in
from app.db.repositories.matching import PopulationRow
from app.db.repositories.projected_copy import IntColumn, read_columns

PLACES = ("province", "city", "district", "park")


@dataclass
class Chunk:
    """Enterprises ``ids`` (exact projection), with each table's rows as columns.

    ``years``, ``scores`` and ``recognitions`` carry ``row``: the position in ``ids``.
    ``documents`` are the ids of the range to read from their profile documents.
    """

    ids: list[str]
    places: dict[str, list[str | None]]
    facts: dict[str, Sequence[Any]]
    years: dict[str, Sequence[Any]]
    scores: dict[str, Sequence[Any]]
    recognitions: dict[str, Sequence[Any]]
    documents: list[str] = field(default_factory=list)
    #: The id range ``(after, last]`` the chunk covers.
    after: str = ""
    last: str = ""

    @property
    def n(self) -> int:
        return len(self.ids)


def _columns(table: Table, skip: tuple[str, ...] = ("enterprise_id",)) -> list[str]:
    return [c.name for c in table.columns if c.name not in skip]


def _as_columns(names: list[str], rows: Sequence[Any]) -> dict[str, Sequence[Any]]:
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


def iterate_projection(
    session: Session,
    *,
    area: Area | None = None,
    batch: int = 100_000,
    after: str = "",
    until: str | None = None,
) -> Iterator[Chunk]:
    """Every enterprise (optionally within an area, and with an id after ``after`` up
    to ``until``), ``batch`` at a time in id order."""
    facts = EnterpriseFacts
    postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        stmt = (
            select(Enterprise.id.label("id"), facts.c.exact.label("exact"))
            .outerjoin(facts, facts.c.enterprise_id == Enterprise.id)
            .where(Enterprise.id > after)
        )
        if area is not None:
            stmt = stmt.where(enterprise_in(area))
        if until is not None:
            stmt = stmt.where(Enterprise.id <= until)
        stmt = stmt.order_by(Enterprise.id).limit(batch)
        if postgres:  # the range's end and the enterprises without an exact projection
            inner = stmt.subquery()
            found, odd = session.execute(
                select(
                    func.max(inner.c.id),
                    func.array_agg(inner.c.id).filter(inner.c.exact.is_not(True)),
                )
            ).one()
            if found is None:
                return
            last, documents = found, sorted(odd or [])
        else:
            marks = session.execute(stmt).all()
            if not marks:
                return
            last = marks[-1][0]
            documents = [eid for eid, exact in marks if not exact]
        chunk = None
        if postgres:
            chunk = _copied(session, area, after, last)
        if chunk is None:
            chunk = _selected(session, area, after, last)
        chunk.documents, chunk.after, chunk.last = documents, after, last
        yield chunk
        after = last


def _selected(session: Session, area: Area | None, after: str, last: str) -> Chunk:
    """The chunk through ordinary SELECTs (SQLite, and PostgreSQL's fallback)."""
    facts = EnterpriseFacts
    fact_names = _columns(facts, ("enterprise_id", "exact"))
    stmt = (
        select(Enterprise.id, *(getattr(Enterprise, p) for p in PLACES), *facts.c[*fact_names])
        .join(facts, facts.c.enterprise_id == Enterprise.id)
        .where(
            Enterprise.id > after,
            Enterprise.id <= last,
            facts.c.enterprise_id > after,
            facts.c.enterprise_id <= last,
            facts.c.exact,
        )
    )
    if area is not None:
        stmt = stmt.where(enterprise_in(area))
    got = _as_columns(
        ["id", *PLACES, *fact_names], session.execute(stmt.order_by(Enterprise.id)).all()
    )
    ids: list[str] = list(got.pop("id"))
    row_of = {eid: i for i, eid in enumerate(ids)}
    return Chunk(
        ids,
        {p: list(got.pop(p)) for p in PLACES},
        got,
        _owned(session, EnterpriseFactYears, after, last, row_of),
        _owned(session, EnterpriseFactYearScores, after, last, row_of),
        _owned(session, EnterpriseRecognitions, after, last, row_of),
    )


def _kinds(table: Table) -> tuple[list[tuple[str, Any, str]], list[tuple[str, Any]]]:
    """A table's columns split into int8-readable ones (with their kind) and words."""
    ints: list[tuple[str, Any, str]] = []
    words: list[tuple[str, Any]] = []
    for column in table.columns:
        if column.name == "enterprise_id":
            continue
        if isinstance(column.type, String):
            words.append((column.name, column))
        elif isinstance(column.type, Boolean):
            ints.append((column.name, column, "boolean"))
        elif isinstance(column.type, Date):
            ints.append((column.name, column, "date"))
        else:
            ints.append((column.name, column, "number"))
    return ints, words


def _copied(session: Session, area: Area | None, after: str, last: str) -> Chunk | None:
    """The chunk through ``COPY … TO STDOUT`` (PostgreSQL); ``None``: read it otherwise."""
    facts = EnterpriseFacts
    ints, words = _kinds(facts)
    ints = [c for c in ints if c[0] != "exact"]
    # Each table read by its own range, never joined: a join of two ranges of ids
    # rests on the planner's estimate of how many ids the range holds, and where that
    # estimate is wrong (ids made in one burst of an import are packed tight in the
    # histogram's text order) it chose a nested loop that read the whole range of the
    # inner table once per enterprise: seconds a chunk where a read takes milliseconds.
    got = read_columns(
        session,
        facts.c.enterprise_id,
        facts,
        ints,
        words,
        [facts.c.enterprise_id > after, facts.c.enterprise_id <= last, facts.c.exact],
        [facts.c.enterprise_id],
    )
    where = [Enterprise.id > after, Enterprise.id <= last]
    if area is not None:
        where.append(enterprise_in(area))
    placed = read_columns(
        session,
        Enterprise.id,
        Enterprise.__table__,
        [],
        [(p, getattr(Enterprise, p)) for p in PLACES],
        where,
        [Enterprise.id],
    )
    if got is None or placed is None:
        return None
    ids, columns = got
    place_ids, place_columns = placed
    place_of = {eid: i for i, eid in enumerate(place_ids)}
    keep = [i for i, eid in enumerate(ids) if eid in place_of]
    if len(keep) != len(ids):  # (an area leaves some out; every fact row has its enterprise)
        ids = [ids[i] for i in keep]
        columns = {
            k: v.take(keep) if isinstance(v, IntColumn) else [v[i] for i in keep]
            for k, v in columns.items()
        }
    rows = [place_of[eid] for eid in ids]
    for p in PLACES:
        column = place_columns[p]
        columns[p] = [column[i] for i in rows]
    row_of = {eid: i for i, eid in enumerate(ids)}
    owned = []
    for table, order in (
        (EnterpriseFactYears, ("year",)),
        (EnterpriseFactYearScores, ("year", "name", "key")),
        (EnterpriseRecognitions, ("position",)),
    ):
        t_ints, t_words = _kinds(table)
        where = [table.c.enterprise_id > after, table.c.enterprise_id <= last]
        if not t_words:  # every read pairs a binary and a text COPY: give it the key
            t_words = [("_key", table.c[order[0]])]
        found = read_columns(
            session,
            table.c.enterprise_id,
            table,
            t_ints,
            t_words,
            where,
            [table.c.enterprise_id, *(table.c[o] for o in order)],
        )
        if found is None:
            return None
        owners, values = found
        values.pop("_key", None)
        keep = [i for i, eid in enumerate(owners) if eid in row_of]
        if len(keep) != len(owners):
            values = {
                k: v.take(keep) if isinstance(v, IntColumn) else [v[i] for i in keep]
                for k, v in values.items()
            }
        values["row"] = [row_of[owners[i]] for i in keep]
        owned.append(values)
    years, scores, recognitions = owned
    places = {p: list(columns.pop(p)) for p in PLACES}
    return Chunk(ids, places, columns, years, scores, recognitions)


def _owned(
    session: Session, table: Table, after: str, last: str, row_of: dict[str, int]
) -> dict[str, Sequence[Any]]:
    """The table's rows for the chunk's enterprises, with ``row`` for the owner."""
    names = _columns(table)
    stmt = select(table.c.enterprise_id, *table.c[*names]).where(
        table.c.enterprise_id > after, table.c.enterprise_id <= last
    )
    kept = [(row_of[r[0]], *r[1:]) for r in session.execute(stmt) if r[0] in row_of]
    return _as_columns(["row", *names], kept)


def with_history(session: Session, after: str, last: str, fiscal_year: int) -> set[str]:
    """Enterprises of the id range ``(after, last]`` with a live award or a finding for
    the fiscal year: the per-profile engine settles them."""
    live = select(Award.enterprise_id).where(
        Award.enterprise_id > after,
        Award.enterprise_id <= last,
        Award.status.not_in(DEAD_AWARD_STATUSES),
    )
    found = select(EnterpriseFinding.enterprise_id).where(
        EnterpriseFinding.enterprise_id > after,
        EnterpriseFinding.enterprise_id <= last,
        EnterpriseFinding.fiscal_year == fiscal_year,
    )
    return set(session.scalars(live.distinct())) | set(session.scalars(found.distinct()))


def population_rows(session: Session, ids: Sequence[str]) -> list[PopulationRow]:
    """These enterprises with their current profile documents, in id order."""
    out: list[PopulationRow] = []
    for start in range(0, len(ids), 2000):
        stmt = (
            select(Enterprise.id, *(getattr(Enterprise, p) for p in PLACES), ProfileVersion.profile)
            .join(
                ProfileVersion,
                (ProfileVersion.enterprise_id == Enterprise.id)
                & (ProfileVersion.version == Enterprise.current_version),
            )
            .where(Enterprise.id.in_(list(ids[start : start + 2000])))
        )
        out.extend(PopulationRow(*r) for r in session.execute(stmt.order_by(Enterprise.id)))
    return out
