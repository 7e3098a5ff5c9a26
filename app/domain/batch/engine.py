"""The population path: the catalog evaluated for every row of a ``ProfileTable``.

Same answers as ``app.domain.engine.evaluate_catalog`` row by row (status, amount in
fen, amount basis, missing facts), computed a clause at a time over whole columns.
Where the vectorised path cannot vouch for a row, that row is handed to the
per-profile engine, so correctness never depends on it being right there:

* rows with an award history (caps over years, once-per limits, top-ups against prior
  awards) or with reviewers' findings: the whole row, exclusivity included;
* a policy's rows whose arithmetic is ``unsure`` (a float within its error bound of a
  threshold or of half a fen, an integer that would overflow, a value with more
  decimals than a column keeps): that policy for that row, before exclusivity;
* a policy the compiler does not support (``Unsupported``): that policy for every
  row. The current catalog has none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from app.catalog.schema import PolicyFile
from app.domain.batch.applied import by_application
from app.domain.batch.columns import Bools, ProfileTable
from app.domain.batch.context import Bits, Context, PathIndex, Rows
from app.domain.batch.formulas import FormulaNode
from app.domain.batch.leaves import FINDING
from app.domain.batch.nodes import RuleNode
from app.domain.batch.numbers import Unsupported, either
from app.domain.batch.plans import PolicyPlan, compile_policy, required_columns
from app.domain.batch.result import BASES, PolicyColumns, PopulationResult
from app.domain.batch.settle import (
    ELIGIBLE,
    UNDETERMINED,
    settle_amounts,
    settle_groups,
)
from app.domain.engine import evaluate, evaluate_catalog
from app.domain.findings import NO_FINDINGS, Findings
from app.domain.results import PriorAward

__all__ = ["PolicyPlan", "compile_policy", "evaluate_population", "required_columns"]


#: Rows evaluated at a time: the working arrays of a slice stay small (about 40 MB for
#: the whole catalog), and a slice's columns stay in the processor's caches longer.
CHUNK_ROWS = 131_072


def evaluate_population(
    policies: Iterable[PolicyFile],
    table: ProfileTable,
    fiscal_year: int,
    histories: Mapping[int, Sequence[PriorAward]] | Sequence[Sequence[PriorAward]] | None = None,
    workers: int | None = None,
    findings: Mapping[int, Findings] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> PopulationResult:
    """Every policy's answer for every row, exclusivity groups settled.

    ``histories`` gives award histories by row (a mapping for the few rows that have
    one, or a sequence with one entry per row); rows with a non-empty history are
    evaluated by the per-profile engine. ``findings`` gives the reviewers' findings by
    row (for the rows that have some); those rows too are evaluated by the per-profile
    engine, with their findings.

    The rows are evaluated in slices of at most ``chunk_rows``, so the working memory
    is bounded by a slice, not the table: each slice's answers are copied into the
    result's preallocated arrays (a byte per row for status and basis) and its working
    arrays dropped. ``workers`` threads evaluate slices side by side, or the policies
    of a table that is one slice (numpy releases the GIL on whole-column operations);
    the default is one per available core.
    """
    policies = list(policies)
    fy = fiscal_year
    history = _histories(histories)
    found = {int(row): f for row, f in (findings or {}).items() if f}
    full = np.zeros(table.n, dtype=bool)
    full[list(history)] = True
    full[list(found)] = True
    plans = [compile_policy(p, fy) for p in policies]
    columns = {
        plan.policy.id: PolicyColumns.empty(
            plan.policy, plan.version.version if plan.version else None, table.n, plan.index
        )
        for plan in plans
    }
    unsupported: dict[str, str] = {}
    threads = max(1, workers or len(os.sched_getaffinity(0)))
    # Slices of equal size, as many as a multiple of the threads, none above
    # ``chunk_rows``. (A table of another kind, a ``RowsView``, is evaluated whole.)
    count = -(-table.n // max(1, chunk_rows)) if type(table) is ProfileTable else 1
    if threads > 1 and count > 1:
        count = -(-count // threads) * threads
    step = max(1, -(-table.n // max(1, count)))
    starts = range(0, table.n, step)

    def chunk(start: int) -> tuple[list[PolicyColumns], dict[str, str]]:
        part = table if len(starts) == 1 else table.rows_between(start, start + step)
        inner = threads if len(starts) == 1 else 1
        return _evaluate_chunk(plans, part, fy, full[start : start + step], inner)

    def take(start: int, outcome: tuple[list[PolicyColumns], dict[str, str]]) -> None:
        for part in outcome[0]:
            columns[part.policy_id].place(part, start)
        unsupported.update(outcome[1])

    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(min(threads, len(starts))) as pool:
            for start, outcome in zip(starts, pool.map(chunk, starts), strict=True):
                take(start, outcome)
    else:
        for start in starts:
            take(start, chunk(start))
    for col in columns.values():
        col.seal()
    full_rows = tuple(int(r) for r in np.flatnonzero(full))
    for row in full_rows:
        evaluations = evaluate_catalog(
            policies, table.profile(row), fy, history.get(row, ()), found.get(row, NO_FINDINGS)
        )
        for ev in evaluations:
            columns[ev.policy_id].write(row, ev)
    return PopulationResult(
        fy, policies, table, columns, history, full_rows, unsupported, findings=found
    )


def _evaluate_chunk(
    plans: Sequence[PolicyPlan], table: ProfileTable, fy: int, full: Bools, threads: int
) -> tuple[list[PolicyColumns], dict[str, str]]:
    """Every policy's answers for the rows of ``table`` but the ``full`` ones (which the
    caller settles whole, and to which rows with an amount beyond int64 are added)."""
    ctx = Context(table, fy)
    threads = min(threads, len(plans))
    if threads > 1:
        # Costly policies first, so that the threads finish together.
        order = sorted(plans, key=lambda p: -(p.eligibility.cost if p.eligibility else 0))
        with ThreadPoolExecutor(threads) as pool:
            done = dict(zip(order, pool.map(lambda p: _evaluate_plan(p, ctx), order), strict=True))
        outcomes = [done[plan] for plan in plans]
    else:
        outcomes = [_evaluate_plan(plan, ctx) for plan in plans]
    ctx.release()
    columns: dict[str, PolicyColumns] = {}
    unsupported: dict[str, str] = {}
    for plan, (col, unsure) in zip(plans, outcomes, strict=True):
        if plan.unsupported is not None or unsure is True:
            unsupported[plan.policy.id] = plan.unsupported or "unsupported at evaluation"
        rows: list[int] = []
        if unsure is True:
            rows = np.flatnonzero(~full).tolist()
        elif unsure is not None and unsure is not False:
            rows = np.flatnonzero(unsure & ~full).tolist()
        for row in rows:
            col.write(row, evaluate(plan.policy, table.profile(row), fy))
        col.fallback_rows = len(rows)
        columns[plan.policy.id] = col
    for col in columns.values():
        for row, value in col.written.items():
            if value is not None and value.scaleb(2) >= 2**63:
                full[row] = True  # an amount beyond int64 fen: settled whole by the caller
    _settle_exclusivity(plans, columns)
    return list(columns.values()), unsupported


def _histories(
    histories: Mapping[int, Sequence[PriorAward]] | Sequence[Sequence[PriorAward]] | None,
) -> dict[int, Sequence[PriorAward]]:
    if histories is None:
        return {}
    items = histories.items() if isinstance(histories, Mapping) else enumerate(histories)
    return {int(row): h for row, h in items if h}


def _evaluate_plan(plan: PolicyPlan, ctx: Context) -> tuple[PolicyColumns, Bools | bool | None]:
    """The policy's columns, and the rows (or ``True``: all) for the per-profile engine."""
    version = plan.version.version if plan.version else None
    col = PolicyColumns.empty(plan.policy, version, ctx.n)
    col.index = plan.index
    if plan.unsupported is not None:
        return col, True
    if plan.version is None and plan.by_application is None:
        return col, None
    try:
        if plan.by_application is not None:
            return col, by_application(plan, plan.by_application, plan.default_choice, ctx, col)
        if plan.eligibility is None or plan.formula is None:
            return col, True
        return col, _vectorised(plan, plan.eligibility, plan.formula, ctx, col)
    except Unsupported:
        # (Whatever was filled in is overwritten row by row by the per-profile engine.)
        return col, True


def vectorised(plan: PolicyPlan, ctx: Context, col: PolicyColumns) -> Bools | None:
    """The rows in doubt (for the per-profile engine) after filling ``col``."""
    assert plan.eligibility is not None and plan.formula is not None
    return _vectorised(plan, plan.eligibility, plan.formula, ctx, col)


def _vectorised(
    plan: PolicyPlan, eligibility: RuleNode, formula: FormulaNode, ctx: Context, col: PolicyColumns
) -> Bools | None:
    n = ctx.n
    rule = eligibility.truth(ctx)
    known, known_unsure = formula.known(ctx)
    ruled_out = np.ones(n, dtype=bool) if plan.limits_fail else rule.f
    settled = rule.t & known & ~ruled_out
    undetermined = ~ruled_out & ~settled
    unsure = either(rule.unsure, None if known_unsure is None else known_unsure & ~ruled_out)
    # (Products of masks, not ``np.where``: an order of magnitude faster on large arrays.)
    status = undetermined.view(np.int8) * np.int8(UNDETERMINED)
    reach = np.flatnonzero(settled)
    if len(reach):
        # The formula, only for the rows it decides: eligible or ineligible, and how much.
        result = formula.evaluate(ctx.subset(reach))
        payable = np.ones(len(reach), dtype=bool)
        if result.nothing_due is not None:
            payable &= ~result.nothing_due
        doubt = result.unsure
        if result.amount is not None:
            paid = payable if result.no_amount is None else payable & ~result.no_amount
            fen, spent, amount_doubt = settle_amounts(result.amount, plan.ceilings, len(reach))
            payable &= ~(paid & spent)
            paid &= ~spent
            col.paid_rows, col.paid_fen = reach[paid], fen[paid]
            doubt = either(doubt, None if amount_doubt is None else amount_doubt & paid)
        status[reach[payable]] = ELIGIBLE
        if doubt is not None and doubt.any():
            scattered = np.zeros(n, dtype=bool)
            scattered[reach[doubt]] = True
            unsure = either(unsure, scattered)
    col.status[:] = status
    col.basis[:] = (~ruled_out).view(np.int8) * np.int8(BASES.index(formula.basis))
    assert plan.index is not None
    rows = np.flatnonzero(undetermined if unsure is None else undetermined & ~unsure)
    col.missing_rows = rows
    if len(rows):
        bits = eligibility.missing(ctx, rows, plan.index, "not_false")
        col.missing_bits = bits | formula.missing(ctx, rows, plan.index)
        if plan.findings:
            _findings_apart(col, rows, bits, plan.index)
    return unsure


def _findings_apart(col: PolicyColumns, rows: Rows, bits: Bits, index: PathIndex) -> None:
    """Unknown findings out of the missing facts, into the findings a reviewer must
    record: the eligibility's only, as the per-profile engine lists them (a formula's
    options that wait on a finding name no finding)."""
    mask = index.dtype(0)
    for path in index.paths:
        if path.startswith(FINDING):
            mask |= index.bit(path)
    col.missing_bits &= ~mask
    found = bits & mask
    for pattern in np.unique(found[found != 0]).tolist():
        keys = tuple(name[len(FINDING) :] for name in index.names(pattern))
        for row in rows[found == pattern].tolist():
            col.findings_required[row] = keys


def _settle_exclusivity(plans: Sequence[PolicyPlan], columns: Mapping[str, PolicyColumns]) -> None:
    modes: dict[str, str] = {}
    groups: dict[str, list[PolicyColumns]] = {}
    for plan in plans:
        if plan.version is not None and plan.version.exclusivity is not None:
            modes[plan.version.exclusivity.group] = plan.version.exclusivity.mode
        if plan.group is not None:
            groups.setdefault(plan.group, []).append(columns[plan.policy.id])
    for group, members in groups.items():
        # Only rows where some member has an amount compete. (Rows with an amount beyond
        # int64 do not compete here: they are settled whole afterwards.)
        rows = members[0].amount_rows()
        for member in members[1:]:
            rows = np.union1d(rows, member.amount_rows())
        lost = settle_groups(
            [(m.policy_id, m.status[rows], m.amounts_at(rows)) for m in members],
            modes.get(group) == "top_up",
        )
        for member, mask in zip(members, lost, strict=True):
            member.exclude(rows[mask])
