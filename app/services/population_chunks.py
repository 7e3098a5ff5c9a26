"""A matching run's population, a chunk at a time, from the fact projection.

Each chunk of enterprises is read as columns (``app.db.repositories.projected``) and
evaluated by the batch engine; the enterprises with an award history or reviewers'
findings get the per-profile engine inside it (their profiles rebuilt from the
projection), and those the projection cannot hold exactly are read from their profile
documents and evaluated as before. The answers are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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


class Part:
    """Enterprises read one way: their rows (id, history, findings) and places.

    A projected part makes its per-enterprise objects only when asked (a simulation
    compares answers row by row; a matching run reads the arrays)."""

    def __init__(
        self,
        rows: list[Row] | None = None,
        places: list[PopulationRow] | None = None,
        chunk: Chunk | None = None,
        histories: dict[int, list[PriorAward]] | None = None,
        findings: dict[int, Findings] | None = None,
    ) -> None:
        self.chunk = chunk
        self.histories = histories or {}
        self.findings = findings or {}
        self._rows, self._places = rows, places
        self.n = len(rows) if rows is not None else (chunk.n if chunk is not None else 0)

    @property
    def rows(self) -> list[Row]:
        if self._rows is None:
            assert self.chunk is not None
            self._rows = [
                Row(eid, {}, self.histories.get(i, ()), findings=self.findings.get(i, NO_FINDINGS))
                for i, eid in enumerate(self.chunk.ids)
            ]
        return self._rows

    @property
    def places(self) -> list[PopulationRow]:
        if self._places is None:
            assert self.chunk is not None
            at = self.chunk.places
            self._places = [
                PopulationRow(
                    eid, at["province"][i], at["city"][i], at["district"][i], at["park"][i], {}
                )
                for i, eid in enumerate(self.chunk.ids)
            ]
        return self._places


def iterate_parts(
    session: Session,
    fiscal_year: int,
    area: Area | None,
    batch: int = CHUNK,
    *,
    after: str = "",
    until: str | None = None,
) -> Iterator[list[Part]]:
    """Per chunk: the projected part and the part read from documents (of the
    enterprises with ids after ``after`` up to ``until``, a run's shard)."""
    for chunk in iterate_projection(session, area=area, batch=batch, after=after, until=until):
        special = with_history(session, chunk.after, chunk.last, fiscal_year)
        documents = list(chunk.documents)
        histories: dict[int, list[PriorAward]] = {}
        found: dict[int, Findings] = {}
        projected = [eid for eid in chunk.ids if eid in special]
        if projected:
            row_of = {eid: i for i, eid in enumerate(chunk.ids)}
            awards = repo.live_awards_of(session, projected)
            histories = {row_of[e]: prior_awards(a) for e, a in awards.items() if a}
            found = {
                row_of[e]: f for e, f in findings_of(session, projected, fiscal_year).items() if f
            }
        parts = [Part(chunk=chunk, histories=histories, findings=found)]
        if documents:
            read = population_rows(session, documents)
            parts.append(Part(_document_rows(session, read, fiscal_year), read))
        session.rollback()  # end the read transaction: writers (and SQLite) are not held up
        yield parts


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
    if part.chunk is None or not part.n:
        return None
    try:
        table = table_from_chunk(part.chunk, required_columns(policies, fiscal_year))
    except NotProjected:
        return None
    return evaluate_population(
        policies,
        table,
        fiscal_year,
        histories=part.histories or None,
        findings=part.findings or None,
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
