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

import numpy as np
import numpy.typing as npt

from app.catalog.schema import PolicyFile
from app.domain.batch.columns import ProfileTable
from app.domain.batch.context import Bits, PathIndex, Rows
from app.domain.batch.settle import ELIGIBLE, NO_AMOUNT, UNDETERMINED
from app.domain.engine import evaluate_catalog
from app.domain.results import AmountBasis, Evaluation, PriorAward, Status

STATUSES: tuple[Status, ...] = ("ineligible", "eligible", "undetermined")
BASES: tuple[AmountBasis, ...] = ("none", "computed", "set_by_reviewer", "estimate")
#: Amount code of a row whose fen do not fit in int64 (see ``PolicyColumns.big``).
BIG_AMOUNT = -2


@dataclass(eq=False)
class PolicyColumns:
    """One policy's answers for every row."""

    policy_id: str
    version: str | None
    status: npt.NDArray[np.int8]
    amount: npt.NDArray[np.int64]
    basis: npt.NDArray[np.int8]
    index: PathIndex | None = None
    missing_rows: Rows = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    missing_bits: Bits = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    #: Missing facts of rows the per-profile engine settled.
    exact_missing: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: Amounts too large for int64 fen.
    big: dict[int, Decimal] = field(default_factory=dict)
    #: Rows settled by the per-profile engine for this policy alone.
    fallback_rows: int = 0

    @classmethod
    def empty(cls, policy: PolicyFile, version: str | None, n: int) -> PolicyColumns:
        return cls(
            policy.id,
            version,
            np.zeros(n, dtype=np.int8),
            np.full(n, NO_AMOUNT, dtype=np.int64),
            np.zeros(n, dtype=np.int8),
        )

    def write(self, row: int, ev: Evaluation) -> None:
        """Take the per-profile engine's answer for one row."""
        self.status[row] = STATUSES.index(ev.status)
        self.basis[row] = BASES.index(ev.amount_basis)
        self.big.pop(row, None)
        if ev.amount is None:
            self.amount[row] = NO_AMOUNT
        else:
            fen = int(ev.amount.scaleb(2))
            if fen < 2**63:
                self.amount[row] = fen
            else:
                self.amount[row], self.big[row] = BIG_AMOUNT, ev.amount
        self.exact_missing[row] = ev.missing_facts

    def exclude(self, rows: npt.NDArray[np.bool_]) -> None:
        """Rows lost to a policy of the same exclusivity group: ineligible, no amount."""
        self.status[rows] = 0
        self.amount[rows] = NO_AMOUNT
        for row in np.flatnonzero(rows):
            self.exact_missing.pop(int(row), None)

    def missing_facts(self, row: int) -> tuple[str, ...]:
        if row in self.exact_missing:
            return self.exact_missing[row]
        if self.index is None or self.status[row] != UNDETERMINED:
            return ()
        at = int(np.searchsorted(self.missing_rows, row))
        if at < len(self.missing_rows) and self.missing_rows[at] == row:
            return self.index.names(int(self.missing_bits[at]))
        return ()

    def amount_of(self, row: int) -> Decimal | None:
        fen = int(self.amount[row])
        if fen == BIG_AMOUNT:
            return self.big[row]
        return None if fen == NO_AMOUNT else Decimal(fen).scaleb(-2)


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

    def missing_facts(self, policy_id: str, row: int) -> tuple[str, ...]:
        """What would settle an undetermined answer, as ``Evaluation.missing_facts``."""
        return self.columns[policy_id].missing_facts(row)

    def explain(self, row: int) -> list[Evaluation]:
        """Full evaluations with reasons for one row, from the per-profile engine."""
        history = self.histories.get(row, ())
        return evaluate_catalog(self.policies, self.table.profile(row), self.fiscal_year, history)

    def totals(self) -> dict[str, Totals]:
        out = {}
        for policy_id, col in self.columns.items():
            paid = col.status == ELIGIBLE
            fen = col.amount[paid]
            fen = fen[fen >= 0]
            # Summed as two 32-bit halves: a million amounts cannot overflow either sum.
            exact = (int((fen >> 32).sum()) << 32) + int((fen & 0xFFFFFFFF).sum())
            total = Decimal(exact).scaleb(-2) + sum(col.big.values(), Decimal(0))
            out[policy_id] = Totals(int(paid.sum()), int((col.status == UNDETERMINED).sum()), total)
        return out

    def fallback_counts(self) -> dict[str, int]:
        """Rows each policy left to the per-profile engine (besides ``full_rows``)."""
        return {policy_id: col.fallback_rows for policy_id, col in self.columns.items()}
