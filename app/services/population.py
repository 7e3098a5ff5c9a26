"""Evaluating the catalog over many enterprises at once.

One entry point, ``evaluate_rows``, for matching runs and simulations. It uses the
vectorised batch engine where it is available and gives exactly the per-profile
engine's answers (a test holds the two to that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.catalog.schema import PolicyFile
from app.domain.batch import (
    BASES,
    STATUSES,
    PopulationResult,
    evaluate_population,
    required_columns,
    table_from_profiles,
)
from app.domain.engine import evaluate_catalog
from app.domain.findings import Findings
from app.domain.results import PriorAward


@dataclass(frozen=True)
class Answer:
    policy_id: str
    status: str
    amount: Decimal | None
    amount_basis: str
    missing_facts: tuple[str, ...]
    findings_required: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    enterprise_id: str
    profile: Mapping[str, Any]
    history: Sequence[PriorAward] = ()
    payer_places: Mapping[str, str | None] | None = None
    #: The reviewers' findings on the enterprise for the fiscal year evaluated.
    findings: Findings = field(default_factory=dict)


def evaluate_rows(
    policies: Sequence[PolicyFile], rows: Sequence[Row], fiscal_year: int
) -> list[list[Answer]]:
    """Per row, every policy's answer (same order as ``policies``), from the batch engine.

    The result is read a whole column at a time (``tolist`` of numpy arrays); only
    amounts and missing facts are looked up row by row, and only where there are some.
    """
    if not rows:
        return []
    table = table_from_profiles(
        [row.profile for row in rows], required_columns(policies, fiscal_year)
    )
    histories = {i: list(row.history) for i, row in enumerate(rows) if row.history}
    findings = {i: row.findings for i, row in enumerate(rows) if row.findings}
    result = evaluate_population(
        policies, table, fiscal_year, histories=histories or None, findings=findings or None
    )
    return answers_of(policies, result)


def answers_of(policies: Sequence[PolicyFile], result: PopulationResult) -> list[list[Answer]]:
    """Per row of the result, every policy's answer (same order as ``policies``)."""
    out: list[list[Answer]] = [[] for _ in range(result.table.n)]
    for policy in policies:
        pid = policy.id
        statuses = result.status(pid).tolist()
        bases = result.columns[pid].basis.tolist()
        fens = result.amount_fen(pid).tolist()
        for i, (code, basis_code, fen) in enumerate(zip(statuses, bases, fens, strict=True)):
            status, basis = STATUSES[code], BASES[basis_code]
            if fen == -1:
                amount = None
            elif fen >= 0:
                amount = Decimal(fen).scaleb(-2)
            else:  # beyond int64: the exact value is kept aside
                amount = result.amount(pid, i)
            missing, required = (
                (result.missing_facts(pid, i), result.findings_required(pid, i))
                if status == "undetermined"
                else ((), ())
            )
            out[i].append(Answer(pid, status, amount, basis, missing, required))
    return out


def evaluate_rows_one_by_one(
    policies: Sequence[PolicyFile], rows: Sequence[Row], fiscal_year: int
) -> list[list[Answer]]:
    """The same answers from the per-profile engine (the reference the batch engine is held to)."""
    out = []
    for row in rows:
        evaluations = evaluate_catalog(
            policies, row.profile, fiscal_year, row.history, row.findings
        )
        out.append(
            [
                Answer(
                    e.policy_id,
                    e.status,
                    e.amount,
                    e.amount_basis,
                    e.missing_facts,
                    e.findings_required,
                )
                for e in evaluations
            ]
        )
    return out
