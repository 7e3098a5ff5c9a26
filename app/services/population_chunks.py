"""A matching run's population, a chunk at a time, from the fact projection.

Each chunk of enterprises is read as columns (``app.db.repositories.projected``) and
evaluated by the batch engine; the enterprises with an award history or reviewers'
findings get the per-profile engine inside it (their profiles rebuilt from the
projection), and those the projection cannot hold exactly are read from their profile
documents and evaluated as before. The answers are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.catalog.places import Area
from app.catalog.schema import PolicyFile
from app.db import repositories as repo
from app.db.repositories.matching import PopulationRow
from app.db.repositories.projected import (
    Chunk,
    iterate_projection,
    population_rows,
    with_history,
)
from app.domain.batch import PopulationResult, evaluate_population, required_columns
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.results import PriorAward
from app.services.awards import prior_awards
from app.services.findings import findings_of
from app.services.population import Answer, Row, answers_of, evaluate_rows
from app.services.projected_table import NotProjected, ProjectedProfiles, table_from_chunk

#: Enterprises per chunk: large enough that the columns pay, small enough for memory.
CHUNK = 25_000


@dataclass
class Part:
    """Enterprises read one way: their rows (id, history, findings) and places."""

    rows: list[Row]
    places: list[PopulationRow]
    chunk: Chunk | None = None


def iterate_parts(
    session: Session, fiscal_year: int, area: Area | None, batch: int = CHUNK
) -> Iterator[list[Part]]:
    """Per chunk: the projected part and the part read from documents."""
    after = ""
    for chunk in iterate_projection(session, area=area, batch=batch):
        last = max([*chunk.ids[-1:], *chunk.documents[-1:]])
        special = with_history(session, after, last, fiscal_year)
        documents = list(chunk.documents)
        histories: dict[str, list[PriorAward]] = {}
        found: dict[str, Findings] = {}
        projected = [eid for eid in chunk.ids if eid in special]
        if projected:
            awards = repo.live_awards_of(session, projected)
            histories = {e: prior_awards(a) for e, a in awards.items()}
            found = findings_of(session, projected, fiscal_year)
        rows = [
            Row(eid, {}, histories.get(eid, ()), findings=found.get(eid, NO_FINDINGS))
            for eid in chunk.ids
        ]
        at = chunk.places
        places = [
            PopulationRow(
                eid, at["province"][i], at["city"][i], at["district"][i], at["park"][i], {}
            )
            for i, eid in enumerate(chunk.ids)
        ]
        parts = [Part(rows, places, chunk)]
        if documents:
            read = population_rows(session, documents)
            parts.append(Part(_document_rows(session, read, fiscal_year), read))
        session.rollback()  # end the read transaction: writers (and SQLite) are not held up
        yield parts
        after = last


def _document_rows(session: Session, read: list[PopulationRow], fiscal_year: int) -> list[Row]:
    ids = [e.id for e in read]
    awards = repo.live_awards_of(session, ids)
    found = findings_of(session, ids, fiscal_year)
    return [
        Row(
            e.id,
            e.profile,
            prior_awards(awards.get(e.id, [])),
            findings=found.get(e.id, NO_FINDINGS),
        )
        for e in read
    ]


def evaluate_projected(
    policies: Sequence[PolicyFile], part: Part, fiscal_year: int
) -> PopulationResult | None:
    """The batch engine's result over the part's columns (``None``: not a projected part,
    or the catalog reads a fact in a way the projection does not hold)."""
    if part.chunk is None or not part.rows:
        return None
    try:
        table = table_from_chunk(part.chunk, required_columns(policies, fiscal_year))
    except NotProjected:
        return None
    histories = {i: list(r.history) for i, r in enumerate(part.rows) if r.history}
    findings = {i: r.findings for i, r in enumerate(part.rows) if r.findings}
    return evaluate_population(
        policies, table, fiscal_year, histories=histories or None, findings=findings or None
    )


def evaluate_part(
    policies: Sequence[PolicyFile], part: Part, fiscal_year: int
) -> list[list[Answer]]:
    """Every row's answers, the batch engine reading the part's columns."""
    result = evaluate_projected(policies, part, fiscal_year)
    if result is not None:
        return answers_of(policies, result)
    if part.chunk is None:
        return evaluate_rows(policies, part.rows, fiscal_year)
    # A catalog reading a fact another way: the rows' profiles rebuilt from the projection.
    profiles = ProjectedProfiles(part.chunk)
    rows = [
        Row(r.enterprise_id, profiles[i], r.history, findings=r.findings)
        for i, r in enumerate(part.rows)
    ]
    return evaluate_rows(policies, rows, fiscal_year)
