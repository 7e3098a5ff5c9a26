"""A matching run's results straight from the batch engine's arrays.

No answer object per enterprise and policy: the rows to keep (eligible or
undetermined) are picked a policy at a time with numpy, ordered by enterprise as the
per-row path stored them, with their missing facts as the engine's codes
(``app.db.missing_codes``), and written column-wise. Totals per policy and payer are
summed over the arrays, in integer fen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from app.catalog.schema import PolicyFile
from app.db.missing_codes import code_of, missing_json, names_of
from app.db.repositories.result_rows import BIG_AMOUNT, NO_AMOUNT, ResultRows
from app.domain.batch import BASES, PopulationResult
from app.domain.batch.plans import compile_policy
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


def result_rows(
    policies: Sequence[PolicyFile], result: PopulationResult, ids: Sequence[str]
) -> ResultRows:
    """Every kept answer (eligible or undetermined) of the result, column-wise, by
    enterprise then policy (the order the per-row path stored).

    Built a policy at a time from its arrays: statuses, amounts in fen, and missing
    facts as the engine's bitmasks; only the rare rows the per-profile engine answered
    are looked at one by one."""
    parts = [_policy_rows(k, policy.id, result) for k, policy in enumerate(policies)]
    big: dict[int, str] = {}
    names: dict[int, dict[str, list[str]]] = {}
    if not parts:
        return _empty(ids, policies)
    columns = [np.concatenate(c) for c in zip(*(p[:6] for p in parts), strict=True)]
    enterprise, policy, status, fen, code, coded = columns
    order = np.lexsort((policy, enterprise))
    position = np.empty(len(order), dtype=np.intp)
    position[order] = np.arange(len(order))
    start = 0
    for part in parts:
        for at, text in part[6].items():
            big[int(position[start + at])] = text
        for at, found in part[7].items():
            names[int(position[start + at])] = found
        start += len(part[0])
    indexes = {p.id: result.columns[p.id].index for p in policies}
    return ResultRows(
        ids,
        [p.id for p in policies],
        enterprise[order],
        policy[order],
        status[order],
        fen[order],
        code[order],
        coded[order],
        big,
        names,
        {pid: index.paths for pid, index in indexes.items() if index is not None},
    )


def _policy_rows(
    k: int, pid: str, result: PopulationResult
) -> tuple[Any, Any, Any, Any, Any, Any, dict[int, str], dict[int, dict[str, list[str]]]]:
    """One policy's kept rows: (rows, policy, status, fen, code, coded), then the
    exact amounts beyond int64 and the names no code reproduces, by position."""
    column = result.columns[pid]
    kept = np.flatnonzero(column.status != 0)
    status = column.status[kept]
    fen = column.amounts_at(kept) if len(kept) else np.zeros(0, dtype=np.int64)
    code = np.zeros(len(kept), dtype=np.int64)
    coded = np.zeros(len(kept), dtype=bool)
    big: dict[int, str] = {}
    for at in np.flatnonzero(fen == BIG_AMOUNT).tolist():
        value = result.amount(pid, int(kept[at]))
        if value is None:
            fen[at] = NO_AMOUNT
        else:
            big[at] = f"{value:f}"
    names: dict[int, dict[str, list[str]]] = {}
    undetermined = np.flatnonzero(status == _UNDETERMINED)
    masks = column.missing_masks() if len(undetermined) else None
    index = column.index
    if index is not None and masks is not None:
        mask_rows, bits = masks
        rows = kept[undetermined]
        coded[undetermined] = True
        if len(mask_rows):
            found_at = np.minimum(np.searchsorted(mask_rows, rows), len(mask_rows) - 1)
            hit = mask_rows[found_at] == rows
            code[undetermined[hit]] = bits[found_at[hit]].astype(np.uint64).view(np.int64)
        _add_findings(
            (code, coded, names), undetermined, rows, column.findings_required, index.paths
        )
        # The rows the per-profile engine answered: their codes made, and kept only if
        # they read back as that engine's names.
        exact, required = column.exact_missing, column.findings_required
        for i in np.flatnonzero(np.isin(rows, list(exact))).tolist():
            r = int(rows[i])
            _code_or_names(
                (code, coded, names),
                int(undetermined[i]),
                index.paths,
                exact[r],
                required.get(r, ()),
            )
    else:
        for i in undetermined.tolist():
            r = int(kept[i])
            found = missing_json(result.missing_facts(pid, r), result.findings_required(pid, r))
            if found is not None:
                names[i] = found
    policy = np.full(len(kept), k, dtype=np.intp)
    return kept, policy, status, fen, code, coded, big, names


#: A policy's kept rows' codes, whether each has one, and the names of those without.
_Missing = tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], dict[int, dict[str, list[str]]]]


def _add_findings(
    missing: _Missing,
    undetermined: npt.NDArray[np.intp],
    rows: npt.NDArray[np.intp],
    required: Mapping[int, tuple[str, ...]],
    paths: Sequence[str],
) -> None:
    """The findings the undetermined ``rows`` wait for, added to their codes: one code
    per distinct set of findings (a policy waiting on one finding waits on it for
    most of its rows)."""
    by_findings: dict[tuple[str, ...], list[int]] = {}
    for row, findings in required.items():
        by_findings.setdefault(findings, []).append(row)
    for findings, found in by_findings.items():
        wanted = np.array(sorted(found), dtype=rows.dtype)
        at = np.minimum(np.searchsorted(rows, wanted), max(len(rows) - 1, 0))
        hit = rows[at] == wanted if len(rows) else np.zeros(len(wanted), dtype=bool)
        positions = undetermined[at[hit]]
        bits = code_of(paths, (), findings)
        if bits is not None:
            missing[0][positions] |= bits
            continue
        for position in positions.tolist():
            facts = names_of(int(missing[0][position]), paths)[0]
            _code_or_names(missing, position, paths, facts, findings)


def _code_or_names(
    missing: _Missing,
    position: int,
    paths: Sequence[str],
    facts: Sequence[str],
    findings: Sequence[str],
) -> None:
    """One answer's code, or its names if no code reads back as them."""
    code, coded, names = missing
    found_code = code_of(paths, facts, findings)
    coded[position] = found_code is not None
    if found_code is not None:
        code[position] = found_code
        return
    found = missing_json(facts, findings)
    if found is not None:
        names[position] = found


def answer_rows(
    policies: Sequence[PolicyFile],
    fiscal_year: int,
    ids: Sequence[str],
    answers: Sequence[Sequence[Answer]],
) -> ResultRows:
    """The kept answers of the per-row path, column-wise in the same order, their
    missing facts coded over each policy's paths where a code reproduces them."""
    indexes = {p.id: compile_policy(p, fiscal_year).index for p in policies}
    order = {p.id: k for k, p in enumerate(policies)}
    enterprise: list[int] = []
    policy: list[int] = []
    status: list[int] = []
    fen: list[int] = []
    code: list[int] = []
    coded: list[bool] = []
    big: dict[int, str] = {}
    names: dict[int, dict[str, list[str]]] = {}
    for e, row in enumerate(answers):
        for a in row:
            if a.status == "ineligible":
                continue
            at = len(status)
            enterprise.append(e)
            policy.append(order[a.policy_id])
            status.append(_STATUS.index(a.status))
            fen.append(_fen(a.amount, at, big))
            index = indexes[a.policy_id]
            found_code = None
            if a.status == "undetermined" and index is not None:
                found_code = code_of(index.paths, a.missing_facts, a.findings_required)
            code.append(0 if found_code is None else found_code)
            coded.append(found_code is not None)
            if found_code is None:
                found = missing_json(a.missing_facts, a.findings_required)
                if found is not None:
                    names[at] = found
    return ResultRows(
        ids,
        [p.id for p in policies],
        np.array(enterprise, dtype=np.intp),
        np.array(policy, dtype=np.intp),
        np.array(status, dtype=np.int8),
        np.array(fen, dtype=np.int64),
        np.array(code, dtype=np.int64),
        np.array(coded, dtype=bool),
        big,
        names,
        {pid: index.paths for pid, index in indexes.items() if index is not None},
    )


def _fen(amount: Decimal | None, at: int, big: dict[int, str]) -> int:
    if amount is None:
        return NO_AMOUNT
    fen = int(amount.scaleb(2))
    if fen < 2**63:
        return fen
    big[at] = f"{amount:f}"
    return BIG_AMOUNT


def _empty(ids: Sequence[str], policies: Sequence[PolicyFile]) -> ResultRows:
    none = np.zeros(0, dtype=np.intp)
    return ResultRows(
        ids,
        [p.id for p in policies],
        none,
        none,
        np.zeros(0, dtype=np.int8),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=bool),
    )
