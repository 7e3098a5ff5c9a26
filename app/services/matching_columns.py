"""A matching run's results straight from the batch engine's arrays.

No answer object per enterprise and policy: the rows to keep (eligible or
undetermined) are picked a policy at a time with numpy, ordered by enterprise as the
per-row path stored them, and written as one ``COPY`` buffer on PostgreSQL. Totals per
policy and payer are summed over the arrays, in integer fen.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from app.catalog.schema import PolicyFile
from app.domain.batch import BASES, PopulationResult
from app.domain.money import ZERO
from app.services.awards import payer_of
from app.services.population import Answer

_ELIGIBLE, _UNDETERMINED = 1, 2
_COMPUTED = BASES.index("computed")
_STATUS = ("ineligible", "eligible", "undetermined")
_PLACES = ("province", "city", "district", "park")


@dataclass
class Tally:
    """Running totals of one policy over the population."""

    eligible: int = 0
    undetermined: int = 0
    amount: Decimal = ZERO
    by_payer: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    def add(self, answer: Answer, payer: str | None) -> None:
        if answer.status == "undetermined":
            self.undetermined += 1
        elif answer.status == "eligible":
            self.eligible += 1
            if answer.amount is not None and answer.amount_basis == "computed":
                self.amount += answer.amount
                self.by_payer[payer or "-"] += answer.amount

    def add_counts(self, eligible: int, undetermined: int) -> None:
        self.eligible += eligible
        self.undetermined += undetermined

    def add_amount(self, payer: str | None, amount: Decimal) -> None:
        self.amount += amount
        self.by_payer[payer or "-"] += amount

    def json(self, budget_per_payer: Decimal | None) -> dict[str, Any]:
        payers = []
        for payer, amount in sorted(self.by_payer.items()):
            gap = None if budget_per_payer is None else max(amount - budget_per_payer, ZERO)
            payers.append(
                {
                    "payer": payer,
                    "amount": f"{amount:.2f}",
                    "budget": None if budget_per_payer is None else f"{budget_per_payer:.2f}",
                    "gap": None if gap is None else f"{gap:.2f}",
                }
            )
        total_gap = sum((Decimal(p["gap"]) for p in payers if p["gap"] is not None), ZERO)
        return {
            "eligible": self.eligible,
            "undetermined": self.undetermined,
            "amount": f"{self.amount:.2f}",
            "budget_per_payer": None if budget_per_payer is None else f"{budget_per_payer:.2f}",
            "budget_gap": f"{total_gap:.2f}",
            "payers": payers,
        }


def tally_columns(
    tallies: Mapping[str, Tally],
    policies: Sequence[PolicyFile],
    result: PopulationResult,
    places: Mapping[str, Sequence[str | None]],
) -> None:
    """Add the result's counts and computed amounts, per policy and payer."""
    for policy in policies:
        pid = policy.id
        status = result.status(pid)
        tally = tallies[pid]
        eligible = status == _ELIGIBLE
        tally.add_counts(int(eligible.sum()), int((status == _UNDETERMINED).sum()))
        fen = result.amount_fen(pid)
        paid = np.flatnonzero(eligible & (result.columns[pid].basis == _COMPUTED) & (fen != -1))
        if not len(paid):
            continue
        big = paid[fen[paid] == -2]  # beyond int64 fen: exact Decimals, one by one
        small = paid[fen[paid] >= 0]
        for payer, rows in _by_payer(policy, small, places).items():
            sums = fen[rows]
            exact = (int((sums >> 32).sum()) << 32) + int((sums & 0xFFFFFFFF).sum())
            tally.add_amount(payer, Decimal(exact).scaleb(-2))
        for row in big.tolist():
            amount = result.amount(pid, row)
            if amount is not None:
                tally.add_amount(_payer(policy, places, row), amount)


def _by_payer(
    policy: PolicyFile, rows: np.ndarray[Any, Any], places: Mapping[str, Sequence[str | None]]
) -> dict[str | None, np.ndarray[Any, Any]]:
    if policy.payer is None or policy.payer.jurisdiction or not len(rows):
        return {payer_of(policy, _Place({}, 0))[1]: rows} if len(rows) else {}
    payers = [_payer(policy, places, row) for row in rows.tolist()]
    out: dict[str | None, list[int]] = {}
    for row, payer in zip(rows.tolist(), payers, strict=True):
        out.setdefault(payer, []).append(row)
    return {payer: np.asarray(found, dtype=np.intp) for payer, found in out.items()}


def _payer(policy: PolicyFile, places: Mapping[str, Sequence[str | None]], row: int) -> str | None:
    return payer_of(policy, _Place(places, row))[1]


class _Place:
    def __init__(self, places: Mapping[str, Sequence[str | None]], row: int) -> None:
        self._places, self._row = places, row

    def _at(self, level: str) -> str | None:
        column = self._places.get(level)
        return None if column is None else column[self._row]

    @property
    def province(self) -> str | None:
        return self._at("province")

    @property
    def city(self) -> str | None:
        return self._at("city")

    @property
    def district(self) -> str | None:
        return self._at("district")

    @property
    def park(self) -> str | None:
        return self._at("park")


def result_lines(
    run_id: str, policies: Sequence[PolicyFile], result: PopulationResult, ids: Sequence[str]
) -> list[tuple[str, str, str, str | None, str | None]]:
    """``(enterprise_id, policy_id, status, amount, missing_facts JSON)`` of every kept
    answer, by enterprise then policy (the order the per-row path stored)."""
    rows, which = [], []
    for k, policy in enumerate(policies):
        kept = np.flatnonzero(result.status(policy.id) != 0)
        rows.append(kept)
        which.append(np.full(len(kept), k, dtype=np.intp))
    if not rows:
        return []
    row = np.concatenate(rows)
    policy_at = np.concatenate(which)
    order = np.lexsort((policy_at, row))
    fens = {p.id: result.amount_fen(p.id) for p in policies}
    texts: dict[tuple[tuple[str, ...], tuple[str, ...]], str | None] = {}
    out = []
    for r, k in zip(row[order].tolist(), policy_at[order].tolist(), strict=True):
        pid = policies[k].id
        status = int(result.status(pid)[r])
        fen = int(fens[pid][r])
        if fen == -1:
            amount = None
        elif fen >= 0:
            amount = f"{fen // 100}.{fen % 100:02d}"
        else:
            value = result.amount(pid, r)
            amount = None if value is None else f"{value:f}"
        missing = None
        if status == _UNDETERMINED:
            key = (result.missing_facts(pid, r), result.findings_required(pid, r))
            if key not in texts:
                texts[key] = _missing_json(*key)
            missing = texts[key]
        out.append((ids[r], pid, _STATUS[status], amount, missing))
    return out


def _missing_json(paths: tuple[str, ...], findings: tuple[str, ...]) -> str | None:
    """As ``matching_runs._what_is_missing`` stores it."""
    if not (paths or findings):
        return None
    found: dict[str, list[str]] = {"paths": list(paths)}
    if findings:
        found["findings"] = list(findings)
    return json.dumps(found)
