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
"""

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
from app.domain.batch.engine import compile_policy, evaluate_population, required_columns
from app.domain.batch.result import BASES, STATUSES, PolicyColumns, PopulationResult, Totals

__all__ = [
    "BASES",
    "FALSE_CODE",
    "MISSING_CODE",
    "NO_DATE",
    "STATUSES",
    "TRUE_CODE",
    "CatColumn",
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
    "evaluate_population",
    "required_columns",
    "table_from_profiles",
]
