"""A population too large to hold at once, evaluated a chunk at a time.

A caller reads a chunk of enterprises (from the database, a file), builds its
``ProfileTable``, takes the chunk's answers and writes them, then drops both: memory
is bounded by a chunk, whatever the population's size. Rows are numbered within
their chunk (row 0 is a chunk's first row), for histories and findings as for the
answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from app.catalog.schema import PolicyFile
from app.domain.batch.columns import ProfileTable
from app.domain.batch.engine import CHUNK_ROWS, compile_policy, evaluate_population
from app.domain.batch.result import PopulationResult
from app.domain.findings import Findings
from app.domain.results import PriorAward


@dataclass(frozen=True, eq=False)
class Chunk:
    """Some rows of a population, with the award histories and findings of those rows
    that have some (keyed by row within the chunk)."""

    table: ProfileTable
    histories: Mapping[int, Sequence[PriorAward]] | None = None
    findings: Mapping[int, Findings] | None = None


def evaluate_chunks(
    policies: Iterable[PolicyFile],
    chunks: Iterable[ProfileTable | Chunk],
    fiscal_year: int,
    workers: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[PopulationResult]:
    """Each chunk's answers, in order, as ``evaluate_population`` gives them.

    Chunks are read from ``chunks`` one at a time, when the previous result is taken:
    a generator that reads the next chunk only then keeps one chunk in memory. The
    catalog is compiled once for all chunks.
    """
    policies = list(policies)
    for policy in policies:
        compile_policy(policy, fiscal_year)
    for item in chunks:
        chunk = item if isinstance(item, Chunk) else Chunk(item)
        yield evaluate_population(
            policies,
            chunk.table,
            fiscal_year,
            chunk.histories,
            workers,
            chunk.findings,
            chunk_rows,
        )
