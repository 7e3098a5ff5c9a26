"""The population path: the catalog evaluated over a columnar table of profiles.

Build a table for the columns the catalog reads, evaluate, read arrays::

    specs = required_columns(policies, 2024)
    table = table_from_profiles(profiles, specs)
    result = evaluate_population(policies, table, 2024)
    result.status("nj-green-manufacturing")     # int8 per row: 0/1/2
    result.amount_fen("nj-green-manufacturing")  # int64 fen per row, -1 for none
    result.missing_facts("cn-tech-sme", 17)      # as Evaluation.missing_facts
    result.explain(17)                           # full Evaluations with reasons

Answers are identical to ``app.domain.engine.evaluate_catalog`` row by row.

Memory: a table is evaluated ``CHUNK_ROWS`` rows at a time (``chunk_rows=``), so the
working arrays are those of a slice; the result keeps a byte per row and policy for
the status and another for the basis, amounts only for rows that have one, and
missing facts as a bitmask only for undetermined rows. A million profiles of the
catalog evaluate in about 100 MiB above the table, the result's 66 MiB included.

A population too large to hold (a million enterprises read from the database) is
evaluated a chunk at a time: build each chunk's table, take its answers, write them,
drop both. Rows are numbered within their chunk::

    def chunks():                       # a generator: one chunk in memory at a time
        for batch in read_in_batches(100_000):
            yield Chunk(table_for(batch), histories=..., findings=...)

    for result in evaluate_chunks(policies, chunks(), 2024):
        store(result)                   # result.status(pid), result.amount_fen(pid), ...

Column-wise, a policy's missing facts are ``result.columns[pid].missing_masks()``:
the rows that name some, and a bitmask per row over ``result.columns[pid].index.paths``
(``index.names(mask)`` gives the names back).

``ProfileTable.rows_between(start, stop)`` gives a slice of a table as views.
"""

from __future__ import annotations

from app.native.loader import install

install(__name__, __path__)  # (before this package imports its own modules)

import importlib
from typing import TYPE_CHECKING, Any

from app.domain.batch.build import table_from_profiles
from app.domain.batch.columns import (
    FALSE_CODE,
    MISSING_CODE,
    NO_DATE,
    TRUE_CODE,
    CatColumn,
    DateColumn,
    NumColumn,
    ProfileTable,
    RecognitionColumn,
    Spec,
    day_number,
)

if TYPE_CHECKING:
    from app.domain.batch.engine import (
        CHUNK_ROWS,
        compile_policy,
        evaluate_population,
        required_columns,
    )
    from app.domain.batch.result import BASES, STATUSES, PolicyColumns, PopulationResult, Totals
    from app.domain.batch.stream import Chunk, evaluate_chunks

#: Names taken from the engine's modules when first asked for: the compiled clauses
#: of ``app.domain`` are their own column nodes, so they import this package's node
#: modules while the per-profile engine (which the population engine imports) loads.
_LATER = {
    **dict.fromkeys(
        ("CHUNK_ROWS", "compile_policy", "evaluate_population", "required_columns"), "engine"
    ),
    **dict.fromkeys(("BASES", "STATUSES", "PolicyColumns", "PopulationResult", "Totals"), "result"),
    **dict.fromkeys(("Chunk", "evaluate_chunks"), "stream"),
}


def __getattr__(name: str) -> Any:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BASES",
    "CHUNK_ROWS",
    "FALSE_CODE",
    "MISSING_CODE",
    "NO_DATE",
    "STATUSES",
    "TRUE_CODE",
    "CatColumn",
    "Chunk",
    "DateColumn",
    "NumColumn",
    "PolicyColumns",
    "PopulationResult",
    "ProfileTable",
    "RecognitionColumn",
    "Spec",
    "Totals",
    "compile_policy",
    "day_number",
    "evaluate_chunks",
    "evaluate_population",
    "required_columns",
    "table_from_profiles",
]
