"""What a population evaluation answers: per policy, a status, an amount and a basis
per row as arrays, and missing facts on demand.

Arrays keep the answer for a million rows small (a byte for the status, eight for the
amount in fen); missing facts are kept as a bitmask over the policy's paths for the
undetermined rows, turned into the engine's sorted path tuples only when asked. Full
``Evaluation``s, with their bilingual reasons, come from the per-profile engine for
the rows one asks to explain: the same answer, with the explanation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from app.catalog.schema import PolicyFile
from app.domain.batch.columns import Ints, ProfileTable
from app.domain.batch.context import Bits, PathIndex, Rows
from app.domain.batch.settle import ELIGIBLE, NO_AMOUNT, UNDETERMINED
from app.domain.engine import evaluate_catalog
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.results import AmountBasis, Evaluation, PriorAward, Status

STATUSES: tuple[Status, ...] = ("ineligible", "eligible", "undetermined")
BASES: tuple[AmountBasis, ...] = ("none", "computed", "set_by_reviewer", "estimate")
#: Amount code of a row whose fen do not fit in int64 (see ``PolicyColumns.big``).
BIG_AMOUNT = -2


@dataclass(eq=False)
class PolicyColumns:
    """One policy's answers for every row.

    Amounts are sparse (few rows have one): the rows paid by the vectorised path with
    their fen, and the amounts the per-profile engine gave for rows it settled. The
    dense array (``amount``) is built when asked for.
    """

    policy_id: str
    version: str | None
    status: npt.NDArray[np.int8]
    basis: npt.NDArray[np.int8]
    index: PathIndex | None = None
    paid_rows: Rows = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    paid_fen: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Amounts the per-profile engine gave (they take precedence over ``paid_*``).
    written: dict[int, Decimal | None] = field(default_factory=dict)
    missing_rows: Rows = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    missing_bits: Bits = field(default_factory=lambda: np.zeros(0, dtype=np.uint8))
    #: Missing facts of rows the per-profile engine settled.
    exact_missing: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: Findings a reviewer must record, by row: only the per-profile engine reads
    #: findings, so every row that needs one was written by it.
    findings_required: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: Rows settled by the per-profile engine for this policy alone.
    fallback_rows: int = 0
    #: Sparse answers of slices not yet joined (see ``place``).
    pending: list[tuple[Ints, npt.NDArray[np.int64], Ints, Bits]] = field(
        default_factory=list, repr=False
    )

    @classmethod
    def empty(
        cls, policy: PolicyFile, version: str | None, n: int, index: PathIndex | None = None
    ) -> PolicyColumns:
        return cls(
            policy.id, version, np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int8), index
        )

    @property
    def amount(self) -> npt.NDArray[np.int64]:
        """Fen per row: -1 for no amount, -2 for one beyond int64 (see ``amount_of``)."""
        out = np.full(len(self.status), NO_AMOUNT, dtype=np.int64)
        out[self.paid_rows] = self.paid_fen
        for row, value in self.written.items():
            out[row] = _fen(value)
        return out

    def amounts_at(self, rows: Rows) -> npt.NDArray[np.int64]:
        """``amount`` at some sorted rows, without the dense array."""
        out = np.full(len(rows), NO_AMOUNT, dtype=np.int64)
        at = np.searchsorted(self.paid_rows, rows)
        inside = at < len(self.paid_rows)
        hit = np.zeros(len(rows), dtype=bool)
        hit[inside] = self.paid_rows[at[inside]] == rows[inside]
        out[hit] = self.paid_fen[at[hit]]
        for row, value in self.written.items():
            i = int(np.searchsorted(rows, row))
            if i < len(rows) and rows[i] == row:
                out[i] = _fen(value)
        return out

    def amount_rows(self) -> Rows:
        """Every row that may have an amount."""
        extra = np.fromiter(self.written, dtype=np.intp, count=len(self.written))
        return np.union1d(self.paid_rows, extra)

    def place(self, part: PolicyColumns, start: int) -> None:
        """Take the answers of a slice of rows beginning at ``start`` (slices in order).

        The dense arrays are copied into place at once; the sparse ones are kept until
        ``seal`` joins them, so no slice's working arrays outlive it.
        """
        stop = start + len(part.status)
        self.status[start:stop] = part.status
        self.basis[start:stop] = part.basis
        # Row numbers in four bytes where the table allows (half the size of ``intp``).
        rows = np.int32 if len(self.status) < 2**31 else np.intp
        self.pending.append(
            (
                (part.paid_rows + start).astype(rows),
                part.paid_fen,
                (part.missing_rows + start).astype(rows),
                part.missing_bits,
            )
        )
        self.written.update({start + row: v for row, v in part.written.items()})
        self.exact_missing.update({start + row: v for row, v in part.exact_missing.items()})
        required = part.findings_required
        self.findings_required.update({start + row: v for row, v in required.items()})
        self.fallback_rows += part.fallback_rows

    def seal(self) -> None:
        """Join the sparse answers of the slices ``place`` took (rows stay sorted)."""
        if not self.pending:
            return
        paid_rows, paid_fen, missing_rows, missing_bits = zip(*self.pending, strict=True)
        self.paid_rows = _joined(self.paid_rows, paid_rows)
        self.paid_fen = _joined(self.paid_fen, paid_fen)
        self.missing_rows = _joined(self.missing_rows, missing_rows)
        self.missing_bits = _joined(self.missing_bits, missing_bits)
        self.pending = []

    def write(self, row: int, ev: Evaluation) -> None:
        """Take the per-profile engine's answer for one row."""
        self.status[row] = STATUSES.index(ev.status)
        self.basis[row] = BASES.index(ev.amount_basis)
        self.written[row] = ev.amount
        self.exact_missing[row] = ev.missing_facts
        if ev.findings_required:
            self.findings_required[row] = ev.findings_required
        else:
            self.findings_required.pop(row, None)

    def exclude(self, rows: Rows) -> None:
        """Rows lost to a policy of the same exclusivity group: ineligible, no amount."""
        self.status[rows] = 0
        for row in rows.tolist():
            self.written[row] = None
            self.exact_missing.pop(row, None)
            self.findings_required.pop(row, None)

    def missing_facts(self, row: int) -> tuple[str, ...]:
        if row in self.exact_missing:
            return self.exact_missing[row]
        if self.index is None or self.status[row] != UNDETERMINED:
            return ()
        at = int(np.searchsorted(self.missing_rows, row))
        if at < len(self.missing_rows) and self.missing_rows[at] == row:
            return self.index.names(int(self.missing_bits[at]))
        return ()

    def missing_masks(self) -> tuple[Ints, Bits] | None:
        """Every row's missing facts as a bitmask over ``index.paths``, column-wise.

        The rows (sorted) whose answer names missing facts, and their masks, which
        ``index.names`` turns back into ``missing_facts``: a caller can store the codes
        and resolve names on read. ``None`` when the policy has no index (the
        per-profile engine answers it) or that engine named a path outside it.
        """
        if self.index is None:
            return None
        rows, bits = self.missing_rows, self.missing_bits
        keep = (self.status[rows] == UNDETERMINED) & (bits != 0)
        if self.exact_missing:
            keep &= ~np.isin(rows, list(self.exact_missing))
        rows, bits = rows[keep], bits[keep]
        exact = [(r, names) for r, names in self.exact_missing.items() if names]
        if exact:
            try:
                extra = [sum(1 << self.index.paths.index(p) for p in names) for _, names in exact]
            except ValueError:
                return None
            rows = np.concatenate([rows, np.array([r for r, _ in exact], dtype=rows.dtype)])
            bits = np.concatenate([bits, np.array(extra, dtype=self.index.dtype)])
            order = np.argsort(rows, kind="stable")
            rows, bits = rows[order], bits[order]
        return rows, bits

    def amount_of(self, row: int) -> Decimal | None:
        if row in self.written:
            return self.written[row]
        fen = int(self.amounts_at(np.array([row], dtype=np.intp))[0])
        return None if fen == NO_AMOUNT else Decimal(fen).scaleb(-2)

    def total(self) -> Decimal:
        """Sum of the eligible rows' amounts, in yuan."""
        fen = self.paid_fen[self.status[self.paid_rows] == ELIGIBLE]
        if self.written:
            fen = fen[
                ~np.isin(
                    self.paid_rows[self.status[self.paid_rows] == ELIGIBLE], list(self.written)
                )
            ]
        # Summed as two 32-bit halves: a million amounts cannot overflow either sum.
        exact = (int((fen >> 32).sum()) << 32) + int((fen & 0xFFFFFFFF).sum())
        extra = sum(
            (v for r, v in self.written.items() if v is not None and self.status[r] == ELIGIBLE),
            Decimal(0),
        )
        return Decimal(exact).scaleb(-2) + extra


def _joined(first: Any, rest: Sequence[Any]) -> Any:
    """The non-empty arrays end to end, in their own type (``first`` if none)."""
    arrays = [a for a in (first, *rest) if len(a)]
    return np.concatenate(arrays) if arrays else first


def _fen(value: Decimal | None) -> int:
    if value is None:
        return NO_AMOUNT
    fen = int(value.scaleb(2))
    return fen if fen < 2**63 else BIG_AMOUNT


@dataclass(frozen=True)
class Totals:
    eligible: int
    undetermined: int
    #: Sum of the eligible rows' amounts (those with one), in yuan.
    amount: Decimal


@dataclass(eq=False)
class PopulationResult:
    fiscal_year: int
    policies: Sequence[PolicyFile]
    table: ProfileTable
    columns: Mapping[str, PolicyColumns]
    histories: Mapping[int, Sequence[PriorAward]]
    #: Rows the per-profile engine settled whole (award history, oversize amounts).
    full_rows: tuple[int, ...] = ()
    #: Why a policy is evaluated by the per-profile engine for every row, if it is.
    unsupported: Mapping[str, str] = field(default_factory=dict)
    #: The reviewers' findings of the rows that have some (settled whole, like histories).
    findings: Mapping[int, Findings] = field(default_factory=dict)

    def status(self, policy_id: str) -> npt.NDArray[np.int8]:
        """0 ineligible, 1 eligible, 2 undetermined (``STATUSES``), per row."""
        return self.columns[policy_id].status

    def amount_fen(self, policy_id: str) -> npt.NDArray[np.int64]:
        """The amount in fen per row; -1 where there is none (-2: see ``amount``)."""
        return self.columns[policy_id].amount

    def status_of(self, policy_id: str, row: int) -> Status:
        return STATUSES[int(self.columns[policy_id].status[row])]

    def amount(self, policy_id: str, row: int) -> Decimal | None:
        return self.columns[policy_id].amount_of(row)

    def basis(self, policy_id: str, row: int) -> AmountBasis:
        return BASES[int(self.columns[policy_id].basis[row])]

    def findings_required(self, policy_id: str, row: int) -> tuple[str, ...]:
        """The findings an undetermined answer waits for, as ``Evaluation.findings_required``."""
        return self.columns[policy_id].findings_required.get(row, ())

    def missing_facts(self, policy_id: str, row: int) -> tuple[str, ...]:
        """What would settle an undetermined answer, as ``Evaluation.missing_facts``."""
        return self.columns[policy_id].missing_facts(row)

    def explain(self, row: int) -> list[Evaluation]:
        """Full evaluations with reasons for one row, from the per-profile engine."""
        history = self.histories.get(row, ())
        return evaluate_catalog(
            self.policies,
            self.table.profile(row),
            self.fiscal_year,
            history,
            self.findings.get(row, NO_FINDINGS),
        )

    def totals(self) -> dict[str, Totals]:
        return {
            policy_id: Totals(
                int(np.count_nonzero(col.status == ELIGIBLE)),
                int(np.count_nonzero(col.status == UNDETERMINED)),
                col.total(),
            )
            for policy_id, col in self.columns.items()
        }

    def fallback_counts(self) -> dict[str, int]:
        """Rows each policy left to the per-profile engine (besides ``full_rows``)."""
        return {policy_id: col.fallback_rows for policy_id, col in self.columns.items()}
