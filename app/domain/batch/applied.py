"""Recognitions applied for on last year's accounts (``versions_by: application``).

Each row takes the version in force on its ``application_date`` (the latest to take
effect, as ``engine.select_version`` chooses), or without one the version in force in
the year of application. The rows of each version are evaluated by its plan on a
subset of the table, and the answers gathered into the policy's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from app.domain.batch.columns import Bools, day_number
from app.domain.batch.context import Context
from app.domain.batch.result import PolicyColumns

if TYPE_CHECKING:
    from app.domain.batch.plans import PolicyPlan

APPLIED = "application_date"


def by_application(
    plan: PolicyPlan,
    versions: Sequence[PolicyPlan],
    default: int,
    ctx: Context,
    col: PolicyColumns,
) -> Bools | None:
    """Fill ``col`` version by version; the rows in doubt, as ``engine.vectorised``."""
    from app.domain.batch.engine import vectorised

    applied = ctx.table.date_column(APPLIED)
    chosen = np.full(ctx.n, -1, dtype=np.int16)
    for i, part in enumerate(versions):
        assert part.version is not None
        effective = part.version.effective
        on = applied.known & (chosen == -1) & (applied.days >= day_number(effective.from_))
        if effective.to is not None:
            on &= applied.days <= day_number(effective.to)
        chosen[on] = i
    chosen[~applied.known] = default
    if default >= 0 and bool(np.all(chosen == default)):
        return vectorised(versions[default], ctx, col)  # one version: no subsets
    unsure = np.zeros(ctx.n, dtype=bool)
    pieces: list[tuple[np.ndarray, PolicyColumns]] = []
    for i, part in enumerate(versions):
        rows = np.flatnonzero(chosen == i)
        if not len(rows):
            continue
        sub = PolicyColumns.empty(plan.policy, col.version, len(rows))
        sub.index = col.index
        doubt = vectorised(part, ctx.subset(rows), sub)
        if doubt is not None:
            unsure[rows[doubt]] = True
        col.status[rows], col.basis[rows] = sub.status, sub.basis
        pieces.append((rows, sub))
        for row, keys in sub.findings_required.items():
            col.findings_required[int(rows[row])] = keys
    # Rows no version is in force for stay ineligible with no basis (zeros).
    if pieces:
        paid = np.concatenate([rows[sub.paid_rows] for rows, sub in pieces])
        order = np.argsort(paid, kind="stable")
        col.paid_rows = paid[order]
        col.paid_fen = np.concatenate([sub.paid_fen for _, sub in pieces])[order]
        asked = np.concatenate([rows[sub.missing_rows] for rows, sub in pieces])
        order = np.argsort(asked, kind="stable")
        col.missing_rows = asked[order]
        col.missing_bits = np.concatenate([sub.missing_bits for _, sub in pieces])[order]
    return unsure if unsure.any() else None
