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
import numpy.typing as npt

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
    answer, by enterprise then policy (the order the per-row path stored).

    Built a policy at a time from its columns (statuses, amounts in fen, missing facts
    as bitmasks resolved once per distinct mask), then put in order: a row costs a
    tuple, not a look-up per field."""
    texts: dict[tuple[tuple[str, ...], tuple[str, ...]], str | None] = {}
    rows, which, lines = [], [], []
    for k, policy in enumerate(policies):
        kept = np.flatnonzero(result.status(policy.id) != 0)
        rows.append(kept)
        which.append(np.full(len(kept), k, dtype=np.intp))
        lines.extend(_policy_lines(policy.id, result, kept, ids, texts))
    if not rows:
        return []
    order = np.lexsort((np.concatenate(which), np.concatenate(rows)))
    return [lines[i] for i in order.tolist()]


def _policy_lines(
    pid: str,
    result: PopulationResult,
    kept: npt.NDArray[np.intp],
    ids: Sequence[str],
    texts: dict[tuple[tuple[str, ...], tuple[str, ...]], str | None],
) -> list[tuple[str, str, str, str | None, str | None]]:
    column = result.columns[pid]
    statuses = result.status(pid)[kept].tolist()
    fens = result.amount_fen(pid)[kept].tolist()
    masks: list[int] | None = None
    found = column.missing_masks()
    if found is not None and column.index is not None:
        mask_rows, bits = found
        at = np.minimum(np.searchsorted(mask_rows, kept), max(len(mask_rows) - 1, 0))
        hit = mask_rows[at] == kept if len(mask_rows) else np.zeros(len(kept), dtype=bool)
        masks = np.where(hit, bits[at] if len(mask_rows) else 0, 0).tolist()
    names: dict[int, tuple[str, ...]] = {}
    findings, exact = column.findings_required, column.exact_missing
    out = []
    for i, r in enumerate(kept.tolist()):
        status, fen = statuses[i], fens[i]
        if fen == -1:
            amount = None
        elif fen >= 0:
            amount = f"{fen // 100}.{fen % 100:02d}"
        else:
            value = result.amount(pid, r)
            amount = None if value is None else f"{value:f}"
        missing = None
        if status == _UNDETERMINED:
            if masks is None or r in exact:  # the per-profile engine's own list
                paths = result.missing_facts(pid, r)
            else:
                mask = masks[i]
                paths = names.get(mask) or names.setdefault(mask, _names(column, mask))
            key = (paths, findings.get(r, ()))
            if key not in texts:
                texts[key] = _missing_json(*key)
            missing = texts[key]
        out.append((ids[r], pid, _STATUS[status], amount, missing))
    return out


def _names(column: Any, mask: int) -> tuple[str, ...]:
    """The paths of a mask (none for 0: an undetermined answer that names no fact)."""
    return column.index.names(mask) if mask else ()


def _missing_json(paths: tuple[str, ...], findings: tuple[str, ...]) -> str | None:
    """As ``matching_runs._what_is_missing`` stores it."""
    if not (paths or findings):
        return None
    found: dict[str, list[str]] = {"paths": list(paths)}
    if findings:
        found["findings"] = list(findings)
    return json.dumps(found)
